// How operator tools print. `-o table` (default) is for people: tables that fit the terminal
// (80 columns when stdout is not one), long cells cut with an ellipsis, never wrapped, colour only
// on a terminal and never when NO_COLOR is set to anything (https://no-color.org). `-o json` and
// `-o yaml` are for programs: the same records, stable field names, big counts as decimal strings
// (an IPv6 range holds more addresses than a JSON number keeps exactly). Progress of long
// operations goes to stderr, on a terminal only, so pipes and logs get nothing but the result.
// Stored text (pod names, keys) may hold control characters: everything shown in a table or a
// line is made printable first, so a pool entry cannot drive the operator's terminal.
import { dump } from "js-yaml";
import { UsageError } from "./usage-error.ts";

export const OUTPUT_FORMATS = ["table", "json", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The -o flag, as a parseArgs option: spread it into a command's own. */
export const OUTPUT_OPTION = { output: { type: "string", short: "o", default: "table" } } as const;

/** The -o flag's lines for the --help of a command that prints tables (show, check). */
export const OUTPUT_USAGE = `Output:
  -o, --output FORMAT  table (default; fits the terminal, 80 columns when not
                       on one; colour only on a terminal without NO_COLOR),
                       json or yaml (docs/tools.md names the fields)`;

export function parseFormat(text: string | undefined): OutputFormat {
  const format = text ?? "table";
  if ((OUTPUT_FORMATS as readonly string[]).includes(format)) return format as OutputFormat;
  throw new UsageError(`-o ${JSON.stringify(format)}: the output format is one of table, json, yaml`);
}

/** What a stream is, for the decisions below (process.stdout and process.stderr are). */
export interface Terminal {
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Colour only on a terminal, and not when NO_COLOR is set to a non-empty value. */
export function colourEnabled(stream: Terminal, env: NodeJS.ProcessEnv): boolean {
  const noColour = env["NO_COLOR"];
  return stream.isTTY === true && (noColour === undefined || noColour === "");
}

/** The width tables must fit: the terminal's, else 80 columns. */
export function tableWidth(stream: Terminal): number {
  return stream.isTTY === true && stream.columns !== undefined && stream.columns > 0 ? stream.columns : 80;
}

/** Everything a tool prints on a table needs to know. */
export interface Look {
  readonly width: number;
  readonly colour: boolean;
}

/** The look for output written to `stream` (stdout). */
export function lookOf(stream: Terminal, env: NodeJS.ProcessEnv): Look {
  return { width: tableWidth(stream), colour: colourEnabled(stream, env) };
}

export type Style = "red" | "yellow" | "green" | "dim" | "bold";

const SGR: Readonly<Record<Style, string>> = { red: "31", yellow: "33", green: "32", dim: "2", bold: "1" };

/** `text` in `style` when colour is on. */
export function paint(text: string, style: Style | undefined, colour: boolean): string {
  return colour && style !== undefined && text !== "" ? `\x1b[${SGR[style]}m${text}\x1b[0m` : text;
}

/** Control characters (C0, DEL, C1) shown as \xNN, so stored text cannot move the cursor or recolour. */
export function printable(text: string): string {
  return text.replace(
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** Characters as a terminal counts them (code points; our texts have no wide or combining ones). */
function lengthOf(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** `text` cut to `width` columns, the last one an ellipsis when anything was cut. */
export function truncate(text: string, width: number): string {
  if (lengthOf(text) <= width) return text;
  if (width <= 0) return "";
  return `${[...text].slice(0, width - 1).join("")}…`;
}

export interface Column {
  readonly header: string;
  readonly align?: "left" | "right";
  /**
   * Which columns give up width first when the table is too wide: higher first (default 1);
   * 0 only when nothing else can. Names shrink before addresses and numbers.
   */
  readonly shrink?: number;
}

/** A cell: its text, and optionally a style (applied after fitting, so escapes take no width). */
export type Cell = string | { readonly text: string; readonly style?: Style | undefined };

const GAP = 2;
/** A column never shrinks below this (or its natural width when smaller). */
const MIN_WIDTH = 3;

/** Column widths that fit `width`: the widest column of the highest shrink priority gives first. */
export function fitColumns(columns: readonly Column[], natural: readonly number[], width: number): number[] {
  const widths = [...natural];
  let excess = widths.reduce((a, b) => a + b, 0) + GAP * Math.max(0, widths.length - 1) - width;
  while (excess > 0) {
    let pick = -1;
    for (let i = 0; i < widths.length; i++) {
      if (widths[i]! <= Math.min(natural[i]!, MIN_WIDTH)) continue;
      if (pick < 0) {
        pick = i;
        continue;
      }
      const [p, q] = [columns[i]!.shrink ?? 1, columns[pick]!.shrink ?? 1];
      if (p > q || (p === q && widths[i]! > widths[pick]!)) pick = i;
    }
    if (pick < 0) break; // nothing left to give: the table is as narrow as it gets
    widths[pick]!--;
    excess--;
  }
  return widths;
}

/**
 * A table: a header row and the rows, columns two spaces apart, fitted to `look.width`, no
 * trailing spaces. Cells are made printable, then cut with an ellipsis where needed.
 */
export function renderTable(
  columns: readonly Column[],
  rows: readonly (readonly Cell[])[],
  look: Look,
): string {
  const cells = rows.map((row) => columns.map((_, i) => cellOf(row[i] ?? "")));
  const natural = columns.map((c, i) =>
    Math.max(lengthOf(c.header), ...cells.map((row) => lengthOf(row[i]!.text))),
  );
  const widths = fitColumns(columns, natural, look.width);
  const line = (row: readonly { text: string; style?: Style | undefined }[]) =>
    row
      .map((cell, i) => {
        const text = truncate(cell.text, widths[i]!);
        const pad = " ".repeat(widths[i]! - lengthOf(text));
        const last = i === row.length - 1;
        const shown = paint(text, cell.style, look.colour);
        return columns[i]!.align === "right" ? pad + shown : last ? shown : shown + pad;
      })
      .join(" ".repeat(GAP))
      .trimEnd();
  const header = line(columns.map((c) => ({ text: c.header, style: "bold" as const })));
  return `${[header, ...cells.map(line)].join("\n")}\n`;
}

function cellOf(cell: Cell): { text: string; style?: Style | undefined } {
  return typeof cell === "string"
    ? { text: printable(cell) }
    : { text: printable(cell.text), style: cell.style };
}

/** Width of the utilisation bar's gauge (between the brackets). */
const BAR_CELLS = 10;

/** used/size in tenths of a percent, rounded down (a pool shows 100 % only when full). */
function permille(used: bigint, size: bigint): bigint {
  if (size <= 0n) return used > 0n ? 1000n : 0n;
  const p = (used * 1000n) / size;
  return p > 1000n ? 1000n : p;
}

/** Percentage of `size` that `used` is, one decimal, rounded down (a number: for json/yaml too). */
export function utilisation(used: number | bigint, size: bigint): number {
  return Number(permille(BigInt(used), size)) / 10;
}

/**
 * `[####------]  40%`: a gauge of BAR_CELLS cells (any entry fills at least one) and the
 * percentage ("<1%" for a few entries in a large range); green below 70 %, yellow below 90 %, red
 * from there (in colour only).
 */
export function utilisationBar(used: number | bigint, size: bigint): { text: string; style: Style } {
  const held = BigInt(used);
  const p = permille(held, size);
  const cells = BigInt(BAR_CELLS);
  const filled = size <= 0n ? (held > 0n ? BAR_CELLS : 0) : Number((held * cells + size - 1n) / size);
  const shown = Math.min(filled, BAR_CELLS);
  const gauge = `[${"#".repeat(shown)}${"-".repeat(BAR_CELLS - shown)}]`;
  const percent = p < 10n && held > 0n ? "<1%" : `${p / 10n}%`;
  return {
    text: `${gauge} ${percent.padStart(4)}`,
    style: p >= 900n ? "red" : p >= 700n ? "yellow" : "green",
  };
}

const SUFFIXES = ["", "k", "M", "G", "T", "P", "E", "Z", "Y"] as const;

/**
 * A count for a table cell: exact up to 6 digits, then 3 significant digits with an SI suffix
 * (1.84E for an IPv6 /64), then powers of ten. json/yaml carry the exact decimal.
 */
export function compactCount(n: number | bigint): string {
  const value = BigInt(n);
  const digits = value.toString();
  if (digits.length <= 6) return digits;
  const group = Math.floor((digits.length - 1) / 3);
  const head = Number(digits.slice(0, 3)) / 10 ** (2 - ((digits.length - 1) % 3));
  const shown = Number.isInteger(head) ? String(head) : String(Number(head.toPrecision(3)));
  if (group < SUFFIXES.length) return `${shown}${SUFFIXES[group]}`;
  return `${Number((Number(digits.slice(0, 3)) / 100).toPrecision(3))}e${digits.length - 1}`;
}

/**
 * How long ago, in kubectl's style: 45s, 3m12s, 25m, 5h30m, 20h, 3d4h, 120d, 2y30d, 9y. "-" when
 * unknown (and for a time in the future).
 */
export function humanAge(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return "-";
  const s = Math.floor(ms / 1000);
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const d = Math.floor(h / 24);
  const y = Math.floor(d / 365);
  const pair = (a: number, ua: string, b: number, ub: string) =>
    b === 0 ? `${a}${ua}` : `${a}${ua}${b}${ub}`;
  if (s < 120) return `${s}s`;
  if (m < 10) return pair(m, "m", s % 60, "s");
  if (h < 3) return `${m}m`;
  if (h < 8) return pair(h, "h", m % 60, "m");
  if (h < 48) return `${h}h`;
  if (d < 8) return pair(d, "d", h % 24, "h");
  if (y < 2) return `${d}d`;
  if (y < 8) return pair(y, "y", d % 365, "d");
  return `${y}y`;
}

/** JSON with bigints as decimal strings and undefined fields left out, two-space indent. */
export function toJson(data: unknown): string {
  return `${JSON.stringify(data, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value), 2)}\n`;
}

/** YAML of the same records as toJson (parsed back, it equals the JSON's). */
export function toYaml(data: unknown): string {
  return dump(JSON.parse(toJson(data)), { lineWidth: -1, noRefs: true });
}

/** The machine-readable forms; `table` is each command's own. */
export function renderData(format: Exclude<OutputFormat, "table">, data: unknown): string {
  return format === "json" ? toJson(data) : toYaml(data);
}

export interface Progress {
  /** `done` of `total` items processed (written at most every 100 ms, and at the end). */
  step(done: number, total: number): void;
  /** Clears the progress line. */
  finish(): void;
}

export interface ProgressOptions {
  readonly stream?: Terminal & { write(text: string): unknown };
  readonly now?: () => number;
  readonly intervalMs?: number;
}

/**
 * A one-line progress report on stderr, rewritten in place: `<label> 1200/5000 (24%)`. Nothing at
 * all unless stderr is a terminal (a pipe or a log gets only the result). Progress is not colour,
 * so NO_COLOR does not silence it.
 */
export function progressReporter(label: string, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  if (stream.isTTY !== true) return { step() {}, finish() {} };
  const now = options.now ?? Date.now;
  const interval = options.intervalMs ?? 100;
  let last = Number.NEGATIVE_INFINITY;
  let shown = false;
  const width = tableWidth(stream);
  return {
    step(done, total) {
      const t = now();
      if (t - last < interval && done < total) return;
      last = t;
      shown = true;
      const percent = total > 0 ? ` (${Math.floor((done * 100) / total)}%)` : "";
      stream.write(`\r${truncate(printable(`${label} ${done}/${total}${percent}`), width - 1)}\x1b[K`);
    },
    finish() {
      if (shown) stream.write("\r\x1b[K");
      shown = false;
    },
  };
}
