// Events: core/v1 is the storage form (pkg/registry/core/event), events.k8s.io/v1 a view of the
// same objects with renamed fields (pkg/apis/events/v1/conversion.go). Validation is
// legacyValidateEvent for both, plus the strict events.k8s.io/v1 create rules.
import { at, type JsonObject, metaOf, type ResourceDef, str } from "./resources.ts";
import { decodeTyped, encodeTypedBody, META_FIELDS, type TypedField, withTypeMeta } from "./typed.ts";
import { typedDef } from "./typed-def.ts";
import {
  type FieldError,
  invalidValue,
  required,
  tooLong,
  validateObjectMeta,
  validatePathSegmentName,
} from "./validation.ts";

const EVENT_ORDER = [
  "involvedObject",
  "reason",
  "message",
  "source",
  "firstTimestamp",
  "lastTimestamp",
  "count",
  "type",
  "eventTime",
  "series",
  "action",
  "related",
  "reportingComponent",
  "reportingInstance",
];

function eventDefaults(e: JsonObject): void {
  e["involvedObject"] ??= {};
  e["source"] ??= {};
  e["firstTimestamp"] ??= null;
  e["lastTimestamp"] ??= null;
  e["eventTime"] ??= null;
  e["reportingComponent"] ??= "";
  e["reportingInstance"] ??= "";
  if (e["count"] === 0) delete e["count"];
}

/** legacyValidateEvent (pkg/apis/core/validation/events.go), for both API versions. */
function legacyEventErrors(e: JsonObject, v1Names: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const ns = str(metaOf(e)["namespace"]);
  const involvedNs = at(e, "involvedObject.namespace");
  const controllerField = v1Names ? "reportingComponent" : "reportingController";
  if (e["eventTime"] === null || e["eventTime"] === undefined) {
    if (involvedNs === "" ? ns !== "" && ns !== "default" : ns !== involvedNs)
      errs.push(invalidValue("involvedObject.namespace", involvedNs, "does not match event.namespace"));
  } else {
    if (involvedNs === "" && ns !== "default" && ns !== "kube-system")
      errs.push(invalidValue("involvedObject.namespace", involvedNs, "does not match event.namespace"));
    if (!str(e["reportingComponent"])) errs.push(required(controllerField));
    if (!str(e["reportingInstance"])) errs.push(required("reportingInstance"));
    if (!str(e["action"])) errs.push(required("action"));
    if (!str(e["reason"])) errs.push(required("reason"));
    if (str(e["message"]).length > 1024) errs.push(tooLong(v1Names ? "message" : "note", 1024));
  }
  return errs;
}

const EVENT_TYPED: TypedField[] = [
  { path: "count", type: "int32", struct: "Event" },
  { path: "firstTimestamp", type: "Time", struct: "Event" },
  { path: "lastTimestamp", type: "Time", struct: "Event" },
  { path: "eventTime", type: "MicroTime", struct: "Event" },
  { path: "series.count", type: "int32", struct: "EventSeries" },
  { path: "series.lastObservedTime", type: "MicroTime", struct: "EventSeries" },
  { path: "reason", type: "string", struct: "Event" },
  { path: "message", type: "string", struct: "Event" },
  { path: "type", type: "string", struct: "Event" },
];

function eventFields(e: JsonObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of ["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"])
    out[`involvedObject.${f}`] = at(e, `involvedObject.${f}`);
  out["reason"] = str(e["reason"]);
  out["reportingComponent"] = str(e["reportingComponent"]);
  out["source"] = at(e, "source.component") || str(e["reportingComponent"]);
  out["type"] = str(e["type"]);
  return out;
}

const EVENT_FIELD_LABELS = [
  "involvedObject.kind",
  "involvedObject.namespace",
  "involvedObject.name",
  "involvedObject.uid",
  "involvedObject.apiVersion",
  "involvedObject.resourceVersion",
  "involvedObject.fieldPath",
  "reason",
  "reportingComponent",
  "source",
  "type",
];

export const EVENTS = typedDef({
  group: "",
  resource: "events",
  singular: "event",
  kind: "Event",
  namespaced: true,
  shortNames: ["ev"],
  etcdPrefix: "/registry/events",
  allowCreateOnUpdate: true,
  allowUnconditionalUpdate: true,
  fieldLabels: EVENT_FIELD_LABELS,
  typedFields: EVENT_TYPED,
  order: EVENT_ORDER,
  nameFn: validatePathSegmentName,
  defaults: eventDefaults,
  fields: eventFields,
  validate: (e) => legacyEventErrors(e, true),
});

