// The CustomResourceDefinition resource (apiextensions.k8s.io/v1, cluster-scoped) as
// apiextensions-apiserver serves it: v1 defaulting (singular, listKind, conversion None,
// storedVersions), the registry strategy (pkg/registry/customresourcedefinition/strategy.go: status
// reset on create and kept on update, generation bumped on spec changes, the status subresource
// keeps the spec), its REST Delete (etcd.go: the first DELETE only marks the CRD, adding the
// customresourcecleanup finalizer and the Terminating condition; crd-serving.ts then deletes its
// resources and the CRD), its table columns, and the part of its validation
// (pkg/apis/apiextensions/validation) a mistaken manifest hits: names, group, scope, versions, the
// storage version, required schemas, structural-schema basics and printer columns.
import type { Json } from "./json-patch.ts";
import { type JsonObject, metaOf, type ResourceDef, str } from "./resources.ts";
import { conflict } from "./status.ts";
import { CREATED_AT_COLUMN, NAME_COLUMN, rfc3339, type TableColumn, type TableConvertor } from "./table.ts";
import { nowTime } from "./typed.ts";
import { isObject, objectAt, typedDef } from "./typed-def.ts";
import {
  type FieldError,
  forbiddenField,
  invalidValue,
  isDns1035Label,
  isDns1123Subdomain,
  notSupported,
  required,
} from "./validation.ts";

export const APIEXTENSIONS_GROUP = "apiextensions.k8s.io";
export const CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io";

const asObject = (v: Json | undefined): JsonObject => (isObject(v) ? v : {});
const asList = (v: Json | undefined): Json[] => (Array.isArray(v) ? v : []);
const strings = (v: Json | undefined): string[] =>
  asList(v).filter((x): x is string => typeof x === "string");

export interface CrdNames {
  readonly plural: string;
  readonly singular: string;
  readonly kind: string;
  readonly listKind: string;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
}

export function namesOf(v: Json | undefined): CrdNames {
  const n = asObject(v);
  return {
    plural: str(n["plural"]),
    singular: str(n["singular"]),
    kind: str(n["kind"]),
    listKind: str(n["listKind"]),
    shortNames: strings(n["shortNames"]),
    categories: strings(n["categories"]),
  };
}

export interface CrdVersion {
  readonly name: string;
  readonly served: boolean;
  readonly storage: boolean;
  /** spec.versions[].schema.openAPIV3Schema */
  readonly schema: Json | undefined;
  readonly columns: readonly JsonObject[];
  readonly statusSubresource: boolean;
}

export function versionsOf(crd: JsonObject): CrdVersion[] {
  return asList(asObject(crd["spec"])["versions"]).map((raw) => {
    const v = asObject(raw);
    return {
      name: str(v["name"]),
      served: v["served"] === true,
      storage: v["storage"] === true,
      schema: asObject(v["schema"])["openAPIV3Schema"],
      columns: asList(v["additionalPrinterColumns"]).map(asObject),
      statusSubresource: isObject(asObject(v["subresources"])["status"]),
    };
  });
}

export const storageVersionOf = (crd: JsonObject): string | undefined =>
  versionsOf(crd).find((v) => v.storage)?.name;

export function conditionOf(crd: JsonObject, type: string): JsonObject | undefined {
  return asList(asObject(crd["status"])["conditions"])
    .map(asObject)
    .find((c) => c["type"] === type);
}

export const isConditionTrue = (crd: JsonObject, type: string): boolean =>
  conditionOf(crd, type)?.["status"] === "True";

/** apihelpers.SetCRDCondition: lastTransitionTime moves only when the status does. */
export function setCondition(
  crd: JsonObject,
  c: { type: string; status: string; reason: string; message: string },
): void {
  const status = objectAt(crd, "status");
  const conditions = asList(status["conditions"]);
  status["conditions"] = conditions;
  const existing = conditions.map(asObject).find((x) => x["type"] === c.type);
  if (existing === undefined) {
    conditions.push({
      type: c.type,
      status: c.status,
      lastTransitionTime: nowTime(),
      reason: c.reason,
      message: c.message,
    });
    return;
  }
  if (existing["status"] !== c.status || !existing["lastTransitionTime"])
    existing["lastTransitionTime"] = nowTime();
  existing["status"] = c.status;
  existing["reason"] = c.reason;
  existing["message"] = c.message;
}

