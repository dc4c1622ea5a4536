// What each delegate receives, as Multus has libcni give it: CNI_ARGS with the pod's keys and the
// runtime's pairs (plus MAC= and IP= for an attachment that requests them), and a runtimeConfig
// made of the runtime's own with the attachment's requests on top, of which each plugin gets only
// the keys its `capabilities` declare. A plugin of a list also gets the list's name and version and
// the previous plugin's result (on DEL and CHECK: the cached result), as libcni chains them.
import { isJsonObject, type Json, type JsonObject } from "../config/json-parse.ts";
import type { Attachment } from "./attachments.ts";
import { deepFreeze } from "./delegate.ts";

/** The pod keys of CNI_ARGS as the runtime passed them. */
export interface K8sArgs {
  readonly namespace: string;
  readonly name: string;
  readonly infraContainerId: string;
  readonly uid: string;
}

/**
 * The delegate's CNI_ARGS: `IgnoreUnknown=true` and the four pod keys, then the runtime's pairs
 * (a key present with an empty value is filled, an identical pair is not repeated, anything else
 * is appended), then `MAC=` and `IP=` when the attachment requests them.
 */
export function delegateCniArgs(k8s: K8sArgs, runtimeArgs: string, attachment: Attachment): string {
  const pairs: [string, string][] = [
    ["IgnoreUnknown", "true"],
    ["K8S_POD_NAMESPACE", k8s.namespace],
    ["K8S_POD_NAME", k8s.name],
    ["K8S_POD_INFRA_CONTAINER_ID", k8s.infraContainerId],
    ["K8S_POD_UID", k8s.uid],
  ];
  for (const pair of runtimeArgs === "" ? [] : runtimeArgs.split(";")) {
    const eq = pair.indexOf("=");
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? "" : pair.slice(eq + 1);
    const present = pairs.find(([k]) => k === key);
    if (present !== undefined && present[1] === "") present[1] = value;
    else if (present === undefined || present[1] !== value) pairs.push([key, value]);
  }
  const selection = attachment.selection;
  if (selection?.mac !== undefined) pairs.push(["MAC", selection.mac]);
  if (selection?.ips !== undefined && selection.ips.length > 0) pairs.push(["IP", selection.ips.join(",")]);
  return pairs.map(([k, v]) => `${k}=${v}`).join(";");
}

/**
 * The capability arguments of a delegate: the runtime's runtimeConfig, overridden for every
 * attachment but the master by what its selection element requests (portMappings, bandwidth,
 * ips, mac, infinibandGUID, deviceID). Empty requests are not passed.
 */
export function capabilityArgs(runtimeConfig: JsonObject, attachment: Attachment): JsonObject {
  const out: Record<string, Json> = { ...runtimeConfig };
  const s = attachment.selection;
  if (!attachment.master && s !== undefined) {
    const requests: Record<string, Json | undefined> = {
      portMappings: s.portMappings,
      bandwidth: s.bandwidth,
      ips: s.ips,
      mac: s.mac,
      infinibandGUID: s.infinibandGuid,
      deviceID: s.deviceId,
    };
    for (const [key, value] of Object.entries(requests)) {
      if (value === undefined || value === "" || (Array.isArray(value) && value.length === 0)) continue;
      out[key] = value;
    }
  }
  return deepFreeze(out);
}

export interface ListContext {
  readonly name: string;
  readonly cniVersion: string;
}

/**
 * The exact configuration one plugin is run with: for a plugin of a list the list's `name` and
 * `cniVersion`, the previous result as `prevResult` (when there is one), then `runtimeConfig`
 * with the capability arguments the plugin declares (none: no key).
 */
export function pluginConfig(
  plugin: JsonObject,
  list: ListContext | undefined,
  prevResult: JsonObject | undefined,
  capabilities: JsonObject,
): JsonObject {
  const out: Record<string, Json> = { ...plugin };
  if (list !== undefined) {
    out["name"] = list.name;
    out["cniVersion"] = list.cniVersion;
    if (prevResult !== undefined) out["prevResult"] = prevResult;
  } else if (prevResult !== undefined) {
    out["prevResult"] = prevResult;
  }
  const declared = isJsonObject(plugin["capabilities"] ?? null) ? (plugin["capabilities"] as JsonObject) : {};
  const runtimeConfig: Record<string, Json> = {};
  for (const [capability, enabled] of Object.entries(declared)) {
    const value = capabilities[capability];
    if (enabled === true && value !== undefined) runtimeConfig[capability] = value;
  }
  if (Object.keys(runtimeConfig).length > 0) out["runtimeConfig"] = runtimeConfig;
  return out;
}