/** events.k8s.io/v1 ↔ core/v1 field renames (pkg/apis/events/v1/conversion.go). */
const RENAMES: readonly (readonly [string, string])[] = [
  ["regarding", "involvedObject"],
  ["note", "message"],
  ["deprecatedSource", "source"],
  ["deprecatedFirstTimestamp", "firstTimestamp"],
  ["deprecatedLastTimestamp", "lastTimestamp"],
  ["deprecatedCount", "count"],
  ["reportingController", "reportingComponent"],
];

function rename(obj: JsonObject, pairs: readonly (readonly [string, string])[]): JsonObject {
  const out: JsonObject = {};
  const map = new Map(pairs);
  for (const [k, v] of Object.entries(obj)) out[map.get(k) ?? k] = v;
  return out;
}

const EVENTS_V1_ORDER = [
  "eventTime",
  "series",
  "reportingController",
  "reportingInstance",
  "action",
  "reason",
  "regarding",
  "related",
  "note",
  "type",
  "deprecatedSource",
  "deprecatedFirstTimestamp",
  "deprecatedLastTimestamp",
  "deprecatedCount",
];

function toEventsV1(core: JsonObject): JsonObject {
  const out = rename(
    core,
    RENAMES.map(([a, b]) => [b, a] as const),
  );
  for (const k of ["reportingController", "reportingInstance", "action", "reason", "note", "type"])
    if (out[k] === "") delete out[k];
  out["eventTime"] ??= null;
  out["regarding"] ??= {};
  out["deprecatedSource"] ??= {};
  out["deprecatedFirstTimestamp"] ??= null;
  out["deprecatedLastTimestamp"] ??= null;
  return out;
}

export const EVENTS_V1: ResourceDef = {
  ...EVENTS,
  group: "events.k8s.io",
  shortNames: ["ev"],
  decode(obj) {
    return decodeTyped(obj, [
      ...META_FIELDS("ObjectMeta"),
      { path: "eventTime", type: "MicroTime", struct: "Event" },
      { path: "deprecatedFirstTimestamp", type: "Time", struct: "Event" },
      { path: "deprecatedLastTimestamp", type: "Time", struct: "Event" },
      { path: "deprecatedCount", type: "int32", struct: "Event" },
      { path: "series.count", type: "int32", struct: "EventSeries" },
      { path: "series.lastObservedTime", type: "MicroTime", struct: "EventSeries" },
      { path: "note", type: "string", struct: "Event" },
    ]);
  },
  toStorage(obj) {
    const core = rename(obj, RENAMES);
    eventDefaults(core);
    return core;
  },
  fromStorage: toEventsV1,
  external(json) {
    const v1 = toEventsV1(JSON.parse(json) as JsonObject);
    return withTypeMeta(encodeTypedBody(v1, EVENTS_V1_ORDER), "Event", "events.k8s.io/v1");
  },
  item(json) {
    return encodeTypedBody(toEventsV1(JSON.parse(json) as JsonObject), EVENTS_V1_ORDER);
  },
  validate(e) {
    const errs = legacyEventErrors(e, false);
    errs.push(...validateObjectMeta(metaOf(e), true));
    if (e["eventTime"] === null || e["eventTime"] === undefined) errs.push(required("eventTime"));
    const type = str(e["type"]);
    if (type !== "Normal" && type !== "Warning")
      errs.push(invalidValue("type", "", `has invalid value: ${type}`));
    if (e["firstTimestamp"] !== null && e["firstTimestamp"] !== undefined)
      errs.push(invalidValue("deprecatedFirstTimestamp", "", "needs to be unset"));
    if (e["lastTimestamp"] !== null && e["lastTimestamp"] !== undefined)
      errs.push(invalidValue("deprecatedLastTimestamp", "", "needs to be unset"));
    if (typeof e["count"] === "number" && e["count"] !== 0)
      errs.push(invalidValue("deprecatedCount", "", "needs to be unset"));
    if (at(e, "source.component") || at(e, "source.host"))
      errs.push(invalidValue("deprecatedSource", "", "needs to be unset"));
    return errs;
  },
};
