// Reading stdin keys the way the Go reference decodes them, so a config that works with
// Whereabouts reads the same here: encoding/json matches struct fields case-insensitively.

/**
 * The value of `key` in a decoded JSON object, matched as Go's encoding/json fills a struct
 * field: case-insensitively, the last matching key in document order winning. `undefined` if no
 * key matches.
 */
export function jsonField(obj: Readonly<Record<string, unknown>>, key: string): unknown {
  const wanted = key.toLowerCase();
  let value: unknown;
  for (const [k, v] of Object.entries(obj)) {
    if (k.toLowerCase() === wanted) value = v;
  }
  return value;
}

/** The JSON type name of a decoded value, for error messages. */
export function jsonTypeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}
