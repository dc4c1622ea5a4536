// Server-side printing: the `meta.k8s.io` Table a GET or LIST answers when the client asks for
// `application/json;as=Table;v=v1;g=meta.k8s.io` (what `kubectl get` sends). Custom resources get
// the columns of their CRD version's additionalPrinterColumns after Name, each cell its jsonPath
// evaluated on the object, typed as apiextensions' tableconvertor does (string columns printed as
// client-go's jsonpath prints, integer/number/boolean kept as JSON values, date as the age
// `kubectl` shows: "5m10s", "3d4h"); a CRD version without columns gets Age. Other resources get
// their own convertor or the generic one (rest.NewDefaultTableConvertor: Name, Created At). Rows
// carry the object as PartialObjectMetadata (includeObject=Metadata, the default), whole (Object)
// or not at all (None).
import type { Json } from "./json-patch.ts";
import { type JsonObject, metaOf, str } from "./resources.ts";
import { badRequest } from "./status.ts";
import { encodeTypedBody } from "./typed.ts";

export interface TableColumn {
  readonly name: string;
  readonly type: string;
  readonly format: string;
  readonly description: string;
  readonly priority: number;
}

export interface TableConvertor {
  readonly columns: readonly TableColumn[];
  /** One row's cells (as many as columns) for a stored object. */
  cells(obj: JsonObject, now: number): Json[];
}

const NAME_DOC =
  "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const CREATED_DOC =
  "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

export const NAME_COLUMN: TableColumn = {
  name: "Name",
  type: "string",
  format: "name",
  description: NAME_DOC,
  priority: 0,
};
export const CREATED_AT_COLUMN: TableColumn = {
  name: "Created At",
  type: "date",
  format: "",
  description: CREATED_DOC,
  priority: 0,
};

