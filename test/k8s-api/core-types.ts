// Nodes, ConfigMaps, Leases and (implicit, read-only) Namespaces with the parts of their registry
// strategies clients can observe (pkg/registry/core/{node,configmap,namespace},
// pkg/registry/coordination/lease). Pods and events have their own files.
import { jsonEqual } from "./json-patch.ts";
import { at, type JsonObject, str } from "./resources.ts";
import { isObject, objectAt, typedDef } from "./typed-def.ts";
import { type FieldError, forbiddenField, invalidValue, tooLong } from "./validation.ts";

export { EVENTS, EVENTS_V1 } from "./events.ts";
export { PODS } from "./pods.ts";

// --- nodes ---

export const NODES = typedDef({
  group: "",
  resource: "nodes",
  singular: "node",
  kind: "Node",
  namespaced: false,
  shortNames: ["no"],
  etcdPrefix: "/registry/minions",
  allowCreateOnUpdate: false,
  allowUnconditionalUpdate: true,
  subresources: ["status"],
  fieldLabels: ["spec.unschedulable"],
  typedFields: [
    { path: "spec.unschedulable", type: "bool", struct: "NodeSpec" },
    { path: "spec.podCIDR", type: "string", struct: "NodeSpec" },
    { path: "status.conditions[].lastHeartbeatTime", type: "Time", struct: "NodeCondition" },
    { path: "status.conditions[].lastTransitionTime", type: "Time", struct: "NodeCondition" },
  ],
  order: ["spec", "status"],
  fields: (node) => ({ "spec.unschedulable": at(node, "spec.unschedulable") === "true" ? "true" : "false" }),
  prepareForUpdate(node, old) {
    if (old["status"] === undefined) delete node["status"];
    else node["status"] = structuredClone(old["status"]!);
  },
  prepareStatusUpdate(node, old) {
    const out = structuredClone(node);
    if (old["spec"] !== undefined) out["spec"] = structuredClone(old["spec"]!);
    return out;
  },
});

// --- configmaps ---

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const CONFIG_KEY_MSG =
  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

export const CONFIGMAPS = typedDef({
  group: "",
  resource: "configmaps",
  singular: "configmap",
  kind: "ConfigMap",
  namespaced: true,
  shortNames: ["cm"],
  etcdPrefix: "/registry/configmaps",
  allowCreateOnUpdate: false,
  allowUnconditionalUpdate: true,
  typedFields: [
    { path: "data", type: "stringMap", struct: "ConfigMap" },
    { path: "binaryData", type: "stringMap", struct: "ConfigMap" },
    { path: "immutable", type: "bool", struct: "ConfigMap" },
  ],
  order: ["immutable", "data", "binaryData"],
  validate(cm) {
    const errs: FieldError[] = [];
    let size = 0;
    for (const field of ["data", "binaryData"]) {
      const m = cm[field];
      if (!isObject(m)) continue;
      for (const [k, v] of Object.entries(m)) {
        if (!CONFIG_KEY.test(k) || k.length > 253)
          errs.push(invalidValue(`${field}[${k}]`, k, CONFIG_KEY_MSG));
        size += k.length + str(v).length;
      }
    }
    if (size > 1024 * 1024) errs.push(tooLong("", 1024 * 1024));
    return errs;
  },
  validateUpdate(cm, old) {
    if (old["immutable"] !== true) return [];
    const errs: FieldError[] = [];
    if (cm["immutable"] !== true)
      errs.push(forbiddenField("immutable", "field is immutable when `immutable` is set"));
    for (const f of ["data", "binaryData"])
      if (!jsonEqual(cm[f] ?? null, old[f] ?? null))
        errs.push(forbiddenField(f, "field is immutable when `immutable` is set"));
    return errs;
  },
});

// --- leases ---

export const LEASES = typedDef({
  group: "coordination.k8s.io",
  resource: "leases",
  singular: "lease",
  kind: "Lease",
  namespaced: true,
  etcdPrefix: "/registry/leases",
  allowCreateOnUpdate: true,
  allowUnconditionalUpdate: false,
  typedFields: [
    { path: "spec.holderIdentity", type: "string", struct: "LeaseSpec" },
    { path: "spec.leaseDurationSeconds", type: "int32", struct: "LeaseSpec" },
    { path: "spec.acquireTime", type: "MicroTime", struct: "LeaseSpec" },
    { path: "spec.renewTime", type: "MicroTime", struct: "LeaseSpec" },
    { path: "spec.leaseTransitions", type: "int32", struct: "LeaseSpec" },
    { path: "spec.strategy", type: "string", struct: "LeaseSpec" },
    { path: "spec.preferredHolder", type: "string", struct: "LeaseSpec" },
  ],
  order: ["spec"],
  defaults: (lease) => {
    lease["spec"] ??= {};
  },
  validate: leaseSpecErrors,
  validateUpdate: leaseSpecErrors,
});

function leaseSpecErrors(lease: JsonObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = objectAt(lease, "spec");
  const d = spec["leaseDurationSeconds"];
  if (typeof d === "number" && d <= 0)
    errs.push(invalidValue("spec.leaseDurationSeconds", d, "must be greater than 0"));
  const t = spec["leaseTransitions"];
  if (typeof t === "number" && t < 0)
    errs.push(invalidValue("spec.leaseTransitions", t, "must be greater than or equal to 0"));
  return errs;
}

// --- namespaces (implicit: every namespace exists and is Active; read-only) ---

export const NAMESPACES = typedDef({
  group: "",
  resource: "namespaces",
  singular: "namespace",
  kind: "Namespace",
  namespaced: false,
  shortNames: ["ns"],
  etcdPrefix: "/registry/namespaces",
  allowCreateOnUpdate: false,
  allowUnconditionalUpdate: true,
  fieldLabels: ["status.phase"],
  typedFields: [],
  order: ["spec", "status"],
  fields: (ns) => ({ "status.phase": at(ns, "status.phase") }),
});
