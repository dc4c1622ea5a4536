// Defence in depth for a plugin working alone. Every verb carries its own deadline (store calls
// and retries are bounded, files a configuration names are read without blocking); should a call
// still run well past it (a bug, a stalled kernel read), the process reports "try again later"
// (code 11) and exits, instead of holding up the runtime's sandbox setup for ever.
import { CNI_CODES, CniError } from "../errors/errors.ts";
import { ADD_TIMEOUT_MS, DEL_TIMEOUT_MS } from "./plugin.ts";
import { formatError } from "./result.ts";
import { failureLine, type PluginIO } from "./skel.ts";

/** Time past a verb's own deadline before the watchdog steps in. */
export const WATCHDOG_MARGIN_MS = 5_000;

/** ADD 65 s, every other verb 35 s. */
export function watchdogMs(command: string): number {
  return (command === "ADD" ? ADD_TIMEOUT_MS : DEL_TIMEOUT_MS) + WATCHDOG_MARGIN_MS;
}

/**
 * Arms the watchdog for one call; returns the function that disarms it. When it fires it writes
 * the error JSON and a log line, then calls `exit(1)`. The timer keeps the process alive on
 * purpose: a call stuck on a promise that nothing will ever settle must not end as a silent exit 0.
 */
export function startWatchdog(
  command: string,
  io: Pick<PluginIO, "stdout" | "stderr">,
  exit: (code: number) => void,
  ms = watchdogMs(command),
): () => void {
  const timer = setTimeout(() => {
    const error = new CniError(
      CNI_CODES.tryAgainLater,
      `CNI ${command} did not finish within ${ms} ms; the plugin gave up`,
    );
    try {
      io.stdout(formatError(error));
      io.stderr(`${failureLine(command, error)}\n`);
    } finally {
      exit(1);
    }
  }, ms);
  return () => clearTimeout(timer);
}
