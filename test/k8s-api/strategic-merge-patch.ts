// A subset of strategic merge patch (k8s.io/apimachinery/pkg/util/strategicpatch) for the built-in
// types the double serves: merge-patch semantics, plus lists merged by their patchMergeKey
// (containers by name, conditions by type, ownerReferences by uid, ...), primitive "merge" lists
// (finalizers) unioned, and the `$patch: replace|delete`, `$retainKeys`,
// `$deleteFromPrimitiveList/<f>` and `$setElementOrder/<f>` directives.
import type { Json } from "./json-patch.ts";
import { MergePatchError } from "./merge-patch.ts";

type JsonObject = { [key: string]: Json };

const isObject = (v: Json | undefined): v is JsonObject =>
  v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v);

/** List paths (dot-joined, `[]` for list items) and their strategy, from the Go struct tags. */
const LIST_STRATEGY: Readonly<Record<string, { readonly key?: string; readonly primitive?: boolean }>> = {
  "metadata.ownerReferences": { key: "uid" },
  "metadata.finalizers": { primitive: true },
  "spec.containers": { key: "name" },
  "spec.initContainers": { key: "name" },
  "spec.ephemeralContainers": { key: "name" },
  "spec.containers[].env": { key: "name" },
  "spec.containers[].ports": { key: "containerPort" },
  "spec.containers[].volumeMounts": { key: "mountPath" },
  "spec.initContainers[].env": { key: "name" },
  "spec.volumes": { key: "name" },
  "spec.template.spec.containers": { key: "name" },
  "spec.template.spec.initContainers": { key: "name" },
  "spec.template.spec.containers[].env": { key: "name" },
  "spec.template.spec.containers[].ports": { key: "containerPort" },
  "spec.template.spec.volumes": { key: "name" },
  "spec.imagePullSecrets": { key: "name" },
  "status.conditions": { key: "type" },
  "status.addresses": { key: "type" },
  "status.podIPs": { key: "ip" },
};

const childPath = (path: string, key: string): string => (path ? `${path}.${key}` : key);

function mergeList(path: string, cur: Json[], patch: Json[]): Json[] {
  const strategy = LIST_STRATEGY[path];
  if (strategy?.primitive) {
    const out = [...cur];
    for (const v of patch) if (!out.includes(v)) out.push(v);
    return out;
  }
  const key = strategy?.key;
  if (!key) return patch.filter((v) => !(isObject(v) && v["$patch"] !== undefined));
  const out = cur.map((v) => structuredClone(v));
  for (const item of patch) {
    if (!isObject(item)) throw new MergePatchError();
    const idx = out.findIndex((v) => isObject(v) && v[key] === item[key]);
    if (item["$patch"] === "delete") {
      if (idx >= 0) out.splice(idx, 1);
    } else if (idx >= 0) {
      out[idx] = mergeMap(`${path}[]`, out[idx] as JsonObject, item);
    } else {
      out.push(mergeMap(`${path}[]`, {}, item));
    }
  }
  return out;
}

function mergeMap(path: string, cur: JsonObject, patch: JsonObject): JsonObject {
  if (patch["$patch"] === "replace") {
    const { $patch: _, ...rest } = patch;
    return structuredClone(rest);
  }
  const out = structuredClone(cur);
  const retain = patch["$retainKeys"];
  for (const [k, v] of Object.entries(patch)) {
    if (k === "$patch" || k === "$retainKeys" || k.startsWith("$setElementOrder/")) continue;
    if (k.startsWith("$deleteFromPrimitiveList/")) {
      const field = k.slice("$deleteFromPrimitiveList/".length);
      const list = out[field];
      if (Array.isArray(list) && Array.isArray(v)) out[field] = list.filter((x) => !v.includes(x));
      continue;
    }
    const p = childPath(path, k);
    const existing = out[k];
    if (v === null) delete out[k];
    else if (isObject(v) && v["$patch"] === "delete") delete out[k];
    else if (isObject(v)) out[k] = mergeMap(p, isObject(existing) ? existing : {}, v);
    else if (Array.isArray(v) && Array.isArray(existing)) out[k] = mergeList(p, existing, v);
    else if (Array.isArray(v)) out[k] = mergeList(p, [], v);
    else out[k] = v;
  }
  if (Array.isArray(retain)) for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  return out;
}

export function applyStrategicMergePatch(doc: JsonObject, body: string): JsonObject {
  let patch: unknown;
  try {
    patch = JSON.parse(body);
  } catch {
    throw new MergePatchError();
  }
  if (!isObject(patch as Json)) throw new MergePatchError();
  return mergeMap("", doc, patch as JsonObject);
}
