// Custom resources as apiextensions-apiserver serves them (customresource/strategy.go,
// validator.go): unstructured JSON, no unconditional update and no create-on-update, generation 1
// on create and +1 on any change outside metadata, names must be DNS-1123 subdomains, the type meta
// must match, structural pruning then schema validation, json-patch and merge-patch only.
import { IPPOOL_SCHEMA, LEGACY_WHEREABOUTS, NAD_SCHEMA, NODESLICEPOOL_SCHEMA, ORIP_SCHEMA } from "./crds.ts";
import { jsonEqual } from "./json-patch.ts";
import {
  apiVersionOf,
  type JsonObject,
  metaFields,
  metaOf,
  PATCH_JSON,
  PATCH_MERGE,
  type ResourceDef,
  str,
} from "./resources.ts";
import { pruneObject, type Schema, validateObject } from "./schema.ts";
import { decodeTyped, META_FIELDS, sortedJson } from "./typed.ts";
import { type FieldError, invalidValue, validateObjectMeta, validateObjectMetaUpdate } from "./validation.ts";

interface CustomInit {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly singular: string;
  readonly kind: string;
  readonly shortNames?: readonly string[];
  readonly schema: Schema;
}

const withoutMetadata = (obj: JsonObject): JsonObject => {
  const { metadata: _, ...rest } = obj;
  return rest;
};

export function customDef(init: CustomInit): ResourceDef {
  const typeMetaErrors = (obj: JsonObject, def: ResourceDef): FieldError[] => {
    const errs: FieldError[] = [];
    if (str(obj["kind"]) !== init.kind)
      errs.push(invalidValue("kind", str(obj["kind"]), `must be ${init.kind}`));
    if (str(obj["apiVersion"]) !== apiVersionOf(def))
      errs.push(invalidValue("apiVersion", str(obj["apiVersion"]), `must be ${apiVersionOf(def)}`));
    return errs;
  };
  const def: ResourceDef = {
    group: init.group,
    version: init.version,
    resource: init.resource,
    singular: init.singular,
    kind: init.kind,
    listKind: `${init.kind}List`,
    namespaced: true,
    custom: true,
    shortNames: init.shortNames ?? [],
    verbs: ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"],
    storage: `${init.resource}.${init.group}`,
    etcdPrefix: `/registry/${init.group}/${init.resource}`,
    allowCreateOnUpdate: false,
    allowUnconditionalUpdate: false,
    returnDeletedObject: false,
    subresources: [],
    fieldLabels: ["metadata.name", "metadata.namespace"],
    patchTypes: [PATCH_JSON, PATCH_MERGE],
    decode(obj) {
      const unknown = pruneObject(obj, init.schema);
      decodeTyped(obj, META_FIELDS("ObjectMeta"));
      return unknown;
    },
    toStorage: (obj) => obj,
    fromStorage: (obj) => obj,
    encode: (obj) => sortedJson(obj),
    external: (json) => json,
    item: (json) => json,
    fields: (obj) => metaFields(obj, true),
    prepareForCreate(obj) {
      metaOf(obj)["generation"] = 1;
    },
    prepareForUpdate(obj, old) {
      const oldGen = metaOf(old)["generation"];
      const gen = typeof oldGen === "number" ? oldGen : 0;
      metaOf(obj)["generation"] = jsonEqual(withoutMetadata(obj), withoutMetadata(old)) ? gen : gen + 1;
    },
    validate(obj) {
      const tm = typeMetaErrors(obj, def);
      if (tm.length > 0) return tm;
      return [...validateObjectMeta(metaOf(obj), true), ...validateObject(obj, init.schema)];
    },
    validateUpdate(obj, old) {
      const tm = typeMetaErrors(obj, def);
      if (tm.length > 0) return tm;
      return [
        ...validateObjectMeta(metaOf(obj), true),
        ...validateObjectMetaUpdate(metaOf(obj), metaOf(old)),
        ...validateObject(obj, init.schema),
      ];
    },
  };
  return def;
}

const WHEREABOUTS = { group: "whereabouts.cni.cncf.io", version: "v1alpha1" };

/** The whereabouts CRDs at HEAD, or (legacy) the ≤ v0.7 schemas for IPPool and ORIP. */
export function whereaboutsResources(legacy = false): ResourceDef[] {
  return [
    customDef({
      ...WHEREABOUTS,
      resource: "ippools",
      singular: "ippool",
      kind: "IPPool",
      schema: legacy ? LEGACY_WHEREABOUTS.ippools : IPPOOL_SCHEMA,
    }),
    customDef({
      ...WHEREABOUTS,
      resource: "overlappingrangeipreservations",
      singular: "overlappingrangeipreservation",
      kind: "OverlappingRangeIPReservation",
      schema: legacy ? LEGACY_WHEREABOUTS.overlappingrangeipreservations : ORIP_SCHEMA,
    }),
    customDef({
      ...WHEREABOUTS,
      resource: "nodeslicepools",
      singular: "nodeslicepool",
      kind: "NodeSlicePool",
      schema: NODESLICEPOOL_SCHEMA,
    }),
  ];
}

export const NETWORK_ATTACHMENT_DEFINITIONS = customDef({
  group: "k8s.cni.cncf.io",
  version: "v1",
  resource: "network-attachment-definitions",
  singular: "network-attachment-definition",
  kind: "NetworkAttachmentDefinition",
  shortNames: ["net-attach-def"],
  schema: NAD_SCHEMA,
});
