// Plugin logging: stderr (runtimes show it when a call fails) and, when configured, an
// append-only log_file. Line format as Whereabouts: `<RFC3339 time> [<level>] <message>`.
import { appendFileSync } from "node:fs";
import type { LogLevel } from "../config/types.ts";

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

export function createLogger(level: LogLevel, sinks: LogSinks, now: () => Date = () => new Date()): Logger {
  const emit = (at: LogLevel, message: string) => {
    if (RANK[at] < RANK[level]) return;
    const line = `${now()
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z")} [${at}] ${message}\n`;
    sinks.stderr(line);
    if (sinks.file !== undefined && sinks.file !== "") {
      try {
        appendFileSync(sinks.file, line, { mode: 0o644 });
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
