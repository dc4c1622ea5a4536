// Building a ResourceDef for a built-in (Go-typed) resource from its registry strategy's parts:
// the typed codec (typed.ts), ObjectMeta validation with the type's name rule, and optional
// PrepareForCreate / PrepareForUpdate / Validate / status-subresource / graceful-deletion hooks.
import type { Json } from "./json-patch.ts";
import {
  apiVersionOf,
  type DeleteOptions,
  type JsonObject,
  metaFields,
  metaOf,
  PATCH_JSON,
  PATCH_MERGE,
  PATCH_STRATEGIC,
  type ResourceDef,
} from "./resources.ts";
import type { TableConvertor } from "./table.ts";
import { decodeTyped, encodeTypedBody, META_FIELDS, type TypedField, withTypeMeta } from "./typed.ts";
import {
  type FieldError,
  type NameValidator,
  nameIsDnsSubdomain,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from "./validation.ts";

export const isObject = (v: Json | undefined): v is JsonObject =>
  v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v);

export const objectAt = (obj: JsonObject, key: string): JsonObject => {
  const v = obj[key];
  if (isObject(v)) return v;
  const fresh: JsonObject = {};
  obj[key] = fresh;
  return fresh;
};

export interface TypedInit {
  readonly group: string;
  readonly resource: string;
  readonly singular: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly shortNames?: readonly string[];
  readonly storage?: string;
  readonly etcdPrefix: string;
  readonly allowCreateOnUpdate: boolean;
  readonly allowUnconditionalUpdate: boolean;
  readonly returnDeletedObject?: boolean;
  readonly subresources?: readonly string[];
  readonly fieldLabels?: readonly string[];
  readonly typedFields: readonly TypedField[];
  readonly order: readonly string[];
  readonly nameFn?: NameValidator;
  readonly defaults?: (obj: JsonObject) => void;
  readonly fields?: (obj: JsonObject) => Record<string, string>;
  readonly prepareForCreate?: (obj: JsonObject) => void;
  readonly prepareForUpdate?: (obj: JsonObject, old: JsonObject) => void;
  readonly validate?: (obj: JsonObject) => FieldError[];
  readonly validateUpdate?: (obj: JsonObject, old: JsonObject) => FieldError[];
  readonly prepareStatusUpdate?: (obj: JsonObject, old: JsonObject) => JsonObject;
  readonly gracePeriod?: (obj: JsonObject, options: DeleteOptions) => number;
  readonly categories?: readonly string[];
  readonly table?: TableConvertor;
}

export function typedDef(init: TypedInit): ResourceDef {
  const version = "v1";
  const nameFn = init.nameFn ?? nameIsDnsSubdomain;
  const def: ResourceDef = {
    group: init.group,
    version,
    resource: init.resource,
    singular: init.singular,
    kind: init.kind,
    listKind: `${init.kind}List`,
    namespaced: init.namespaced,
    custom: false,
    shortNames: init.shortNames ?? [],
    verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
    storage: init.storage ?? init.resource,
    etcdPrefix: init.etcdPrefix,
    allowCreateOnUpdate: init.allowCreateOnUpdate,
    allowUnconditionalUpdate: init.allowUnconditionalUpdate,
    returnDeletedObject: init.returnDeletedObject ?? false,
    subresources: init.subresources ?? [],
    fieldLabels: [
      "metadata.name",
      ...(init.namespaced ? ["metadata.namespace"] : []),
      ...(init.fieldLabels ?? []),
    ],
    patchTypes: [PATCH_JSON, PATCH_MERGE, PATCH_STRATEGIC],
    decode(obj) {
      const unknown = decodeTyped(obj, [...META_FIELDS("ObjectMeta"), ...init.typedFields]);
      init.defaults?.(obj);
      return unknown;
    },
    toStorage: (obj) => obj,
    fromStorage: (obj) => obj,
    encode: (obj) => encodeTypedBody(obj, init.order),
    external: (json) => withTypeMeta(json, init.kind, apiVersionOf(def)),
    item: (json) => json,
    fields: (obj) => ({ ...metaFields(obj, init.namespaced), ...init.fields?.(obj) }),
    prepareForCreate: (obj) => init.prepareForCreate?.(obj),
    prepareForUpdate: (obj, old) => init.prepareForUpdate?.(obj, old),
    validate(obj) {
      const own = init.validate?.(obj) ?? [];
      return [...validateObjectMeta(metaOf(obj), init.namespaced, nameFn), ...own];
    },
    validateUpdate(obj, old) {
      const own = init.validateUpdate?.(obj, old) ?? [];
      return [
        ...validateObjectMeta(metaOf(obj), init.namespaced, nameFn),
        ...validateObjectMetaUpdate(metaOf(obj), metaOf(old)),
        ...own,
      ];
    },
    ...(init.prepareStatusUpdate ? { prepareStatusUpdate: init.prepareStatusUpdate } : {}),
    ...(init.gracePeriod ? { gracePeriod: init.gracePeriod } : {}),
    ...(init.categories ? { categories: init.categories } : {}),
    ...(init.table ? { table: init.table } : {}),
  };
  return def;
}
