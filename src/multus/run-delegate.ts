// One delegate's verb, as libcni runs a configuration: a single plugin, or a list whose plugins
// run in order on ADD (each given the previous result) and in reverse on DEL (each given the
// cached result, from 0.4.0). ADD caches the final result; a successful DEL removes it.

import { versionAtLeast } from "../cni/version.ts";
import type { JsonObject } from "../config/json-parse.ts";
import type { Attachment } from "./attachments.ts";
import { readResultCache, removeResultCache, writeResultCache } from "./cache.ts";
import type { DelegateConf } from "./delegate.ts";
import { capabilityArgs, delegateCniArgs, type K8sArgs, pluginConfig } from "./delegate-call.ts";
import { execPlugin } from "./exec.ts";

export interface CallContext {
  readonly containerId: string;
  readonly netns: string;
  readonly runtimeArgs: string;
  readonly k8s: K8sArgs;
  readonly path: readonly string[];
  readonly cniDir: string;
  readonly runtimeConfig: JsonObject;
}

function pluginsOf(d: DelegateConf): {
  plugins: readonly JsonObject[];
  list: { name: string; cniVersion: string } | undefined;
} {
  return d.isConfList
    ? {
        plugins: d.config["plugins"] as readonly JsonObject[],
        list: { name: d.confName, cniVersion: d.cniVersion },
      }
    : { plugins: [d.config], list: undefined };
}

export async function delegateVerb(
  command: "ADD" | "DEL" | "CHECK",
  a: Attachment,
  ctx: CallContext,
): Promise<JsonObject | undefined> {
  const cniArgs = delegateCniArgs(ctx.k8s, ctx.runtimeArgs, a);
  const caps = capabilityArgs(ctx.runtimeConfig, a);
  const call = {
    command,
    containerId: ctx.containerId,
    netns: ctx.netns,
    ifName: a.ifName,
    cniArgs,
    path: ctx.path,
  };
  const { plugins, list } = pluginsOf(a.delegate);
  const network = a.delegate.confName;
  if (command === "ADD") {
    let prev: JsonObject | undefined;
    for (const plugin of plugins) {
      prev = await execPlugin(String(plugin["type"]), pluginConfig(plugin, list, prev, caps), call);
    }
    if (prev !== undefined) {
      writeResultCache(ctx.cniDir, {
        network,
        containerId: ctx.containerId,
        ifName: a.ifName,
        netns: ctx.netns,
        cniArgs,
        config: a.delegate.config,
        capabilityArgs: caps,
        result: prev,
      });
    }
    return prev;
  }
  const cached =
    a.delegate.cniVersion !== "" && versionAtLeast(a.delegate.cniVersion, "0.4.0")
      ? readResultCache(ctx.cniDir, network, ctx.containerId, a.ifName)
      : undefined;
  const order = command === "DEL" ? [...plugins].reverse() : plugins;
  for (const plugin of order) {
    await execPlugin(String(plugin["type"]), pluginConfig(plugin, list, cached, caps), call);
  }
  if (command === "DEL") removeResultCache(ctx.cniDir, network, ctx.containerId, a.ifName);
  return undefined;
}

/** An attachment the runtime still has, as GC's `cni.dev/valid-attachments` lists it. */
export interface ValidAttachment {
  readonly containerID: string;
  readonly ifname: string;
}

/**
 * STATUS or GC of one delegate, as libcni runs them on a configuration: nothing below CNI 1.1.0
 * (the verbs do not exist there), nothing for GC when the list says `disableGC`; otherwise each
 * plugin in order, GC with the valid attachments. No container, netns or interface is passed.
 * @throws the plugin's CniError unchanged (STATUS' 50/51 reach the runtime as they are).
 */
export async function delegateStatusOrGc(
  command: "STATUS" | "GC",
  d: DelegateConf,
  path: readonly string[],
  valid: readonly ValidAttachment[] = [],
): Promise<void> {
  if (d.cniVersion === "" || !versionAtLeast(d.cniVersion, "1.1.0")) return;
  if (command === "GC" && d.config["disableGC"] === true) return;
  const { plugins, list } = pluginsOf(d);
  const call = { command, containerId: "", netns: "", ifName: "", cniArgs: "", path };
  for (const plugin of plugins) {
    const config = pluginConfig(plugin, list, undefined, {});
    await execPlugin(
      String(plugin["type"]),
      command === "GC" ? { ...config, "cni.dev/valid-attachments": valid.map((v) => ({ ...v })) } : config,
      call,
    );
  }
}