// --- defaulting and strategy ---

/** v1 SetDefaults_CustomResourceDefinition(Spec). */
function setDefaults(crd: JsonObject): void {
  const spec = objectAt(crd, "spec");
  const names = objectAt(spec, "names");
  if (str(names["singular"]) === "" && str(names["kind"]) !== "")
    names["singular"] = str(names["kind"]).toLowerCase();
  if (str(names["listKind"]) === "" && str(names["kind"]) !== "")
    names["listKind"] = `${str(names["kind"])}List`;
  if (!isObject(spec["conversion"])) spec["conversion"] = { strategy: "None" };
}

/** Appends the storage version to status.storedVersions if it is new (PrepareForCreate/Update). */
function recordStorageVersion(crd: JsonObject): void {
  const storage = storageVersionOf(crd);
  if (storage === undefined) return;
  const status = objectAt(crd, "status");
  const stored = strings(status["storedVersions"]);
  if (!stored.includes(storage)) stored.push(storage);
  status["storedVersions"] = stored;
}

function prepareForCreate(crd: JsonObject): void {
  crd["status"] = { conditions: null, acceptedNames: { plural: "", kind: "" }, storedVersions: [] };
  metaOf(crd)["generation"] = 1;
  recordStorageVersion(crd);
}

function prepareForUpdate(crd: JsonObject, old: JsonObject): void {
  crd["status"] = structuredClone(old["status"] ?? {});
  const gen = metaOf(old)["generation"];
  const spec = JSON.stringify(canonical(crd["spec"]));
  if (spec !== JSON.stringify(canonical(old["spec"])))
    metaOf(crd)["generation"] = (typeof gen === "number" ? gen : 0) + 1;
  recordStorageVersion(crd);
}

/** Key order does not make two specs differ (apiequality.Semantic.DeepEqual). */
function canonical(v: Json | undefined): Json | undefined {
  if (!isObject(v)) return Array.isArray(v) ? v.map((x) => canonical(x) ?? null) : v;
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, canonical(v[k]) ?? null]),
  );
}

/** The first DELETE (REST.Delete in etcd.go): mark, add the cleanup finalizer, condition Terminating. */
function markForDeletion(
  crd: JsonObject,
  uidPrecondition: string | undefined,
  rvPrecondition: string | undefined,
): void {
  const meta = metaOf(crd);
  const gr = { group: APIEXTENSIONS_GROUP, resource: "customresourcedefinitions" };
  const name = str(meta["name"]);
  if (uidPrecondition !== undefined && uidPrecondition !== str(meta["uid"]))
    throw conflict(
      gr,
      name,
      `precondition failed: UID in precondition: ${uidPrecondition}, UID in object meta: ${str(meta["uid"])}`,
    );
  if (rvPrecondition !== undefined && rvPrecondition !== str(meta["resourceVersion"]))
    throw conflict(
      gr,
      name,
      `precondition failed: ResourceVersion in precondition: ${rvPrecondition}, ResourceVersion in object meta: ${str(meta["resourceVersion"])}`,
    );
  meta["deletionTimestamp"] ??= nowTime();
  const finalizers = strings(meta["finalizers"]);
  if (!finalizers.includes(CLEANUP_FINALIZER)) finalizers.push(CLEANUP_FINALIZER);
  meta["finalizers"] = finalizers;
  setCondition(crd, {
    type: "Terminating",
    status: "True",
    reason: "InstanceDeletionPending",
    message: "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
  });
}

// --- validation (the parts listed in the header) ---

const PRINTER_TYPES = ["boolean", "date", "integer", "number", "string"];
const PRINTER_FORMATS = ["byte", "date", "date-time", "double", "float", "int32", "int64", "password"];
const OPENAPI_TYPES = ["array", "boolean", "integer", "number", "object", "string"];
const VERSIONS_VALUE = { goSyntax: "[]apiextensions.CustomResourceDefinitionVersion{...}" };

