// field.Error as k8s.io/apimachinery/pkg/util/validation/field formats it, the name / label /
// annotation validators of k8s.io/apimachinery/pkg/util/validation, and generic ObjectMeta checks
// (apimachinery/pkg/api/validation/objectmeta.go).

export type FieldErrorType =
  | "FieldValueRequired"
  | "FieldValueInvalid"
  | "FieldValueForbidden"
  | "FieldValueTooLong"
  | "FieldValueNotSupported"
  | "FieldValueTypeInvalid"
  | "FieldValueDuplicate"
  | "FieldValueTooMany";

const TYPE_TEXT: Record<FieldErrorType, string> = {
  FieldValueRequired: "Required value",
  FieldValueInvalid: "Invalid value",
  FieldValueForbidden: "Forbidden",
  FieldValueTooLong: "Too long",
  FieldValueNotSupported: "Unsupported value",
  FieldValueTypeInvalid: "Invalid value",
  FieldValueDuplicate: "Duplicate value",
  FieldValueTooMany: "Too many",
};

/** A bad value as Go prints it: strings with %q, numbers/bools plain, `goSyntax` verbatim (%#v). */
export type BadValue = string | number | boolean | null | { readonly goSyntax: string };

export interface FieldError {
  readonly type: FieldErrorType;
  readonly field: string;
  readonly value?: BadValue;
  readonly detail: string;
}

export const required = (field: string, detail = ""): FieldError => ({
  type: "FieldValueRequired",
  field,
  detail,
});
export const invalidValue = (field: string, value: BadValue, detail: string): FieldError => ({
  type: "FieldValueInvalid",
  field,
  value,
  detail,
});
export const forbiddenField = (field: string, detail: string): FieldError => ({
  type: "FieldValueForbidden",
  field,
  detail,
});
export const tooLong = (field: string, max: number): FieldError => ({
  type: "FieldValueTooLong",
  field,
  detail: `may not be more than ${max} bytes`,
});
export const notSupported = (field: string, value: BadValue, valid: readonly string[]): FieldError => ({
  type: "FieldValueNotSupported",
  field,
  value,
  detail: `supported values: ${valid.map((v) => JSON.stringify(v)).join(", ")}`,
});
export const typeInvalid = (field: string, value: BadValue, detail: string): FieldError => ({
  type: "FieldValueTypeInvalid",
  field,
  value,
  detail,
});

/** field.Error.ErrorBody(), optionally prefixed by the field path (field.Error.Error()). */
export function fieldErrorString(e: FieldError, withField: boolean): string {
  const text = TYPE_TEXT[e.type];
  let body: string;
  const omitValue =
    e.type === "FieldValueRequired" ||
    e.type === "FieldValueForbidden" ||
    e.type === "FieldValueTooLong" ||
    e.value === undefined;
  if (omitValue) body = text;
  else if (e.value === null) body = `${text}: "null"`;
  else if (typeof e.value === "string") body = `${text}: ${JSON.stringify(e.value)}`;
  else if (typeof e.value === "object") body = `${text}: ${e.value.goSyntax}`;
  else body = `${text}: ${String(e.value)}`;
  if (e.detail) body += `: ${e.detail}`;
  return withField ? `${e.field}: ${body}` : body;
}

export const child = (path: string, name: string): string => (path ? `${path}.${name}` : name);

// --- names (k8s.io/apimachinery/pkg/util/validation/validation.go) ---

const DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const DNS1123_LABEL = new RegExp(`^${DNS1123_LABEL_FMT}$`);
const DNS1123_SUBDOMAIN = new RegExp(`^${DNS1123_SUBDOMAIN_FMT}$`);
const QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME = new RegExp(`^${QUALIFIED_NAME_FMT}$`);
const LABEL_VALUE_FMT = `(${QUALIFIED_NAME_FMT})?`;
const LABEL_VALUE = new RegExp(`^${LABEL_VALUE_FMT}$`);

const regexError = (msg: string, fmt: string, examples: readonly string[]): string =>
  `${msg} (e.g. ${examples.map((e) => `'${e}'`).join(",  or ")}, regex used for validation is '${fmt}')`;

/** A name checked by length and one regex, as the util/validation Is* functions do. */
function nameErrors(
  value: string,
  max: number,
  re: RegExp,
  msg: string,
  fmt: string,
  examples: string[],
): string[] {
  const errs: string[] = [];
  if (value.length > max) errs.push(`must be no more than ${max} characters`);
  if (!re.test(value)) errs.push(regexError(msg, fmt, examples));
  return errs;
}

export const isDns1123Subdomain = (value: string): string[] =>
  nameErrors(
    value,
    253,
    DNS1123_SUBDOMAIN,
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
    DNS1123_SUBDOMAIN_FMT,
    ["example.com"],
  );

export const isDns1123Label = (value: string): string[] =>
  nameErrors(
    value,
    63,
    DNS1123_LABEL,
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
    DNS1123_LABEL_FMT,
    ["my-name", "123-abc"],
  );

const DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL = new RegExp(`^${DNS1035_LABEL_FMT}$`);

export const isDns1035Label = (value: string): string[] =>
  nameErrors(
    value,
    63,
    DNS1035_LABEL,
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
    DNS1035_LABEL_FMT,
    ["my-name", "abc-123"],
  );

/** NameIsDNSSubdomain(name, prefix): with prefix, a trailing '-' is allowed (generateName). */
export function nameIsDnsSubdomain(name: string, prefix: boolean): string[] {
  return isDns1123Subdomain(prefix && name.endsWith("-") ? `${name.slice(0, -1)}a` : name);
}

