// What the double knows about each resource it serves: names for discovery and messages, the REST
// strategy flags of its registry (k8s.io/apiserver/pkg/registry/generic/registry.Store), its codec
// (typed Go struct vs unstructured custom resource) and its validation. The concrete definitions
// live in core-types.ts and custom-resources.ts.
import type { Json } from "./json-patch.ts";
import type { GroupKind, GroupResource } from "./status.ts";
import type { TableConvertor } from "./table.ts";
import type { FieldError } from "./validation.ts";

export type JsonObject = { [key: string]: Json };

export const PATCH_JSON = "application/json-patch+json";
export const PATCH_MERGE = "application/merge-patch+json";
export const PATCH_STRATEGIC = "application/strategic-merge-patch+json";

export interface DeleteOptions {
  readonly gracePeriodSeconds?: number;
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
  readonly propagationPolicy?: string;
  readonly orphanDependents?: boolean;
  readonly dryRun?: readonly string[];
}

export interface ResourceDef {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly singular: string;
  readonly kind: string;
  readonly listKind: string;
  readonly namespaced: boolean;
  /** Served by apiextensions-apiserver: unstructured JSON (sorted keys), kind on list items, no SMP. */
  readonly custom: boolean;
  readonly shortNames: readonly string[];
  readonly verbs: readonly string[];
  /** Store collection; core/v1 and events.k8s.io/v1 events share one, as in etcd. */
  readonly storage: string;
  /** etcd key prefix, for storage error messages. */
  readonly etcdPrefix: string;
  readonly allowCreateOnUpdate: boolean;
  readonly allowUnconditionalUpdate: boolean;
  /** DELETE answers with the object (pods) instead of a Status. */
  readonly returnDeletedObject: boolean;
  readonly subresources: readonly string[];
  /** Field selector labels this resource supports. */
  readonly fieldLabels: readonly string[];
  readonly patchTypes: readonly string[];
  /** Type-checks / prunes a decoded body in place; returns unknown (dropped) field paths. */
  decode(obj: JsonObject): string[];
  /** The form written to storage (events.k8s.io → core/v1 Event); identity for most types. */
  toStorage(obj: JsonObject): JsonObject;
  fromStorage(obj: JsonObject): JsonObject;
  /** Storage JSON: the whole object for custom resources, the Go-ordered body without TypeMeta otherwise. */
  encode(stored: JsonObject): string;
  /** A stored version's JSON as an update starts from (custom resources: pruned as reads are). */
  decodeStored?(storedJson: string): JsonObject;
  /** A stored version's JSON as this resource's GET / watch returns it (with kind and apiVersion). */
  external(storedJson: string): string;
  /** A stored version's JSON as a list item (built-in types omit kind/apiVersion there). */
  item(storedJson: string): string;
  /** Field-selector attributes of a stored object. */
  fields(stored: JsonObject): Record<string, string>;
  prepareForCreate(obj: JsonObject): void;
  prepareForUpdate(obj: JsonObject, old: JsonObject): void;
  validate(obj: JsonObject): FieldError[];
  validateUpdate(obj: JsonObject, old: JsonObject): FieldError[];
  /** The status subresource's PrepareForUpdate: the object to store when `obj` arrives on /status. */
  prepareStatusUpdate?(obj: JsonObject, old: JsonObject): JsonObject;
  /** RESTGracefulDeleteStrategy.CheckGracefulDeletion: the grace period, for types that have one. */
  gracePeriod?(obj: JsonObject, options: DeleteOptions): number;
  /** Discovery categories (`kubectl get api-extensions`). */
  readonly categories?: readonly string[];
  /** Server-side printing (as=Table); the generic Name / Created At columns when absent. */
  readonly table?: TableConvertor;
  /**
   * A REST Delete of its own for an object not yet being deleted (CRDs): marks `obj` in place,
   * checking the preconditions itself; the registry stores it and answers it.
   */
  markForDeletion?(obj: JsonObject, uid: string | undefined, resourceVersion: string | undefined): void;
  /** Admission before a create is handled (custom resources: their CRD's state). */
  beforeCreate?(name: string): Promise<void>;
}

export const apiVersionOf = (d: ResourceDef): string => (d.group ? `${d.group}/${d.version}` : d.version);
export const groupResource = (d: ResourceDef): GroupResource => ({ group: d.group, resource: d.resource });
export const groupKind = (d: ResourceDef): GroupKind => ({ group: d.group, kind: d.kind });
/** Requests are counted and faults matched by this name: `pods`, `ippools.whereabouts.cni.cncf.io`. */
export const qualifiedName = (d: ResourceDef): string => (d.group ? `${d.resource}.${d.group}` : d.resource);

export const ALL_VERBS = [
  "create",
  "delete",
  "deletecollection",
  "get",
  "list",
  "patch",
  "update",
  "watch",
] as const;

export const metaOf = (obj: JsonObject): JsonObject => {
  let meta = obj["metadata"];
  if (meta === null || meta === undefined || typeof meta !== "object" || Array.isArray(meta)) {
    meta = {};
    obj["metadata"] = meta;
  }
  return meta;
};

export const str = (v: Json | undefined): string => (typeof v === "string" ? v : "");

/** The selectable fields every namespaced object has. */
export function metaFields(obj: JsonObject, namespaced: boolean): Record<string, string> {
  const meta = metaOf(obj);
  const out: Record<string, string> = { "metadata.name": str(meta["name"]) };
  if (namespaced) out["metadata.namespace"] = str(meta["namespace"]);
  return out;
}

/** Walks a dotted path to a string (missing → ""). */
export function at(obj: Json | undefined, path: string): string {
  let cur: Json | undefined = obj;
  for (const p of path.split(".")) {
    if (cur === null || cur === undefined || typeof cur !== "object" || Array.isArray(cur)) return "";
    cur = cur[p];
  }
  if (typeof cur === "string") return cur;
  if (typeof cur === "boolean" || typeof cur === "number") return String(cur);
  return "";
}