function validateNames(names: CrdNames, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const label = (field: string, value: string, lower: boolean) => {
    if (value === "") return;
    const msgs = isDns1035Label(lower ? value.toLowerCase() : value);
    if (msgs.length > 0)
      errs.push(
        invalidValue(
          `${path}.${field}`,
          value,
          lower ? `may have mixed case, but should otherwise match: ${msgs.join(",")}` : msgs.join(","),
        ),
      );
  };
  label("plural", names.plural, false);
  label("singular", names.singular, false);
  label("kind", names.kind, true);
  label("listKind", names.listKind, true);
  names.shortNames.forEach((s, i) => {
    const msgs = isDns1035Label(s);
    if (msgs.length > 0) errs.push(invalidValue(`${path}.shortNames[${i}]`, s, msgs.join(",")));
  });
  if (names.kind !== "" && names.kind === names.listKind)
    errs.push(invalidValue(`${path}.listKind`, names.listKind, "kind and listKind may not be the same"));
  names.categories.forEach((c, i) => {
    const msgs = isDns1035Label(c);
    if (msgs.length > 0) errs.push(invalidValue(`${path}.categories[${i}]`, c, msgs.join(",")));
  });
  return errs;
}

type Level = "root" | "item" | "field";
const EMPTY_TYPE: Record<Level, string> = {
  root: "must not be empty at the root",
  item: "must not be empty for specified array items",
  field: "must not be empty for specified object fields",
};

/** The structural-schema invariants (pkg/apiserver/schema/validation.go) and valid types. */
function validateSchema(s: JsonObject, level: Level, path: string, errs: FieldError[]): void {
  const type = str(s["type"]);
  if (type !== "" && !OPENAPI_TYPES.includes(type))
    errs.push(notSupported(`${path}.type`, type, OPENAPI_TYPES));
  if (type === "array" && s["items"] === undefined) errs.push(required(`${path}.items`, "must be specified"));
  if (isObject(s["items"])) validateSchema(s["items"], "item", `${path}.items`, errs);
  for (const [k, v] of Object.entries(asObject(s["properties"])))
    validateSchema(asObject(v), "field", `${path}.properties[${k}]`, errs);
  if (s["additionalProperties"] !== undefined && level === "root")
    errs.push(forbiddenField(`${path}.additionalProperties`, "must not be used at the root"));
  if (isObject(s["additionalProperties"]))
    validateSchema(s["additionalProperties"], "field", `${path}.additionalProperties`, errs);
  const untyped =
    s["x-kubernetes-int-or-string"] === true || s["x-kubernetes-preserve-unknown-fields"] === true;
  if (type === "" && !untyped) errs.push(required(`${path}.type`, EMPTY_TYPE[level]));
  if (level !== "root") return;
  if (type !== "" && type !== "object")
    errs.push(invalidValue(`${path}.type`, type, "must be object at the root"));
  const props = asObject(s["properties"]);
  for (const k of ["kind", "apiVersion"])
    if (isObject(props[k]) && str(props[k]["type"]) !== "string")
      errs.push(invalidValue(`${path}.properties[${k}].type`, str(props[k]["type"]), "must be string"));
  if (isObject(props["metadata"]) && str(props["metadata"]["type"]) !== "object")
    errs.push(
      invalidValue(`${path}.properties[metadata].type`, str(props["metadata"]["type"]), "must be object"),
    );
}

function validateColumn(col: JsonObject, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const types = `must be one of ${PRINTER_TYPES.join(",")}`;
  if (str(col["name"]) === "") errs.push(required(`${path}.name`));
  const type = str(col["type"]);
  if (type === "") errs.push(required(`${path}.type`, types));
  else if (!PRINTER_TYPES.includes(type)) errs.push(invalidValue(`${path}.type`, type, types));
  const format = str(col["format"]);
  if (format !== "" && !PRINTER_FORMATS.includes(format))
    errs.push(invalidValue(`${path}.format`, format, `must be one of ${PRINTER_FORMATS.join(",")}`));
  const jsonPath = str(col["jsonPath"]);
  if (jsonPath === "") errs.push(required(`${path}.JSONPath`));
  else if (!jsonPath.startsWith("."))
    errs.push(invalidValue(`${path}.JSONPath`, jsonPath, "must be a simple json path starting with ."));
  return errs;
}

