// Multus' logging for one call: `logLevel` (panic, the default, prints nothing a call does;
// error, verbose, debug each add more), lines appended to `logFile` and, unless `logToStderr` is
// false, written to stderr. The line format and the file handling are the plugin's own (src/log):
// Multus' and Whereabouts' lines are alike (`<RFC 3339 time> [<level>] <message>`).
import type { PluginIO } from "../cni/skel.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import type { MultusConf } from "./config.ts";

export function callLogger(conf: MultusConf, io: PluginIO): Logger {
  if (conf.unknownLogLevel !== undefined) {
    // Multus' own words; its level then stays where it was (panic).
    io.stderr(`multus logging: cannot set logging level to ${conf.unknownLogLevel}\n`);
  }
  const stderr = conf.logToStderr ? (line: string) => io.stderr(line) : () => {};
  return createLogger(conf.logLevel, { stderr, file: conf.logFile });
}
