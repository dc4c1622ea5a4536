// Plugin logging: stderr (runtimes show it when a call fails) and, when configured, an
// append-only log_file. Lines in the configured log_format (line.ts): Whereabouts'
// `<RFC3339 time> [<level>] <message>`, or one JSON object per line whose fields name the pod,
// container, interface, pool and address where known, so a log pipeline can filter on them.
import { closeSync, constants, openSync, writeSync } from "node:fs";
import type { LogFormat, LogLevel } from "../config/types.ts";
import { formatLine, type LogFields } from "./line.ts";

export { type LogFields, oneLine } from "./line.ts";

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  verbose(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const RANK: Record<LogLevel, number> = { debug: 0, verbose: 1, error: 2, panic: 3 };

export interface LogSinks {
  stderr(line: string): void;
  file?: string;
}

export interface LoggerOptions {
  /** text (default) or json. */
  readonly format?: LogFormat;
  /** Fields of every line (json): what the call is for — its pod, container and interface. */
  readonly fields?: LogFields;
  readonly now?: () => Date;
}

/**
 * Appends to the log file. O_NOFOLLOW: a symlink planted at the log path is not followed to a file
 * it points at (the plugin runs as root); O_NONBLOCK: a FIFO there never stalls the call.
 */
function appendToFile(path: string, line: string): void {
  const fd = openSync(
    path,
    constants.O_WRONLY |
      constants.O_APPEND |
      constants.O_CREAT |
      constants.O_NOFOLLOW |
      constants.O_NONBLOCK |
      constants.O_NOCTTY,
    0o600,
  );
  try {
    writeSync(fd, line);
  } finally {
    closeSync(fd);
  }
}

export function createLogger(level: LogLevel, sinks: LogSinks, options: LoggerOptions = {}): Logger {
  const format = options.format ?? "text";
  const now = options.now ?? (() => new Date());
  const emit = (at: LogLevel, message: string, fields?: LogFields) => {
    if (RANK[at] < RANK[level]) return;
    // The text line stays Whereabouts' own: its messages already name pod, pool and address.
    const line = formatLine(format, now(), at, message, { ...options.fields, ...fields }, false);
    sinks.stderr(line);
    if (sinks.file !== undefined && sinks.file !== "") {
      try {
        appendToFile(sinks.file, line);
      } catch {
        // A broken log file must never fail an ADD or DEL; stderr still has the line.
      }
    }
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    verbose: (m, f) => emit("verbose", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

export const silentLogger: Logger = { debug: () => {}, verbose: () => {}, error: () => {} };
