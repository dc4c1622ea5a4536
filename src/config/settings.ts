// Scalar settings with a closed set of values: log_level and log_format.
import { ConfigError } from "../errors/errors.ts";
import { quote } from "../errors/message.ts";
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "./types.ts";

/** Case-insensitive; default debug. Go only warns on an unknown level; we reject it. */
export function parseLogLevel(text: string | undefined): LogLevel {
  if (text === undefined) return "debug";
  const lower = text.toLowerCase();
  const level = LOG_LEVELS.find((l) => l === lower);
  if (level === undefined) {
    throw new ConfigError(`invalid log_level ${quote(text)}: expected one of ${LOG_LEVELS.join(", ")}`);
  }
  return level;
}

/** Case-insensitive, as log_level; default text (Whereabouts' lines). */
export function parseLogFormat(text: string | undefined): LogFormat {
  if (text === undefined) return "text";
  const lower = text.toLowerCase();
  const format = LOG_FORMATS.find((f) => f === lower);
  if (format === undefined) {
    throw new ConfigError(`invalid log_format ${quote(text)}: expected one of ${LOG_FORMATS.join(", ")}`);
  }
  return format;
}
