// RFC 6902 JSON Patch with the semantics of gopkg.in/evanphx/json-patch.v4, which kube-apiserver
// uses (k8s.io/apiserver/pkg/endpoints/handlers/patch.go). Its deviations from the RFC are kept on
// purpose, because clients written against a real cluster rely on them:
//  - `test` with value null (or no value) passes when the member is missing or null;
//  - `replace` of a missing object member adds it; `copy` from a missing member copies null;
//  - negative array indices count from the end for add/remove;
//  - a path without a leading "/" or traversing a missing/null/scalar node "is missing path".

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export class JsonPatchDecodeError extends Error {}
export class JsonPatchApplyError extends Error {}

export interface Operation {
  readonly [key: string]: Json | undefined;
}

/** jsonpatch.DecodePatch: the body must be a JSON array of objects. */
export function decodeJsonPatch(body: string): Operation[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    throw new JsonPatchDecodeError((e as Error).message);
  }
  if (!Array.isArray(parsed)) {
    const t = parsed === null ? "null" : typeof parsed === "object" ? "object" : typeof parsed;
    throw new JsonPatchDecodeError(`json: cannot unmarshal ${t} into Go value of type jsonpatch.Patch`);
  }
  for (const op of parsed)
    if (op === null || typeof op !== "object" || Array.isArray(op))
      throw new JsonPatchDecodeError(
        `json: cannot unmarshal ${Array.isArray(op) ? "array" : typeof op} into Go value of type jsonpatch.Operation`,
      );
  return parsed as Operation[];
}

type Container = { [key: string]: Json } | Json[];

const decodeKey = (k: string): string => k.replaceAll("~1", "/").replaceAll("~0", "~");

const isObject = (v: Json | undefined): v is { [key: string]: Json } =>
  v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v);

function arrayIndex(key: string): number | undefined {
  return /^-?\d+$/.test(key) ? Number(key) : undefined;
}

function getIn(con: Container, key: string): { value: Json | undefined } | { error: string } {
  if (Array.isArray(con)) {
    const idx = arrayIndex(key);
    if (idx === undefined) return { error: `strconv.Atoi: parsing ${JSON.stringify(key)}: invalid syntax` };
    if (idx >= con.length || idx < 0)
      return { error: `Unable to access invalid index: ${idx}: invalid index referenced` };
    return { value: con[idx] };
  }
  return { value: Object.hasOwn(con, key) ? con[key] : undefined };
}

/** findObject: the container holding the last path segment, or undefined when the path is missing. */
function findObject(doc: Container, path: string): { con: Container; key: string } | undefined {
  const split = path.split("/");
  if (split.length < 2) return undefined;
  let con: Container = doc;
  for (const part of split.slice(1, -1)) {
    const got = getIn(con, decodeKey(part));
    if ("error" in got) return undefined;
    const next = got.value;
    if (next === null || next === undefined || typeof next !== "object") return undefined;
    con = next;
  }
  return { con, key: decodeKey(split[split.length - 1]!) };
}

function add(con: Container, key: string, value: Json, path: string): void {
  if (!Array.isArray(con)) {
    con[key] = value;
    return;
  }
  if (key === "-") {
    con.push(value);
    return;
  }
  let idx = arrayIndex(key);
  if (idx === undefined)
    throw new JsonPatchApplyError(
      `error in add for path: '${path}': value was not a proper array index: '${key}'`,
    );
  const size = con.length + 1;
  if (idx >= size || idx < -size)
    throw new JsonPatchApplyError(`error in add for path: '${path}': Unable to access invalid index: ${idx}`);
  if (idx < 0) idx += size;
  con.splice(idx, 0, value);
}

function remove(con: Container, key: string, path: string): void {
  if (!Array.isArray(con)) {
    if (!Object.hasOwn(con, key))
      throw new JsonPatchApplyError(
        `error in remove for path: '${path}': Unable to remove nonexistent key: ${key}: missing value`,
      );
    delete con[key];
    return;
  }
  let idx = arrayIndex(key);
  if (idx === undefined || idx >= con.length || idx < -con.length)
    throw new JsonPatchApplyError(
      `error in remove for path: '${path}': Unable to access invalid index: ${key}`,
    );
  if (idx < 0) idx += con.length;
  con.splice(idx, 1);
}