function validateSpec(crd: JsonObject): FieldError[] {
  const spec = asObject(crd["spec"]);
  const errs: FieldError[] = [];
  const group = str(spec["group"]);
  if (group === "") errs.push(required("spec.group"));
  else if (isDns1123Subdomain(group).length > 0)
    errs.push(invalidValue("spec.group", group, isDns1123Subdomain(group).join(",")));
  else if (group.split(".").length < 2)
    errs.push(invalidValue("spec.group", group, "should be a domain with at least one dot"));
  const scope = str(spec["scope"]);
  if (scope === "") errs.push(required("spec.scope"));
  else if (scope !== "Cluster" && scope !== "Namespaced")
    errs.push(notSupported("spec.scope", scope, ["Cluster", "Namespaced"]));
  const versions = versionsOf(crd);
  const seen = new Set<string>();
  let unique = true;
  versions.forEach((v, i) => {
    const at = `spec.versions[${i}]`;
    if (seen.has(v.name)) unique = false;
    seen.add(v.name);
    const msgs = isDns1035Label(v.name);
    if (msgs.length > 0) errs.push(invalidValue(`${at}.name`, v.name, msgs.join(",")));
    if (!isObject(v.schema)) errs.push(required(`${at}.schema.openAPIV3Schema`));
    else {
      const schemaErrs: FieldError[] = [];
      validateSchema(v.schema, "root", `${at}.schema.openAPIV3Schema`, schemaErrs);
      errs.push(...schemaErrs);
    }
    v.columns.forEach((c, j) => {
      errs.push(...validateColumn(c, `${at}.additionalPrinterColumns[${j}]`));
    });
  });
  if (!unique) errs.push(invalidValue("spec.versions", VERSIONS_VALUE, "must contain unique version names"));
  if (versions.filter((v) => v.storage).length !== 1)
    errs.push(
      invalidValue(
        "spec.versions",
        VERSIONS_VALUE,
        "must have exactly one version marked as storage version",
      ),
    );
  const names = namesOf(spec["names"]);
  for (const f of ["plural", "singular", "kind", "listKind"] as const)
    if (names[f] === "") errs.push(required(`spec.names.${f}`));
  errs.push(...validateNames(names, "spec.names"));
  const strategy = str(asObject(spec["conversion"])["strategy"]);
  if (strategy !== "None" && strategy !== "Webhook")
    errs.push(
      strategy === ""
        ? required("spec.conversion.strategy")
        : notSupported("spec.conversion.strategy", strategy, ["None", "Webhook"]),
    );
  if (spec["preserveUnknownFields"] === true)
    errs.push(
      invalidValue(
        "spec.preserveUnknownFields",
        true,
        "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
      ),
    );
  return errs;
}

function validateStoredVersions(crd: JsonObject): FieldError[] {
  const stored = strings(asObject(crd["status"])["storedVersions"]);
  const value = { goSyntax: `[]string{${stored.map((s) => JSON.stringify(s)).join(", ")}}` };
  if (stored.length === 0)
    return [invalidValue("status.storedVersions", value, "must have at least one stored version")];
  const errs: FieldError[] = [];
  const left = new Map(stored.map((v, i) => [v, i]));
  for (const v of versionsOf(crd)) {
    if (v.storage && !left.has(v.name))
      errs.push(invalidValue("status.storedVersions", value, `must have the storage version ${v.name}`));
    left.delete(v.name);
  }
  for (const [v, i] of left)
    errs.push(
      invalidValue(
        `status.storedVersions[${i}]`,
        v,
        `missing from spec.versions; ${v} was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in ${v} and removes ${v} from status.storedVersions`,
      ),
    );
  return errs;
}

function validateCrd(crd: JsonObject): FieldError[] {
  const spec = asObject(crd["spec"]);
  const name = str(metaOf(crd)["name"]);
  const wanted = `${str(namesOf(spec["names"]).plural)}.${str(spec["group"])}`;
  return [
    ...(name !== "" && name !== wanted
      ? [invalidValue("metadata.name", name, 'must be spec.names.plural+"."+spec.group')]
      : []),
    ...validateSpec(crd),
    ...validateNames(namesOf(asObject(crd["status"])["acceptedNames"]), "status.acceptedNames"),
    ...validateStoredVersions(crd),
  ];
}