export function isQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split("/");
  let name: string;
  if (parts.length === 1) name = parts[0]!;
  else if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) errs.push("prefix part must be non-empty");
    else for (const msg of isDns1123Subdomain(prefix)) errs.push(`prefix part ${msg}`);
  } else {
    return [
      `${regexError(
        "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        QUALIFIED_NAME_FMT,
        ["MyName", "my.name", "123-abc"],
      )} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push("name part must be non-empty");
  else if (name.length > 63) errs.push("name part must be no more than 63 characters");
  if (!QUALIFIED_NAME.test(name))
    errs.push(
      regexError(
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        QUALIFIED_NAME_FMT,
        ["MyName", "my.name", "123-abc"],
      ),
    );
  return errs;
}

export function isValidLabelValue(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push("must be no more than 63 characters");
  if (!LABEL_VALUE.test(value))
    errs.push(
      regexError(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        LABEL_VALUE_FMT,
        ["MyValue", "my_value", "12345"],
      ),
    );
  return errs;
}

// --- ObjectMeta ---

type Meta = Record<string, unknown>;

const TOTAL_ANNOTATION_SIZE = 256 * 1024;

/** path.ValidatePathSegmentName: the only name rule of types without a stricter one (events). */
export function validatePathSegmentName(name: string, prefix: boolean): string[] {
  const errs: string[] = [];
  if (!prefix && (name === "." || name === "..")) errs.push(`may not be '${name}'`);
  if (name.includes("/")) errs.push("may not contain '/'");
  if (name.includes("%")) errs.push("may not contain '%'");
  return errs;
}

export type NameValidator = (name: string, prefix: boolean) => string[];

/** ValidateObjectMeta for a create (or the fields an update re-checks). */
export function validateObjectMeta(
  meta: Meta,
  namespaced: boolean,
  nameFn: NameValidator = nameIsDnsSubdomain,
): FieldError[] {
  const errs: FieldError[] = [];
  const name = typeof meta["name"] === "string" ? meta["name"] : "";
  const generateName = typeof meta["generateName"] === "string" ? meta["generateName"] : "";
  if (generateName)
    for (const msg of nameFn(generateName, true))
      errs.push(invalidValue("metadata.generateName", generateName, msg));
  if (!name) errs.push(required("metadata.name", "name or generateName is required"));
  else for (const msg of nameFn(name, false)) errs.push(invalidValue("metadata.name", name, msg));
  const namespace = typeof meta["namespace"] === "string" ? meta["namespace"] : "";
  if (namespaced) {
    if (!namespace) errs.push(required("metadata.namespace"));
    else
      for (const msg of isDns1123Label(namespace))
        errs.push(invalidValue("metadata.namespace", namespace, msg));
  } else if (namespace) errs.push(forbiddenField("metadata.namespace", "not allowed on this type"));
  const labels = (meta["labels"] ?? {}) as Record<string, string>;
  for (const [k, v] of Object.entries(labels)) {
    for (const msg of isQualifiedName(k)) errs.push(invalidValue("metadata.labels", k, msg));
    for (const msg of isValidLabelValue(v)) errs.push(invalidValue("metadata.labels", v, msg));
  }
  const annotations = (meta["annotations"] ?? {}) as Record<string, string>;
  let size = 0;
  for (const [k, v] of Object.entries(annotations)) {
    for (const msg of isQualifiedName(k.toLowerCase()))
      errs.push(invalidValue("metadata.annotations", k, msg));
    size += k.length + v.length;
  }
  if (size > TOTAL_ANNOTATION_SIZE) errs.push(tooLong("metadata.annotations", TOTAL_ANNOTATION_SIZE));
  const finalizers = (meta["finalizers"] ?? []) as string[];
  for (const f of finalizers)
    for (const msg of isQualifiedName(f)) errs.push(invalidValue("metadata.finalizers", f, msg));
  const owners = (meta["ownerReferences"] ?? []) as Record<string, unknown>[];
  let controllers = 0;
  for (const ref of owners) {
    for (const [field, what] of [
      ["apiVersion", "version"],
      ["kind", "kind"],
      ["name", "name"],
      ["uid", "uid"],
    ] as const) {
      const v = ref[field];
      if (typeof v !== "string" || v === "")
        errs.push(invalidValue(`metadata.ownerReferences.${field}`, "", `${what} must not be empty`));
    }
    if (ref["controller"] === true) controllers++;
  }
  if (controllers > 1)
    errs.push(
      invalidValue(
        "metadata.ownerReferences",
        { goSyntax: "[]v1.OwnerReference{...}" },
        "Only one reference can have Controller set to true",
      ),
    );
  return errs;
}

/** ValidateObjectMetaUpdate: identity fields are immutable, no new finalizers once deleting. */
export function validateObjectMetaUpdate(meta: Meta, old: Meta): FieldError[] {
  const errs: FieldError[] = [];
  for (const field of ["name", "namespace", "uid"] as const) {
    const now = (meta[field] ?? "") as string;
    const was = (old[field] ?? "") as string;
    if (now !== was) errs.push(invalidValue(`metadata.${field}`, now, "field is immutable"));
  }
  if (old["deletionTimestamp"]) {
    const before = new Set((old["finalizers"] ?? []) as string[]);
    const added = ((meta["finalizers"] ?? []) as string[]).filter((f) => !before.has(f));
    if (added.length > 0)
      errs.push(
        forbiddenField(
          "metadata.finalizers",
          `no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(", ")}}`,
        ),
      );
  }
  return errs;
}
