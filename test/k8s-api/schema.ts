// Structural-schema handling of custom resources as apiextensions-apiserver does it on every write:
// ObjectMeta coercion (unknown metadata fields dropped), pruning of fields the schema does not
// declare (kept under x-kubernetes-preserve-unknown-fields), dropping nulls of non-nullable
// fields, then OpenAPI validation (type, required) with kube-openapi's error texts:
// `spec.range: Required value`, `spec.range: Invalid value: "integer": spec.range in body must be
// of type string: "integer"`. `structuralSchema` reads a CRD version's openAPIV3Schema into the
// parts used here; the rest of it (formats, patterns, enums, CEL...) is not enforced.
import type { Json } from "./json-patch.ts";
import { type FieldError, required, typeInvalid } from "./validation.ts";

export type SchemaType = "object" | "string" | "integer" | "number" | "boolean" | "array";

export interface Schema {
  /** Absent only with preserveUnknownFields or intOrString (a structural schema's rule). */
  readonly type?: SchemaType;
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly additionalProperties?: Schema;
  readonly items?: Schema;
  readonly required?: readonly string[];
  readonly nullable?: boolean;
  /** x-kubernetes-preserve-unknown-fields: members the schema does not declare are kept. */
  readonly preserveUnknownFields?: boolean;
  /** x-kubernetes-int-or-string: an integer or a string. */
  readonly intOrString?: boolean;
}

const SCHEMA_TYPES: readonly string[] = ["object", "string", "integer", "number", "boolean", "array"];

/** A CRD version's openAPIV3Schema (JSON) as the parts pruning and validation use. */
export function structuralSchema(openapi: Json | undefined): Schema {
  if (!isObject(openapi)) return {};
  const out: {
    -readonly [K in keyof Schema]: Schema[K];
  } = {};
  const t = openapi["type"];
  if (typeof t === "string" && SCHEMA_TYPES.includes(t)) out.type = t as SchemaType;
  const props = openapi["properties"];
  if (isObject(props))
    out.properties = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, structuralSchema(v)]));
  const extra = openapi["additionalProperties"];
  if (isObject(extra)) out.additionalProperties = structuralSchema(extra);
  if (openapi["items"] !== undefined) out.items = structuralSchema(openapi["items"]);
  const req = openapi["required"];
  if (Array.isArray(req)) out.required = req.filter((r): r is string => typeof r === "string");
  if (openapi["nullable"] === true) out.nullable = true;
  if (openapi["x-kubernetes-preserve-unknown-fields"] === true) out.preserveUnknownFields = true;
  if (openapi["x-kubernetes-int-or-string"] === true) out.intOrString = true;
  return out;
}

type JsonObject = { [key: string]: Json };

const isObject = (v: Json | undefined): v is JsonObject =>
  v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v);

/** ObjectMeta's JSON fields; anything else under `metadata` is dropped on decode. */
export const OBJECT_META_FIELDS = [
  "name",
  "generateName",
  "namespace",
  "selfLink",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "labels",
  "annotations",
  "ownerReferences",
  "finalizers",
  "managedFields",
] as const;

const META = new Set<string>(OBJECT_META_FIELDS);

const child = (path: string, key: string): string => (path ? `${path}.${key}` : key);

/** Drops metadata fields ObjectMeta does not have; records them as unknown. */
export function coerceMetadata(obj: JsonObject, unknown: string[]): void {
  const meta = obj["metadata"];
  if (!isObject(meta)) return;
  for (const k of Object.keys(meta))
    if (!META.has(k)) {
      unknown.push(`metadata.${k}`);
      delete meta[k];
    }
}

/** Prunes `value` in place against `schema`, collecting the paths of dropped unknown fields. */
export function prune(value: Json, schema: Schema, path: string, unknown: string[]): void {
  if (isObject(value) && (schema.type === "object" || schema.preserveUnknownFields)) {
    for (const k of Object.keys(value)) {
      const p = child(path, k);
      const propSchema = schema.properties?.[k] ?? schema.additionalProperties;
      if (!propSchema) {
        if (schema.preserveUnknownFields) continue;
        unknown.push(p);
        delete value[k];
      } else if (value[k] === null && !propSchema.nullable) {
        delete value[k];
      } else {
        prune(value[k]!, propSchema, p, unknown);
      }
    }
  } else if (Array.isArray(value) && schema.type === "array" && schema.items) {
    value.forEach((item, i) => {
      prune(item, schema.items!, `${path}[${i}]`, unknown);
    });
  }
}

function jsonType(v: Json): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function typeMatches(v: Json, t: SchemaType): boolean {
  const actual = jsonType(v);
  return actual === t || (t === "number" && actual === "integer");
}

/** The type a schema asks for, as kube-openapi names it in messages; undefined: any. */
function wantedType(schema: Schema): string | undefined {
  if (schema.intOrString) return "integer,string";
  return schema.type;
}

function typeAccepted(v: Json, schema: Schema): boolean {
  if (schema.intOrString) return typeMatches(v, "integer") || typeMatches(v, "string");
  return schema.type === undefined || typeMatches(v, schema.type);
}

/** OpenAPI v3 validation of a pruned value: type first, then required members and children. */
export function validateSchema(value: Json, schema: Schema, path: string): FieldError[] {
  const wanted = wantedType(schema);
  if (value === null) {
    return schema.nullable || wanted === undefined
      ? []
      : [typeInvalid(path, "null", `${path} in body must be of type ${wanted}: "null"`)];
  }
  if (!typeAccepted(value, schema)) {
    const actual = jsonType(value);
    return [
      typeInvalid(path, actual, `${path} in body must be of type ${wanted}: ${JSON.stringify(actual)}`),
    ];
  }
  const errs: FieldError[] = [];
  if (isObject(value)) {
    for (const r of schema.required ?? []) if (!Object.hasOwn(value, r)) errs.push(required(child(path, r)));
    for (const k of Object.keys(value).sort()) {
      const s = schema.properties?.[k] ?? schema.additionalProperties;
      if (s) errs.push(...validateSchema(value[k]!, s, child(path, k)));
    }
  } else if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => {
      errs.push(...validateSchema(item, schema.items!, `${path}[${i}]`));
    });
  }
  return errs;
}

/** The CR codec's part: coerce metadata, prune against the root schema (apiVersion/kind/metadata kept). */
export function pruneObject(obj: JsonObject, root: Schema): string[] {
  const unknown: string[] = [];
  coerceMetadata(obj, unknown);
  for (const k of Object.keys(obj)) {
    if (k === "apiVersion" || k === "kind" || k === "metadata") continue;
    const s = root.properties?.[k];
    if (!s) {
      if (root.preserveUnknownFields) continue;
      unknown.push(k);
      delete obj[k];
    } else if (obj[k] === null && !s.nullable) {
      delete obj[k];
    } else {
      prune(obj[k]!, s, k, unknown);
    }
  }
  return unknown;
}

/** The CR validator's schema part, on a pruned object (apiextensions ValidateCustomResource). */
export function validateObject(obj: JsonObject, root: Schema): FieldError[] {
  const errors: FieldError[] = [];
  for (const r of root.required ?? []) if (!Object.hasOwn(obj, r)) errors.push(required(r));
  for (const k of Object.keys(obj).sort()) {
    if (k === "apiVersion" || k === "kind" || k === "metadata") continue;
    const s = root.properties?.[k];
    if (s) errors.push(...validateSchema(obj[k]!, s, k));
  }
  return errors;
}