export function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  if (typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as Json[];
    return a.length === bb.length && a.every((v, i) => jsonEqual(v, bb[i]));
  }
  const ao = a as Record<string, Json>;
  const bo = b as Record<string, Json>;
  const ak = Object.keys(ao);
  return (
    ak.length === Object.keys(bo).length && ak.every((k) => Object.hasOwn(bo, k) && jsonEqual(ao[k], bo[k]))
  );
}

function stringField(op: Operation, name: string, what: string): string {
  const v = op[name];
  if (typeof v !== "string") throw new JsonPatchApplyError(`${what}: missing value`);
  return v;
}

/** Applies `ops` to a copy of `doc`; throws JsonPatchApplyError like Patch.Apply does. */
export function applyJsonPatch(
  doc: { [key: string]: Json },
  ops: readonly Operation[],
): { [key: string]: Json } {
  const root = structuredClone(doc);
  for (const op of ops) {
    const kind = typeof op["op"] === "string" ? op["op"] : "unknown";
    const value: Json = op["value"] === undefined ? null : structuredClone(op["value"]);
    switch (kind) {
      case "add": {
        const path = stringField(op, "path", "add operation failed to decode path");
        const t = findObject(root, path);
        if (!t)
          throw new JsonPatchApplyError(
            `add operation does not apply: doc is missing path: "${path}": missing value`,
          );
        add(t.con, t.key, value, path);
        break;
      }
      case "remove": {
        const path = stringField(op, "path", "remove operation failed to decode path");
        const t = findObject(root, path);
        if (!t)
          throw new JsonPatchApplyError(
            `remove operation does not apply: doc is missing path: "${path}": missing value`,
          );
        remove(t.con, t.key, path);
        break;
      }
      case "replace": {
        const path = stringField(op, "path", "replace operation failed to decode path");
        const t = findObject(root, path);
        if (!t)
          throw new JsonPatchApplyError(
            `replace operation does not apply: doc is missing path: ${path}: missing value`,
          );
        if ("error" in getIn(t.con, t.key))
          throw new JsonPatchApplyError(
            `replace operation does not apply: doc is missing key: ${path}: missing value`,
          );
        if (Array.isArray(t.con)) t.con[Number(t.key)] = value;
        else t.con[t.key] = value;
        break;
      }
      case "move":
      case "copy": {
        const from = stringField(op, "from", `${kind} operation failed to decode from`);
        const f = findObject(root, from);
        if (!f)
          throw new JsonPatchApplyError(
            `${kind} operation does not apply: doc is missing from path: ${from}: missing value`,
          );
        const got = getIn(f.con, f.key);
        if ("error" in got)
          throw new JsonPatchApplyError(`error in ${kind} for path: '${f.key}': ${got.error}`);
        const moved: Json = got.value === undefined ? null : structuredClone(got.value);
        if (kind === "move") remove(f.con, f.key, f.key);
        const path = stringField(op, "path", `${kind} operation failed to decode path`);
        const t = findObject(root, path);
        if (!t)
          throw new JsonPatchApplyError(
            `${kind} operation does not apply: doc is missing destination path: ${path}: missing value`,
          );
        add(t.con, t.key, moved, path);
        break;
      }
      case "test": {
        const path = stringField(op, "path", "test operation failed to decode path");
        const t = findObject(root, path);
        if (!t)
          throw new JsonPatchApplyError(
            `test operation does not apply: is missing path: ${path}: missing value`,
          );
        const got = getIn(t.con, t.key);
        if ("error" in got) throw new JsonPatchApplyError(`error in test for path: '${path}': ${got.error}`);
        const actual = got.value ?? null;
        const expected = op["value"] ?? null;
        if (actual === null ? expected !== null : !jsonEqual(actual, expected))
          throw new JsonPatchApplyError(`testing value ${path} failed: test failed`);
        break;
      }
      default:
        throw new JsonPatchApplyError(`Unexpected kind: ${kind}`);
    }
  }
  return root;
}

export const isJsonObject = isObject;
