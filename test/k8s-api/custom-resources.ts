// Custom resources as apiextensions-apiserver serves them (customresource/strategy.go,
// status_strategy.go, validator.go), one ResourceDef per served version of a CRD (crd-serving.ts
// builds them from the stored CRD): unstructured JSON, no unconditional update and no
// create-on-update, generation 1 on create and +1 on any change outside metadata (and status, with
// the status subresource), names must be DNS-1123 subdomains, the type meta must match,
// structural pruning then schema validation, json-patch and merge-patch only, the CRD's printer
// columns. Stored in the storage version (conversion None: only apiVersion differs). Reads prune
// too (the storage codec decodes with the current schema): an object written before its CRD
// changed shows only what the new schema declares, until it is written again.
import type { Json } from "./json-patch.ts";
import { jsonEqual } from "./json-patch.ts";
import {
  type JsonObject,
  metaFields,
  metaOf,
  PATCH_JSON,
  PATCH_MERGE,
  type ResourceDef,
  str,
} from "./resources.ts";
import { pruneObject, type Schema, validateObject } from "./schema.ts";
import { printerColumnsTable } from "./table.ts";
import { decodeTyped, META_FIELDS, sortedJson } from "./typed.ts";
import { type FieldError, invalidValue, validateObjectMeta, validateObjectMetaUpdate } from "./validation.ts";

export interface CustomInit {
  readonly group: string;
  readonly version: string;
  /** The version objects are stored in (their apiVersion in storage). */
  readonly storageVersion: string;
  readonly resource: string;
  readonly singular: string;
  readonly kind: string;
  readonly listKind: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly schema: Schema;
  /** The version's additionalPrinterColumns, as in the CRD. */
  readonly columns: readonly JsonObject[];
  readonly statusSubresource: boolean;
  readonly beforeCreate?: (name: string) => Promise<void>;
  /** The store's resourceVersion when this serving info was built: later objects are pruned already. */
  readonly bornRv: number;
}

/** The first resourceVersion in a stored custom resource is its metadata's (keys are sorted). */
const RESOURCE_VERSION = /"resourceVersion":"(\d+)"/;

const outside = (obj: JsonObject, keys: readonly string[]): JsonObject =>
  Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.includes(k)));

export function customDef(init: CustomInit): ResourceDef {
  const apiVersion = `${init.group}/${init.version}`;
  const storedAs = `${init.group}/${init.storageVersion}`;
  const typeMetaErrors = (obj: JsonObject): FieldError[] => {
    const errs: FieldError[] = [];
    if (str(obj["kind"]) !== init.kind)
      errs.push(invalidValue("kind", str(obj["kind"]), `must be ${init.kind}`));
    if (str(obj["apiVersion"]) !== apiVersion)
      errs.push(invalidValue("apiVersion", str(obj["apiVersion"]), `must be ${apiVersion}`));
    return errs;
  };
  /** A stored object as the storage codec decodes it: pruned by this schema if written before it. */
  const decoded = (json: string): string => {
    const rv = RESOURCE_VERSION.exec(json)?.[1];
    if (rv !== undefined && Number(rv) > init.bornRv) return json;
    const obj = JSON.parse(json) as JsonObject;
    pruneObject(obj, init.schema);
    return sortedJson(obj);
  };
  /** A stored object as this version shows it (conversion None rewrites apiVersion only). */
  const asServed = (stored: string): string => {
    const json = decoded(stored);
    // Keys are sorted: apiVersion comes first.
    if (apiVersion === storedAs && json.startsWith(`{"apiVersion":${JSON.stringify(apiVersion)}`))
      return json;
    const obj = JSON.parse(json) as JsonObject;
    obj["apiVersion"] = apiVersion;
    return sortedJson(obj);
  };
  // Fields a main-resource write does not change: with the status subresource, status too.
  const ignoredOnUpdate = init.statusSubresource ? ["metadata", "status"] : ["metadata"];
  const def: ResourceDef = {
    group: init.group,
    version: init.version,
    resource: init.resource,
    singular: init.singular,
    kind: init.kind,
    listKind: init.listKind,
    namespaced: init.namespaced,
    custom: true,
    shortNames: init.shortNames,
    categories: init.categories,
    verbs: ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"],
    storage: `${init.resource}.${init.group}`,
    etcdPrefix: `/registry/${init.group}/${init.resource}`,
    allowCreateOnUpdate: false,
    allowUnconditionalUpdate: false,
    returnDeletedObject: false,
    subresources: init.statusSubresource ? ["status"] : [],
    fieldLabels: init.namespaced ? ["metadata.name", "metadata.namespace"] : ["metadata.name"],
    patchTypes: [PATCH_JSON, PATCH_MERGE],
    table: printerColumnsTable(init.columns),
    decode(obj) {
      const unknown = pruneObject(obj, init.schema);
      decodeTyped(obj, META_FIELDS("ObjectMeta"));
      return unknown;
    },
    // Only an object of this version is converted: a wrong apiVersion is left for validation.
    toStorage(obj) {
      if (obj["apiVersion"] === apiVersion) obj["apiVersion"] = storedAs;
      return obj;
    },
    fromStorage(obj) {
      obj["apiVersion"] = apiVersion;
      return obj;
    },
    encode: (obj) => sortedJson(obj),
    decodeStored: (json) => JSON.parse(decoded(json)) as JsonObject,
    external: asServed,
    item: asServed,
    fields: (obj) => metaFields(obj, init.namespaced),
    prepareForCreate(obj) {
      metaOf(obj)["generation"] = 1;
      if (init.statusSubresource) delete obj["status"];
    },
    prepareForUpdate(obj, old) {
      if (init.statusSubresource) {
        if (old["status"] === undefined) delete obj["status"];
        else obj["status"] = structuredClone(old["status"]);
      }
      const oldGen = metaOf(old)["generation"];
      const gen = typeof oldGen === "number" ? oldGen : 0;
      metaOf(obj)["generation"] = jsonEqual(outside(obj, ignoredOnUpdate), outside(old, ignoredOnUpdate))
        ? gen
        : gen + 1;
    },
    // status_strategy.go: the old object with the new status (or none).
    prepareStatusUpdate(obj, old) {
      const out = structuredClone(old);
      const status: Json | undefined = obj["status"];
      if (status === undefined) delete out["status"];
      else out["status"] = status;
      return out;
    },
    validate(obj) {
      const withType = {
        ...obj,
        apiVersion: obj["apiVersion"] === storedAs ? apiVersion : obj["apiVersion"]!,
      };
      const tm = typeMetaErrors(withType);
      if (tm.length > 0) return tm;
      return [...validateObjectMeta(metaOf(obj), init.namespaced), ...validateObject(obj, init.schema)];
    },
    validateUpdate(obj, old) {
      const withType = {
        ...obj,
        apiVersion: obj["apiVersion"] === storedAs ? apiVersion : obj["apiVersion"]!,
      };
      const tm = typeMetaErrors(withType);
      if (tm.length > 0) return tm;
      return [
        ...validateObjectMeta(metaOf(obj), init.namespaced),
        ...validateObjectMetaUpdate(metaOf(obj), metaOf(old)),
        ...validateObject(obj, init.schema),
      ];
    },
    ...(init.beforeCreate ? { beforeCreate: init.beforeCreate } : {}),
  };
  return def;
}
