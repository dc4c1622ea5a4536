// Pods (pkg/registry/core/pod/strategy.go): defaulting, status reset on create/update, the
// /status subresource, spec immutability, and CheckGracefulDeletion (grace period from the
// request or spec.terminationGracePeriodSeconds; 0 when unscheduled or terminated).
import { jsonEqual } from "./json-patch.ts";
import { at, type JsonObject, metaOf, str } from "./resources.ts";
import { isObject, objectAt, typedDef } from "./typed-def.ts";
import {
  type FieldError,
  forbiddenField,
  invalidValue,
  isDns1123Label,
  notSupported,
  required,
} from "./validation.ts";

function podQos(pod: JsonObject): string {
  const spec = objectAt(pod, "spec");
  const containers = [
    ...(Array.isArray(spec["containers"]) ? spec["containers"] : []),
    ...(Array.isArray(spec["initContainers"]) ? spec["initContainers"] : []),
  ].filter(isObject);
  let any = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const res = isObject(c["resources"]) ? c["resources"] : {};
    const req = isObject(res["requests"]) ? res["requests"] : {};
    const lim = isObject(res["limits"]) ? res["limits"] : {};
    for (const r of ["cpu", "memory"]) {
      if (req[r] !== undefined || lim[r] !== undefined) any = true;
      if (lim[r] === undefined || (req[r] !== undefined && req[r] !== lim[r])) guaranteed = false;
    }
  }
  return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
}

function podDefaults(pod: JsonObject): void {
  const spec = objectAt(pod, "spec");
  podSpecDefaults(spec);
  // SetDefaults_Pod, not SetDefaults_PodSpec: a workload's pod template does not get it.
  spec["enableServiceLinks"] ??= true;
}

/** SetDefaults_PodSpec and its containers' defaults: a pod's spec and a workload's pod template. */
export function podSpecDefaults(spec: JsonObject): void {
  spec["restartPolicy"] ??= "Always";
  spec["terminationGracePeriodSeconds"] ??= 30;
  spec["dnsPolicy"] ??= "ClusterFirst";
  spec["securityContext"] ??= {};
  spec["schedulerName"] ??= "default-scheduler";
  for (const list of ["containers", "initContainers"]) {
    const cs = spec[list];
    if (!Array.isArray(cs)) continue;
    for (const c of cs) {
      if (!isObject(c)) continue;
      c["resources"] ??= {};
      c["terminationMessagePath"] ??= "/dev/termination-log";
      c["terminationMessagePolicy"] ??= "File";
      const image = str(c["image"]);
      c["imagePullPolicy"] ??=
        image.endsWith(":latest") || !/:[^/]+$/.test(image) ? "Always" : "IfNotPresent";
    }
  }
}

const POD_UPDATABLE =
  "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

function mutableStripped(spec: JsonObject): JsonObject {
  const copy = structuredClone(spec);
  delete copy["activeDeadlineSeconds"];
  delete copy["tolerations"];
  for (const list of ["containers", "initContainers"]) {
    const cs = copy[list];
    if (Array.isArray(cs)) for (const c of cs) if (isObject(c)) delete c["image"];
  }
  return copy;
}

export const PODS = typedDef({
  group: "",
  resource: "pods",
  singular: "pod",
  kind: "Pod",
  namespaced: true,
  shortNames: ["po"],
  etcdPrefix: "/registry/pods",
  allowCreateOnUpdate: false,
  allowUnconditionalUpdate: true,
  returnDeletedObject: true,
  subresources: ["status"],
  fieldLabels: [
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
  ],
  typedFields: [
    { path: "spec.nodeName", type: "string", struct: "PodSpec" },
    { path: "spec.terminationGracePeriodSeconds", type: "int64", struct: "PodSpec" },
    { path: "spec.restartPolicy", type: "string", struct: "PodSpec" },
    { path: "spec.serviceAccountName", type: "string", struct: "PodSpec" },
    { path: "spec.hostNetwork", type: "bool", struct: "PodSpec" },
    { path: "spec.containers[].name", type: "string", struct: "Container" },
    { path: "spec.containers[].image", type: "string", struct: "Container" },
    { path: "status.phase", type: "string", struct: "PodStatus" },
    { path: "status.podIP", type: "string", struct: "PodStatus" },
    { path: "status.startTime", type: "Time", struct: "PodStatus" },
    { path: "status.conditions[].lastProbeTime", type: "Time", struct: "PodCondition" },
    { path: "status.conditions[].lastTransitionTime", type: "Time", struct: "PodCondition" },
  ],
  order: ["spec", "status"],
  defaults: podDefaults,
  fields: (pod) => ({
    "spec.nodeName": at(pod, "spec.nodeName"),
    "spec.restartPolicy": at(pod, "spec.restartPolicy"),
    "spec.schedulerName": at(pod, "spec.schedulerName"),
    "spec.serviceAccountName": at(pod, "spec.serviceAccountName"),
    "spec.hostNetwork": at(pod, "spec.hostNetwork") === "true" ? "true" : "false",
    "status.phase": at(pod, "status.phase"),
    "status.podIP": at(pod, "status.podIP"),
    "status.nominatedNodeName": at(pod, "status.nominatedNodeName"),
  }),
  prepareForCreate(pod) {
    pod["status"] = { phase: "Pending", qosClass: podQos(pod) };
  },
  prepareForUpdate(pod, old) {
    if (old["status"] === undefined) delete pod["status"];
    else pod["status"] = structuredClone(old["status"]!);
  },
  validate(pod) {
    const errs: FieldError[] = [];
    const spec = objectAt(pod, "spec");
    const containers = spec["containers"];
    if (!Array.isArray(containers) || containers.length === 0) errs.push(required("spec.containers"));
    else
      containers.forEach((c, i) => {
        const name = isObject(c) ? str(c["name"]) : "";
        if (!name) errs.push(required(`spec.containers[${i}].name`));
        else
          for (const msg of isDns1123Label(name))
            errs.push(invalidValue(`spec.containers[${i}].name`, name, msg));
        if (!isObject(c) || !str(c["image"])) errs.push(required(`spec.containers[${i}].image`));
      });
    const policy = str(spec["restartPolicy"]);
    if (!["Always", "OnFailure", "Never"].includes(policy))
      errs.push(notSupported("spec.restartPolicy", policy, ["Always", "OnFailure", "Never"]));
    return errs;
  },
  validateUpdate(pod, old) {
    const a = mutableStripped(objectAt(pod, "spec"));
    const b = mutableStripped(objectAt(old, "spec"));
    return jsonEqual(a, b) ? [] : [forbiddenField("spec", `${POD_UPDATABLE}\n  core.PodSpec{...}`)];
  },
  prepareStatusUpdate(pod, old) {
    const out = structuredClone(pod);
    if (old["spec"] !== undefined) out["spec"] = structuredClone(old["spec"]!);
    const meta = metaOf(out);
    const oldOwners = metaOf(old)["ownerReferences"];
    if (oldOwners === undefined) delete meta["ownerReferences"];
    else meta["ownerReferences"] = structuredClone(oldOwners);
    const status = objectAt(out, "status");
    if (!str(status["qosClass"])) status["qosClass"] = at(old, "status.qosClass");
    return out;
  },
  gracePeriod(pod, options) {
    let period =
      options.gracePeriodSeconds ?? (Number(objectAt(pod, "spec")["terminationGracePeriodSeconds"]) || 0);
    if (!at(pod, "spec.nodeName")) period = 0;
    const phase = at(pod, "status.phase");
    if (phase === "Failed" || phase === "Succeeded") period = 0;
    return period < 0 ? 1 : period;
  },
});
