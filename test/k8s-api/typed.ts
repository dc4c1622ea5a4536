// Decoding and encoding of built-in (Go-typed) objects the way the apiserver's JSON serializer does:
// metav1.Time accepts RFC 3339 (fraction tolerated) and is written back in whole seconds, UTC;
// metav1.MicroTime requires exactly six fractional digits ("2006-01-02T15:04:05.000000Z07:00"; a
// JavaScript toISOString() value is rejected); ints and strings are type-checked; unknown metadata
// fields vanish; output follows Go struct field order.
import type { Json } from "./json-patch.ts";
import { OBJECT_META_FIELDS } from "./schema.ts";

type JsonObject = { [key: string]: Json };

/** A body the typed decoder cannot decode (the handler turns it into 400, or 422 for a patch). */
export class DecodeError extends Error {}

export type FieldType =
  | "Time"
  | "MicroTime"
  | "int32"
  | "int64"
  | "string"
  | "bool"
  | "stringMap"
  | "stringList";

export interface TypedField {
  /** Dotted JSON path; `[]` marks "every element of this list". */
  readonly path: string;
  readonly type: FieldType;
  /** The Go struct that declares the field, for json's error text. */
  readonly struct: string;
}

const TIME_LAYOUT = "2006-01-02T15:04:05Z07:00";
const MICRO_LAYOUT = "2006-01-02T15:04:05.000000Z07:00";
const TIME_RE = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function parseTime(value: string, micro: boolean): string {
  const layout = micro ? MICRO_LAYOUT : TIME_LAYOUT;
  const fail = (rest: string, elem: string) =>
    new DecodeError(
      `parsing time ${JSON.stringify(value)} as ${JSON.stringify(layout)}: cannot parse ${JSON.stringify(rest)} as ${JSON.stringify(elem)}`,
    );
  const head = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/.exec(value);
  if (!head) throw fail(value, "2006");
  const rest = value.slice(head[0].length);
  const m = TIME_RE.exec(value);
  if (micro && !/^\.\d{6}(Z|[+-]\d{2}:\d{2})$/.test(rest)) throw fail(rest, ".000000");
  if (!m) throw fail(rest.replace(/^\.\d+/, ""), "Z07:00");
  const ms = Date.parse(`${m[1]}T${m[2]}${m[4]}`);
  if (Number.isNaN(ms)) throw new DecodeError(`parsing time ${JSON.stringify(value)}: day out of range`);
  const whole = new Date(ms).toISOString().slice(0, 19);
  return micro ? `${whole}${m[3]}Z` : `${whole}Z`;
}

/** metav1.Now() as the apiserver serialises it. */
export function nowTime(offsetMs = 0): string {
  return `${new Date(Date.now() + offsetMs).toISOString().slice(0, 19)}Z`;
}

export function nowMicroTime(): string {
  const d = new Date();
  return `${d.toISOString().slice(0, 23)}000Z`;
}

function jsonKind(v: Json): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "object") return "object";
  return typeof v;
}

function mismatch(v: Json, f: TypedField, path: string, goType: string): DecodeError {
  const what = typeof v === "number" ? `number ${v}` : jsonKind(v);
  return new DecodeError(
    `json: cannot unmarshal ${what} into Go struct field ${f.struct}.${path} of type ${goType}`,
  );
}

function checkValue(v: Json, f: TypedField, path: string): Json {
  if (v === null) return null;
  switch (f.type) {
    case "Time":
    case "MicroTime":
      if (typeof v !== "string") throw mismatch(v, f, path, "string");
      return parseTime(v, f.type === "MicroTime");
    case "int32":
    case "int64": {
      const limit = f.type === "int32" ? 2 ** 31 : 2 ** 63;
      if (typeof v !== "number") throw mismatch(v, f, path, f.type);
      if (!Number.isInteger(v) || v >= limit || v < -limit) throw mismatch(v, f, path, f.type);
      return v;
    }
    case "string":
      if (typeof v !== "string") throw mismatch(v, f, path, "string");
      return v;
    case "bool":
      if (typeof v !== "boolean") throw mismatch(v, f, path, "bool");
      return v;
    case "stringMap":
      if (typeof v !== "object" || Array.isArray(v)) throw mismatch(v, f, path, "map[string]string");
      for (const x of Object.values(v))
        if (typeof x !== "string" && x !== null) throw mismatch(x, f, path, "string");
      return v;
    case "stringList":
      if (!Array.isArray(v)) throw mismatch(v, f, path, "[]string");
      for (const x of v) if (typeof x !== "string") throw mismatch(x, f, path, "string");
      return v;
  }
}

