// Scalar settings with a closed set of values: log_level, log_format and node_slice_size.
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

/**
 * `"/N"` or `"N"` with N a prefix length 1-128, or unset. A valid size is still refused: node
 * slices (Fast IPAM) are not implemented yet, and ignoring the key would allocate from the
 * whole-range pool while Go Whereabouts nodes allocate from their slice pools of the same range,
 * so one address could be handed out twice. A refusal is visible; the operator keeps Go
 * Whereabouts for such a network until slices land (docs/upgrade.md).
 */
export function checkNodeSliceSize(text: string | undefined): void {
  if (text === undefined) return;
  const match = /^\/?([0-9]{1,3})$/.exec(text);
  const size = match === null ? Number.NaN : Number(match[1]);
  if (!(size >= 1 && size <= 128)) {
    throw new ConfigError(
      `invalid node_slice_size ${quote(text)}: expected a prefix length such as "/26" or "26" (1 to 128)`,
    );
  }
  throw new ConfigError(
    `node_slice_size ${quote(text)}: node slices (Fast IPAM) are not supported yet`,
    "thereabouts would allocate from the whole range while Go Whereabouts nodes allocate from their slices; keep Go Whereabouts for this network, or remove node_slice_size from it (and from whereabouts.conf)",
  );
}
