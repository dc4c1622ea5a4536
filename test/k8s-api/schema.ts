// Structural-schema handling of custom resources as apiextensions-apiserver does it on every write:
// ObjectMeta coercion (unknown metadata fields dropped), pruning of fields the schema does not
// declare (no x-kubernetes-preserve-unknown-fields in the CRDs served here), dropping nulls of
// non-nullable fields, then OpenAPI validation (type, required) with kube-openapi's error texts:
// `spec.range: Required value`, `spec.range: Invalid value: "integer": spec.range in body must be
// of type string: "integer"`.
import type { Json } from "./json-patch.ts";
import { type FieldError, required, typeInvalid } from "./validation.ts";

export type SchemaType = "object" | "string" | "integer" | "number" | "boolean" | "array";

export interface Schema {
  readonly type: SchemaType;
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly additionalProperties?: Schema;
  readonly items?: Schema;
  readonly required?: readonly string[];
  readonly nullable?: boolean;
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
  if (isObject(value) && schema.type === "object") {
    for (const k of Object.keys(value)) {
      const p = child(path, k);
      const propSchema = schema.properties?.[k] ?? schema.additionalProperties;
      if (!propSchema) {
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

/** OpenAPI v3 validation of a pruned value: type first, then required members and children. */
export function validateSchema(value: Json, schema: Schema, path: string): FieldError[] {
  if (value === null) {
    return schema.nullable
      ? []
      : [typeInvalid(path, "null", `${path} in body must be of type ${schema.type}: "null"`)];
  }
  if (!typeMatches(value, schema.type)) {
    const actual = jsonType(value);
    return [
      typeInvalid(path, actual, `${path} in body must be of type ${schema.type}: ${JSON.stringify(actual)}`),
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
