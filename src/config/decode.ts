// Reading decoded JSON the way Go's encoding/json fills a struct: keys match field names
// case-insensitively, `null` leaves the default, unknown keys are ignored. Where Go would fail the
// whole decode on a wrong JSON type, the typed getters raise a ConfigError that names the key.
import { ConfigError } from "../errors/errors.ts";
import { shorten } from "../errors/message.ts";
import { isJsonObject, type Json, type JsonObject } from "./json-parse.ts";

/**
 * Go's key folding: ASCII case plus the two non-ASCII runes that fold to ASCII letters
 * (KELVIN SIGN → k, LATIN SMALL LETTER LONG S → s).
 */
export function foldKey(key: string): string {
  return key.toLowerCase().replaceAll("\u212a", "k").replaceAll("\u017f", "s");
}

/**
 * The value Go would store in field `name`. Go assigns every key that folds to the field's name,
 * in document order, so the last such key wins; an exact spelling is not preferred over a folded
 * one (that preference only picks between two fields, and no two of our fields fold alike).
 * `null` is a no-op in Go, so a null value never hides an earlier spelling's value.
 */
export function lookup(obj: JsonObject, name: string): Json | undefined {
  const want = foldKey(name);
  let found: Json | undefined;
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (value !== null && value !== undefined && foldKey(key) === want) found = value;
  }
  return found;
}

/**
 * Whether any key folds to `name`, a `null` one included. Go cannot tell a null from an absent
 * field; a caller that must (a GC request without its list of attachments is refused) asks here.
 */
export function mentions(obj: JsonObject, name: string): boolean {
  const want = foldKey(name);
  return Object.keys(obj).some((key) => foldKey(key) === want);
}

/** The JSON type name of a value: `null`, `boolean`, `number`, `string`, `array`, `object`. */
export function jsonType(value: Json): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** The JSON type of a value as a message noun: `number`, `an array`, `null`. */
export function jsonKind(value: Json): string {
  const type = jsonType(value);
  return type === "array" || type === "object" ? `an ${type}` : type;
}

/** A short rendering of a JSON value for error messages: `number 5`, `an object {"a":1}`. */
export function describeJson(value: Json): string {
  if (value === null) return "null";
  return `${jsonKind(value)} ${shorten(JSON.stringify(value), 60)}`;
}

/** `quoteValue` false: the message says only the JSON type (values from a file, secrets). */
export function typeError(label: string, expected: string, value: Json, quoteValue = true): ConfigError {
  // Never echo a secret into logs, even a mistyped one.
  const got = quoteValue && !/password/i.test(label) ? describeJson(value) : jsonKind(value);
  return new ConfigError(`invalid ${label}: expected ${expected}, got ${got}`);
}

/** Typed access to the fields of one JSON object; every getter returns undefined for absent or null. */
export interface Fields {
  /** The message name of field `name`, e.g. `ipam.range` or `range (flat file /x.conf)`. */
  label(name: string): string;
  /** Whether messages may quote the values (false for a file, which may be any file on the node). */
  readonly quoteValues: boolean;
  raw(name: string): Json | undefined;
  string(name: string): string | undefined;
  boolean(name: string): boolean | undefined;
  object(name: string): JsonObject | undefined;
  array(name: string): readonly Json[] | undefined;
  stringArray(name: string): readonly string[] | undefined;
  objectArray(name: string): readonly JsonObject[] | undefined;
  /** Accepts a JSON number or a string (keys we accept but do not use, such as leader_*). */
  numberOrString(name: string): number | string | undefined;
  number(name: string): number | undefined;
}

/**
 * `label` turns a field name into its message name. Nested objects get their own Fields through
 * `nested`, keeping the path (`ipam.kubernetes.kubeconfig`).
 */
export function fields(obj: JsonObject, label: (name: string) => string, quoteValues = true): Fields {
  const raw = (name: string) => lookup(obj, name);
  const typed = <T>(name: string, expected: string, accept: (v: Json) => v is Json & T): T | undefined => {
    const value = raw(name);
    if (value === undefined) return undefined;
    if (!accept(value)) throw typeError(label(name), expected, value, quoteValues);
    return value;
  };
  const elements = <T>(
    name: string,
    [expected, plural]: [string, string],
    accept: (v: Json) => v is Json & T,
  ): T[] | undefined => {
    const list = typed(name, `an array of ${plural}`, Array.isArray);
    return list?.map((item, i) => {
      if (!accept(item)) throw typeError(`${label(name)}[${i}]`, expected, item, quoteValues);
      return item;
    });
  };
  return {
    label,
    quoteValues,
    raw,
    string: (name) => typed(name, "a string", (v): v is string => typeof v === "string"),
    boolean: (name) => typed(name, "a boolean", (v): v is boolean => typeof v === "boolean"),
    number: (name) => typed(name, "a number", (v): v is number => typeof v === "number"),
    object: (name) => typed(name, "an object", isJsonObject),
    array: (name) => typed(name, "an array", Array.isArray),
    numberOrString: (name) =>
      typed(name, "a number or a string", (v): v is number | string =>
        ["number", "string"].includes(typeof v),
      ),
    stringArray: (name) => elements(name, ["a string", "strings"], (v): v is string => typeof v === "string"),
    objectArray: (name) => elements(name, ["an object", "objects"], isJsonObject),
  };
}

/** Fields of a nested object: labels continue the parent's path. */
export function nested(parent: Fields, name: string, obj: JsonObject): Fields {
  return fields(obj, (child) => parent.label(`${name}.${child}`), parent.quoteValues);
}

/** Treats Go's zero values as absent, so merging can fill them from the flat file. */
export function nonEmpty<T extends string | readonly unknown[]>(value: T | undefined): T | undefined {
  return value === undefined || value.length === 0 ? undefined : value;
}
