// RFC 7386 JSON Merge Patch as gopkg.in/evanphx/json-patch.v4 MergePatch applies it for
// kube-apiserver: null deletes a member, objects merge recursively, everything else replaces;
// nulls inside a value that lands where nothing was are pruned. A body that is not a JSON object
// or array is "Invalid JSON Patch" (a 400); an array replaces the whole document.
import type { Json } from "./json-patch.ts";

export class MergePatchError extends Error {
  constructor() {
    super("Invalid JSON Patch");
  }
}

type JsonObject = { [key: string]: Json };

const isObject = (v: Json | undefined): v is JsonObject =>
  v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v);

function pruneNulls(v: Json): Json {
  if (isObject(v)) {
    for (const [k, child] of Object.entries(v)) {
      if (child === null) delete v[k];
      else pruneNulls(child);
    }
  } else if (Array.isArray(v)) {
    for (const child of v) pruneNulls(child);
  }
  return v;
}

function mergeDocs(doc: JsonObject, patch: JsonObject): void {
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) {
      delete doc[k];
      continue;
    }
    const cur = doc[k];
    if (cur === undefined || cur === null) {
      doc[k] = pruneNulls(structuredClone(v));
    } else if (isObject(cur) && isObject(v)) {
      mergeDocs(cur, v);
    } else if (isObject(v)) {
      doc[k] = pruneNulls(structuredClone(v));
    } else {
      doc[k] = structuredClone(v);
    }
  }
}

/** Returns the patched document (a copy), or an array when the patch is an array. */
export function applyMergePatch(doc: JsonObject, body: string): Json {
  let patch: unknown;
  try {
    patch = JSON.parse(body);
  } catch {
    throw new MergePatchError();
  }
  if (Array.isArray(patch)) return pruneNulls(patch as Json[]);
  if (!isObject(patch as Json)) throw new MergePatchError();
  const out = structuredClone(doc);
  mergeDocs(out, patch as JsonObject);
  return out;
}
