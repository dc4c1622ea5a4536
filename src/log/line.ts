// How one log line is written, for the plugin and the daemons alike: `text` (Whereabouts' line,
// `<RFC3339 time> [<level>] <message>`) or `json` (one object per line: time, level, msg, then
// the fields). Values come from requests (pod names, container ids), so every line stays one line
// whatever they hold: text escapes control characters (oneLine), JSON escapes what JSON.stringify
// leaves raw but a terminal or a line splitter would act on (C1 controls, U+2028/U+2029).
import { LOG_FORMATS, type LogFormat } from "../config/types.ts";
import { MAX_MESSAGE_CHARS, shorten } from "../errors/message.ts";

/** Fields by name: strings for the plugin; the daemons also log numbers, lists and small objects. */
export type LogFields = Readonly<Record<string, unknown>>;

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

/** Whereabouts' timestamp: RFC 3339 to the second, UTC. */
function textTime(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A field as `key=value`: bare when it is one plain word, JSON-quoted otherwise. */
function textField(key: string, value: unknown): string {
  if (typeof value === "string")
    return `${key}=${/^[^\s"=\\]+$/.test(value) ? value : JSON.stringify(value)}`;
  if (typeof value === "number" || typeof value === "boolean") return `${key}=${value}`;
  return `${key}=${JSON.stringify(value)}`;
}

/**
 * `<time> [<level>] <message>`, then ` key=value` per field when `fields` are given (the daemons:
 * their messages are short and the facts are in fields; the plugin's messages already say them).
 */
export function textLine(at: Date, level: string, message: string, fields?: LogFields): string {
  const extra =
    fields === undefined
      ? ""
      : Object.entries(fields)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => ` ${textField(k, v)}`)
          .join("");
  return `${oneLine(`${textTime(at)} [${level}] ${message}${extra}`)}\n`;
}

// What JSON.stringify leaves unescaped but must not reach a terminal or split a line.
const RAW_IN_JSON = /[\u007f-\u009f\u2028\u2029]/g;

/** A string value cut at 4 KiB, as a text line is; other values as they are. */
function bounded(value: unknown): unknown {
  return typeof value === "string" ? shorten(value, MAX_MESSAGE_CHARS) : value;
}

/** `{"time","level","msg",…fields}` on one line; undefined fields are left out. */
export function jsonLine(at: Date, level: string, message: string, fields: LogFields = {}): string {
  const record: Record<string, unknown> = { time: at.toISOString(), level, msg: bounded(message) };
  for (const [key, value] of Object.entries(fields)) {
    if (key !== "time" && key !== "level" && key !== "msg") record[key] = bounded(value);
  }
  const text = JSON.stringify(record).replace(
    RAW_IN_JSON,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return `${text}\n`;
}

/** The line in `format`; text shows fields only when `textFields` (see textLine). */
export function formatLine(
  format: LogFormat,
  at: Date,
  level: string,
  message: string,
  fields: LogFields,
  textFields: boolean,
): string {
  return format === "json"
    ? jsonLine(at, level, message, fields)
    : textLine(at, level, message, textFields ? fields : undefined);
}

/** A daemon's log (controller, agent): a level, a short message, and the facts as fields. */
export type DaemonLog = (level: "info" | "error", msg: string, fields?: LogFields) => void;

/** A DaemonLog writing `format` lines with `write` (the daemons: stderr). */
export function daemonLog(
  format: LogFormat,
  write: (line: string) => void,
  now: () => Date = () => new Date(),
): DaemonLog {
  return (level, msg, fields = {}) => write(formatLine(format, now(), level, msg, fields, true));
}

/** The daemons' `--log-format text|json` (the plugin's is the ipam key log_format). */
export function logFormatFlag(text: string | undefined, fallback: LogFormat): LogFormat {
  if (text === undefined) return fallback;
  const format = LOG_FORMATS.find((f) => f === text);
  if (format === undefined)
    throw new Error(`--log-format ${JSON.stringify(text.slice(0, 100))}: expected text or json`);
  return format;
}