/** metav1.Time as RFC 3339 in UTC ("0001-01-01T00:00:00Z" when unset, as Go formats a zero time). */
export function rfc3339(v: Json | undefined): string {
  const ms = typeof v === "string" ? Date.parse(v) : Number.NaN;
  return Number.isNaN(ms) ? "0001-01-01T00:00:00Z" : `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** The generic convertor (rest.NewDefaultTableConvertor). */
export const DEFAULT_TABLE: TableConvertor = {
  columns: [NAME_COLUMN, CREATED_AT_COLUMN],
  cells: (obj) => [str(metaOf(obj)["name"]), rfc3339(metaOf(obj)["creationTimestamp"])],
};

/** duration.HumanDuration: ~2–3 significant figures, as kubectl's AGE column. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${hours / 24}d` : `${Math.trunc(hours / 24)}d${hours % 24}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 365 * 2) return `${days}d`;
  if (hours < 24 * 365 * 8)
    return days % 365 === 0 ? `${days / 365}y` : `${Math.trunc(days / 365)}y${days % 365}d`;
  return `${Math.trunc(days / 365)}y`;
}

/** table.ConvertToHumanReadableDateType: "<unknown>" for a zero or unparsable time. */
function age(v: Json | undefined, now: number): string {
  const ms = typeof v === "string" ? Date.parse(v) : Number.NaN;
  return Number.isNaN(ms) ? "<unknown>" : humanDuration(now - ms);
}

// --- printer columns (apiextensions-apiserver pkg/registry/customresource/tableconvertor) ---

type Step = { readonly field: string } | { readonly index: number };

/**
 * The simple JSONPaths printer columns use (`.spec.range`, `.status.conditions[0].type`,
 * `.metadata.labels['app.kubernetes.io/name']`); undefined for what client-go's parser would
 * reject or this double does not evaluate (filters, wildcards, ranges).
 */
export function parseSimpleJsonPath(path: string): Step[] | undefined {
  const steps: Step[] = [];
  let i = 0;
  while (i < path.length) {
    if (path[i] === ".") {
      const m = /^\.([A-Za-z0-9_-]+)/.exec(path.slice(i));
      if (!m) return path.length === 1 ? steps : undefined;
      steps.push({ field: m[1]! });
      i += m[0].length;
    } else if (path[i] === "[") {
      const m = /^\[(?:(\d+)|'([^']*)'|"([^"]*)")\]/.exec(path.slice(i));
      if (!m) return undefined;
      steps.push(m[1] !== undefined ? { index: Number(m[1]) } : { field: m[2] ?? m[3]! });
      i += m[0].length;
    } else return undefined;
  }
  return steps;
}

function walk(obj: Json, steps: readonly Step[]): Json | undefined {
  let cur: Json | undefined = obj;
  for (const s of steps) {
    if ("field" in s) {
      if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
      cur = Object.hasOwn(cur, s.field) ? cur[s.field] : undefined;
    } else {
      if (!Array.isArray(cur) || s.index >= cur.length) return undefined;
      cur = cur[s.index];
    }
    if (cur === undefined) return undefined;
  }
  return cur;
}

/** Go's %v of a JSON number as the unstructured decoder holds it (int64, else float64). */
function goNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 2 ** 63) return String(n);
  const abs = Math.abs(n);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e21)) return n.toExponential().replace(/e([+-])(\d)$/, "e$10$2");
  return String(n);
}

/** jsonpath PrintResults of one value: maps and lists as JSON, the rest as fmt.Fprint does. */
function printed(v: Json): string {
  if (v === null) return "<no value>";
  if (typeof v === "object") return goJson(v);
  if (typeof v === "number") return goNumber(v);
  return String(v);
}

/** encoding/json: map keys sorted, <, > and & escaped. */
function goJson(v: Json): string {
  if (v === null || typeof v !== "object")
    return JSON.stringify(v).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
  if (Array.isArray(v)) return `[${v.map(goJson).join(",")}]`;
  return `{${Object.keys(v)
    .sort()
    .map((k) => `${goJson(k)}:${goJson(v[k]!)}`)
    .join(",")}}`;
}

/** cellForJSONValue: a value of another type than the column's is an empty cell. */
function typedCell(type: string, v: Json, now: number): Json {
  switch (type) {
    case "integer":
      return typeof v === "number" ? Math.trunc(v) : null;
    case "number":
      return typeof v === "number" ? v : null;
    case "boolean":
      return typeof v === "boolean" ? v : null;
    case "date":
      if (typeof v !== "string") return null;
      return Number.isNaN(Date.parse(v)) || !/^\d{4}-\d{2}-\d{2}T/.test(v) ? "<invalid>" : age(v, now);
    default:
      return null;
  }
}

/**
 * The convertor of one CRD version's additionalPrinterColumns (none: Age). As tableconvertor.New,
 * a column whose jsonPath does not parse ends the list there.
 */
export function printerColumnsTable(crdColumns: readonly JsonObject[]): TableConvertor {
  const defs =
    crdColumns.length > 0
      ? crdColumns
      : [{ name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp", description: CREATED_DOC }];
  const columns: TableColumn[] = [NAME_COLUMN];
  const paths: Step[][] = [];
  for (const c of defs) {
    const jsonPath = str(c["jsonPath"]);
    const steps = parseSimpleJsonPath(jsonPath);
    if (steps === undefined) break;
    paths.push(steps);
    const description = str(c["description"]);
    columns.push({
      name: str(c["name"]),
      type: str(c["type"]),
      format: str(c["format"]),
      description: description || `Custom resource definition column (in JSONPath format): ${jsonPath}`,
      priority: typeof c["priority"] === "number" ? c["priority"] : 0,
    });
  }
  return {
    columns,
    cells(obj, now) {
      const cells: Json[] = [str(metaOf(obj)["name"])];
      paths.forEach((steps, i) => {
        const v = walk(obj, steps);
        const type = columns[i + 1]!.type;
        if (v === undefined) cells.push(null);
        else if (type === "string") cells.push(printed(v));
        else cells.push(v === null ? null : typedCell(type, v, now));
      });
      return cells;
    },
  };
}

// --- the response ---

export type IncludeObject = "Metadata" | "Object" | "None";

/** TableOptions from the query (ValidateTableOptions: 400 for anything else). */
export function includeObjectOf(query: URLSearchParams): IncludeObject {
  const v = query.get("includeObject") ?? "";
  if (v === "" || v === "Metadata") return "Metadata";
  if (v === "Object" || v === "None") return v;
  throw badRequest(
    `Unable to convert to Table as requested: includeObject: Invalid value: ${JSON.stringify(v)}: must be 'Metadata', 'Object', 'None', or empty`,
  );
}

export interface TableRequest {
  /** "meta.k8s.io/v1" or "meta.k8s.io/v1beta1", as the client asked. */
  readonly apiVersion: string;
  readonly include: IncludeObject;
}

/** encoding/json's escaping of <, >, & and U+2028/9 (only ever inside strings). */
const goEscaped = (json: string): string =>
  json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

export interface TableItem {
  /** The object as GET answers it (kind and apiVersion included). */
  readonly obj: JsonObject;
  /** Its JSON as the server encodes it, embedded verbatim with includeObject=Object. */
  readonly json: string;
}

/**
 * A Table of `items`; `listMeta` is the list's metadata (resourceVersion, continue,
 * remainingItemCount), or a single object's resourceVersion.
 */
export function tableJson(
  convertor: TableConvertor,
  items: readonly TableItem[],
  listMeta: JsonObject,
  req: TableRequest,
  now = Date.now(),
): string {
  const rows = items.map(({ obj, json }) => {
    const cells = goEscaped(JSON.stringify(convertor.cells(obj, now)));
    if (req.include === "None") return `{"cells":${cells}}`;
    if (req.include === "Object") return `{"cells":${cells},"object":${json}}`;
    const meta = encodeTypedBody({ metadata: metaOf(obj) }, []);
    return `{"cells":${cells},"object":{"kind":"PartialObjectMetadata","apiVersion":${JSON.stringify(req.apiVersion)},${meta.slice(1)}}`;
  });
  const head = goEscaped(
    JSON.stringify({
      kind: "Table",
      apiVersion: req.apiVersion,
      metadata: listMeta,
      columnDefinitions: convertor.columns,
    }),
  );
  return `${head.slice(0, -1)},"rows":[${rows.join(",")}]}`;
}
