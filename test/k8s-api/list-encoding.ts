// List bodies: built-in lists are Go structs (kind, apiVersion, metadata{resourceVersion, continue,
// remainingItemCount}, items without kind/apiVersion); custom resource lists are unstructured
// (keys sorted, items keep kind/apiVersion).
import type { ListResult } from "./registry.ts";
import { apiVersionOf, type ResourceDef } from "./resources.ts";

export function listJson(def: ResourceDef, r: ListResult, items: readonly string[]): string {
  const rv = JSON.stringify(String(r.resourceVersion));
  const cont = r.continueToken ? JSON.stringify(r.continueToken) : undefined;
  if (def.custom) {
    const meta = [
      ...(cont ? [`"continue":${cont}`] : []),
      ...(r.remainingItemCount !== undefined ? [`"remainingItemCount":${r.remainingItemCount}`] : []),
      `"resourceVersion":${rv}`,
    ].join(",");
    return `{"apiVersion":${JSON.stringify(apiVersionOf(def))},"items":[${items.join(",")}],"kind":${JSON.stringify(def.listKind)},"metadata":{${meta}}}`;
  }
  const meta = [
    `"resourceVersion":${rv}`,
    ...(cont ? [`"continue":${cont}`] : []),
    ...(r.remainingItemCount !== undefined ? [`"remainingItemCount":${r.remainingItemCount}`] : []),
  ].join(",");
  return `{"kind":${JSON.stringify(def.listKind)},"apiVersion":${JSON.stringify(apiVersionOf(def))},"metadata":{${meta}},"items":[${items.join(",")}]}`;
}
