// Plugin logging: stderr (runtimes show it when a call fails) and, when configured, an
// append-only log_file. Line format as Whereabouts: `<RFC3339 time> [<level>] <message>`.
// Messages carry values from the request (pod names, ids), so every line is made one line:
// control characters are escaped, and a pod named "x\n<time> [error] …" cannot forge a line.
import { closeSync, constants, openSync, writeSync } from "node:fs";
import type { LogLevel } from "../config/types.ts";
import { MAX_MESSAGE_CHARS, shorten } from "../errors/message.ts";

export interface Logger {
  debug(message: string): void;
  verbose(message: string): void;
  error(message: string): void;
}

const RANK: Record<LogLevel, number> = { debug: 0, verbose: 1, error: 2, panic: 3 };

export interface LogSinks {
  stderr(line: string): void;
  file?: string;
}

// C0 and C1 controls, DEL, and the Unicode line and paragraph separators: whatever a reader of the
// log might take for a line break or a terminal command.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** `text` as one log line's worth: control characters escaped (`\n`, `\x1b`), at most 4 KiB. */
export function oneLine(text: string): string {
  const escaped = text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    return code > 0xff
      ? `\\u${code.toString(16).padStart(4, "0")}`
      : `\\x${code.toString(16).padStart(2, "0")}`;
  });
  return shorten(escaped, MAX_MESSAGE_CHARS);
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

export function createLogger(level: LogLevel, sinks: LogSinks, now: () => Date = () => new Date()): Logger {
  const emit = (at: LogLevel, message: string) => {
    if (RANK[at] < RANK[level]) return;
    const line = `${now()
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z")} [${at}] ${oneLine(message)}\n`;
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
    debug: (m) => emit("debug", m),
    verbose: (m) => emit("verbose", m),
    error: (m) => emit("error", m),
  };
}

export const silentLogger: Logger = { debug: () => {}, verbose: () => {}, error: () => {} };