function visit(obj: Json, parts: readonly string[], f: TypedField, path: string): void {
  if (obj === null || typeof obj !== "object") return;
  const [head, ...rest] = parts;
  if (head === undefined) return;
  const isList = head.endsWith("[]");
  const key = isList ? head.slice(0, -2) : head;
  if (Array.isArray(obj)) return;
  if (!Object.hasOwn(obj, key)) return;
  const p = path ? `${path}.${key}` : key;
  if (isList) {
    const list = obj[key];
    if (list === null) return;
    if (!Array.isArray(list)) throw mismatch(list!, f, p, "[]");
    for (const item of list) visit(item, rest, f, p);
  } else if (rest.length === 0) {
    obj[key] = checkValue(obj[key]!, f, p);
  } else {
    const next = obj[key]!;
    if (next !== null && (typeof next !== "object" || Array.isArray(next)))
      throw mismatch(next, f, p, "struct");
    visit(next, rest, f, p);
  }
}

export const META_FIELDS = (struct: string): TypedField[] => [
  { path: "metadata.name", type: "string", struct },
  { path: "metadata.generateName", type: "string", struct },
  { path: "metadata.namespace", type: "string", struct },
  { path: "metadata.uid", type: "string", struct },
  { path: "metadata.resourceVersion", type: "string", struct },
  { path: "metadata.generation", type: "int64", struct },
  { path: "metadata.creationTimestamp", type: "Time", struct },
  { path: "metadata.deletionTimestamp", type: "Time", struct },
  { path: "metadata.deletionGracePeriodSeconds", type: "int64", struct },
  { path: "metadata.labels", type: "stringMap", struct },
  { path: "metadata.annotations", type: "stringMap", struct },
  { path: "metadata.finalizers", type: "stringList", struct },
];

/**
 * Type-checks and normalises `obj` in place; throws DecodeError like the JSON decoder. Returns the
 * unknown metadata fields it dropped (reported as warnings under fieldValidation=Warn).
 */
export function decodeTyped(obj: JsonObject, fields: readonly TypedField[]): string[] {
  const unknown: string[] = [];
  const meta = obj["metadata"];
  if (meta !== undefined && meta !== null && (typeof meta !== "object" || Array.isArray(meta)))
    throw new DecodeError(
      `json: cannot unmarshal ${jsonKind(meta)} into Go struct field ObjectMeta.metadata of type v1.ObjectMeta`,
    );
  if (meta && typeof meta === "object" && !Array.isArray(meta)) {
    const known = new Set<string>(OBJECT_META_FIELDS);
    for (const k of Object.keys(meta))
      if (!known.has(k) || k === "selfLink") {
        if (!known.has(k)) unknown.push(`metadata.${k}`);
        delete meta[k];
      }
  }
  for (const f of fields) visit(obj, f.path.split("."), f, "");
  return unknown;
}

const META_ORDER = OBJECT_META_FIELDS.filter((k) => k !== "selfLink");

function ordered(obj: JsonObject, order: readonly string[]): JsonObject {
  const out: JsonObject = {};
  for (const k of order) if (Object.hasOwn(obj, k)) out[k] = obj[k]!;
  for (const k of Object.keys(obj)) if (!Object.hasOwn(out, k)) out[k] = obj[k]!;
  return out;
}

/** The typed object's JSON without kind/apiVersion (list items omit them), in Go field order. */
export function encodeTypedBody(obj: JsonObject, order: readonly string[]): string {
  const { kind: _k, apiVersion: _a, ...rest } = obj;
  const meta = rest["metadata"];
  if (meta && typeof meta === "object" && !Array.isArray(meta)) rest["metadata"] = ordered(meta, META_ORDER);
  return escapeHtml(JSON.stringify(ordered(rest, ["metadata", ...order])));
}

/** Prepends kind and apiVersion to a typed body (a single object, a watch event object). */
export function withTypeMeta(body: string, kind: string, apiVersion: string): string {
  return `{"kind":${JSON.stringify(kind)},"apiVersion":${JSON.stringify(apiVersion)},${body.slice(1)}`;
}

/** Go's encoding/json escapes <, > and & (and U+2028/9) inside strings by default. */
function escapeHtml(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Unstructured (custom resource) JSON: Go marshals map keys sorted by bytes, at every level. */
export function sortedJson(v: Json): string {
  if (v === null || typeof v !== "object") return escapeHtml(JSON.stringify(v));
  if (Array.isArray(v)) return `[${v.map(sortedJson).join(",")}]`;
  const keys = Object.keys(v).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${keys.map((k) => `${escapeHtml(JSON.stringify(k))}:${sortedJson(v[k]!)}`).join(",")}}`;
}