function validateCrdUpdate(crd: JsonObject, old: JsonObject): FieldError[] {
  const spec = asObject(crd["spec"]);
  const was = asObject(old["spec"]);
  const errs = [
    ...validateSpec(crd),
    ...validateNames(namesOf(asObject(crd["status"])["acceptedNames"]), "status.acceptedNames"),
    ...validateStoredVersions(crd),
  ];
  if (str(spec["group"]) !== str(was["group"]))
    errs.push(invalidValue("spec.group", str(spec["group"]), "field is immutable"));
  const plural = namesOf(spec["names"]).plural;
  if (plural !== namesOf(was["names"]).plural)
    errs.push(invalidValue("spec.names.plural", plural, "field is immutable"));
  return errs;
}

// --- table (pkg/registry/customresourcedefinition/tableconvertor) ---

const CRD_TABLE: TableConvertor = {
  columns: [
    NAME_COLUMN,
    { name: "Scope", type: "string", format: "", description: "Cluster/Namespaced", priority: 0 },
    { name: "Versions", type: "string", format: "", description: "Served versions", priority: 0 },
    CREATED_AT_COLUMN,
    { name: "Group", type: "string", format: "", description: "API group", priority: 1 },
    { name: "Kind", type: "string", format: "", description: "CustomResource kind", priority: 1 },
    { name: "ShortNames", type: "string", format: "", description: "Short names", priority: 1 },
    { name: "Established", type: "boolean", format: "", description: "Established status", priority: 1 },
  ] satisfies TableColumn[],
  cells(crd) {
    const spec = asObject(crd["spec"]);
    const names = namesOf(spec["names"]);
    const versions = versionsOf(crd)
      .filter((v) => v.served)
      .map((v) => (v.storage ? `${v.name}(storage)` : v.name))
      .sort();
    return [
      str(metaOf(crd)["name"]),
      str(spec["scope"]),
      versions.join(","),
      rfc3339(metaOf(crd)["creationTimestamp"]),
      str(spec["group"]),
      names.kind,
      names.shortNames.join(","),
      isConditionTrue(crd, "Established"),
    ];
  },
};

export const CUSTOM_RESOURCE_DEFINITIONS: ResourceDef = {
  ...typedDef({
    group: APIEXTENSIONS_GROUP,
    resource: "customresourcedefinitions",
    singular: "customresourcedefinition",
    kind: "CustomResourceDefinition",
    namespaced: false,
    shortNames: ["crd", "crds"],
    etcdPrefix: "/registry/apiextensions.k8s.io/customresourcedefinitions",
    allowCreateOnUpdate: false,
    allowUnconditionalUpdate: false,
    subresources: ["status"],
    typedFields: [
      { path: "spec.group", type: "string", struct: "CustomResourceDefinitionSpec" },
      { path: "spec.scope", type: "string", struct: "CustomResourceDefinitionSpec" },
      { path: "spec.preserveUnknownFields", type: "bool", struct: "CustomResourceDefinitionSpec" },
      { path: "spec.names.plural", type: "string", struct: "CustomResourceDefinitionNames" },
      { path: "spec.names.singular", type: "string", struct: "CustomResourceDefinitionNames" },
      { path: "spec.names.kind", type: "string", struct: "CustomResourceDefinitionNames" },
      { path: "spec.names.listKind", type: "string", struct: "CustomResourceDefinitionNames" },
      { path: "spec.names.shortNames", type: "stringList", struct: "CustomResourceDefinitionNames" },
      { path: "spec.names.categories", type: "stringList", struct: "CustomResourceDefinitionNames" },
      { path: "spec.versions[].name", type: "string", struct: "CustomResourceDefinitionVersion" },
      { path: "spec.versions[].served", type: "bool", struct: "CustomResourceDefinitionVersion" },
      { path: "spec.versions[].storage", type: "bool", struct: "CustomResourceDefinitionVersion" },
      { path: "status.storedVersions", type: "stringList", struct: "CustomResourceDefinitionStatus" },
    ],
    order: ["spec", "status"],
    defaults: setDefaults,
    prepareForCreate,
    prepareForUpdate,
    validate: validateCrd,
    validateUpdate: validateCrdUpdate,
    prepareStatusUpdate(crd, old) {
      const out = structuredClone(crd);
      out["spec"] = structuredClone(old["spec"] ?? {});
      return out;
    },
  }),
  categories: ["api-extensions"],
  table: CRD_TABLE,
  markForDeletion,
};
