// The meta-plugin's verbs, in Multus' order of operations. ADD: configuration, CNI_ARGS,
// readiness file, the pod, the delegate list (master, defaultNetworks, annotations), the scratch
// cache (before anything runs), the delegates in order — rolling back those already added when one
// fails —, network-status, and the master's result. DEL works from the scratch cache alone, so the
// API server may be down and the NADs deleted.
import { existsSync } from "node:fs";
import type { Request } from "../cni/request.ts";
import type { Handlers, PluginIO } from "../cni/skel.ts";
import { versionAtLeast } from "../cni/version.ts";
import { parseCniArgs } from "../config/cni-args.ts";
import { CNI_CODES, CniError, ConfigError, describe } from "../errors/errors.ts";
import type { Logger } from "../log/logger.ts";
import { type Attachment, type PlannedDelegate, planAttachments } from "./attachments.ts";
import { cachedAttachments, readScratch, removeScratch, rewriteResultCache, writeScratch } from "./cache.ts";
import { type CurrentResult, placeholderResult, readResult } from "./cni-result.ts";
import { loadMultusConf, type MultusConf } from "./config.ts";
import { touchesDefaultRoutes, withDefaultRoutes } from "./default-route.ts";
import { type DelegateConf, withCniArgs, withListVersion } from "./delegate.ts";
import type { K8sArgs } from "./delegate-call.ts";
import { MultusInputError, multusError, type PodRef } from "./errors.ts";
import { CONFIG_SOURCE_ANNOTATION, connectKube, type MultusKube, type Pod } from "./kube.ts";
import { callLogger } from "./log.ts";
import { addDefaultRoute, deleteDefaultRoutes, validateIfName } from "./netns.ts";
import {
  formatNetworkStatus,
  NETWORK_STATUS_ANNOTATION,
  type NetworkStatus,
  statusEntries,
} from "./network-status.ts";
import { configByName, configByPath, delegateFromNad } from "./resolve.ts";
import { type CallContext, delegateStatusOrGc, delegateVerb } from "./run-delegate.ts";
import {
  checkDefaultRoutes,
  checkIsolation,
  DEFAULT_NETWORK_ANNOTATION,
  NETWORKS_ANNOTATION,
  type NetworkSelection,
  parseDefaultNetwork,
  parseSelections,
} from "./selection.ts";

const READINESS_POLL_MS = 1_000;
const READINESS_TIMEOUT_MS = 45_000;

function loadConf(req: Request): MultusConf {
  try {
    return loadMultusConf(req.config);
  } catch (error) {
    if (error instanceof CniError)
      throw new CniError(error.code, `Multus: error loading netconf: ${error.message}`);
    throw error;
  }
}

function k8sArgsOf(req: Request): K8sArgs {
  try {
    parseCniArgs(req.cniArgs);
  } catch (error) {
    const why = describe(error).replace(/^LoadArgs - CNI Args Parsing Error: /, "");
    throw new CniError(CNI_CODES.invalidEnvironment, `Multus: error getting k8s args: ${why}`);
  }
  const get = (key: string) => {
    for (const pair of req.cniArgs.split(";"))
      if (pair.startsWith(`${key}=`)) return pair.slice(key.length + 1);
    return "";
  };
  return {
    namespace: get("K8S_POD_NAMESPACE"),
    name: get("K8S_POD_NAME"),
    infraContainerId: get("K8S_POD_INFRA_CONTAINER_ID"),
    uid: get("K8S_POD_UID"),
  };
}

async function waitReadiness(conf: MultusConf, pod: PodRef | undefined): Promise<void> {
  const file = conf.readinessIndicatorFile;
  if (file === "") return;
  const until = Date.now() + READINESS_TIMEOUT_MS;
  for (;;) {
    if (existsSync(file)) return;
    if (Date.now() >= until) {
      throw multusError(
        pod,
        `have you checked that your default network is ready? still waiting for readinessindicatorfile @ ${file}. pollimmediate error: timed out waiting for the condition`,
        CNI_CODES.tryAgainLater,
      );
    }
    await new Promise((r) => setTimeout(r, READINESS_POLL_MS));
  }
}

function searchPath(conf: MultusConf, req: Request): string[] {
  return [conf.binDir, ...req.path.split(":")].filter((d) => d !== "");
}

/** A pod whose UID is not the runtime's is another incarnation (static pods excepted). */
function uidMismatch(pod: Pod, uid: string): boolean {
  const source = pod.metadata.annotations?.[CONFIG_SOURCE_ANNOTATION];
  const isStatic = source !== undefined && source !== "api";
  return uid !== "" && pod.metadata.uid !== uid && !isStatic;
}

/** clusterNetwork / a defaultNetwork / a NAD name: NAD in multusNamespace, then a file by name, or a path. */
async function resolveNetwork(
  value: string,
  conf: MultusConf,
  kube: MultusKube | undefined,
): Promise<PlannedDelegate> {
  if (value.includes("/")) {
    const delegate = configByPath(value);
    return { delegate, displayName: delegate.confName };
  }
  if (kube !== undefined) {
    const got = await kube.getNad(conf.multusNamespace, value);
    if ("nad" in got)
      return {
        delegate: delegateFromNad(got.nad, value, conf.confDir),
        displayName: `${conf.multusNamespace}/${value}`,
      };
  }
  const delegate = configByName(value, conf.confDir);
  return { delegate, displayName: delegate.confName };
}

async function nadDelegate(
  s: NetworkSelection,
  conf: MultusConf,
  kube: MultusKube,
): Promise<PlannedDelegate> {
  const got = await kube.getNad(s.namespace, s.name);
  if ("missing" in got) {
    throw new MultusInputError(
      `GetNetworkDelegates: failed getting the delegate: getKubernetesDelegate: cannot find a network-attachment-definition (${s.name}) in namespace (${s.namespace}): ${got.missing}`,
    );
  }
  const delegate: DelegateConf = withCniArgs(delegateFromNad(got.nad, s.name, conf.confDir), s.cniArgs);
  return { delegate, displayName: `${s.namespace}/${s.name}`, selection: s };
}

/** Runs `work`, turning an input error into Multus' error for the pod with `prefix`. */
function wrapper(ref: PodRef) {
  return async <T>(work: () => Promise<T>, prefix: string): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof MultusInputError) throw multusError(ref, `${prefix}${error.message}`);
      throw error;
    }
  };
}

/** Multus' delegate list for the pod (master first). */
async function podDelegates(
  conf: MultusConf,
  kube: MultusKube | undefined,
  pod: Pod | undefined,
  ref: PodRef,
): Promise<PlannedDelegate[]> {
  return withSelections(await baseDelegates(conf, kube, pod, ref), conf, kube, pod, ref);
}

/** The master (clusterNetwork, or the static delegates) and the defaultNetworks. */
async function baseDelegates(
  conf: MultusConf,
  kube: MultusKube | undefined,
  pod: Pod | undefined,
  ref: PodRef,
): Promise<PlannedDelegate[]> {
  const wrap = wrapper(ref);
  let delegates: PlannedDelegate[];
  if (conf.clusterNetwork !== "") {
    const master = await wrap(() => resolveNetwork(conf.clusterNetwork, conf, kube), "").catch(
      (error: unknown) => {
        throw multusError(
          ref,
          `failed to get clusterNetwork/defaultNetworks: GetDefaultNetworks: failed to get clusterNetwork ${conf.clusterNetwork} in namespace ${conf.multusNamespace}`,
          error instanceof CniError ? error.code : CNI_CODES.invalidConfig,
        );
      },
    );
    delegates = [master];
    if (pod === undefined || !conf.systemNamespaces.includes(ref.namespace)) {
      for (const net of conf.defaultNetworks) {
        delegates.push(
          await wrap(
            () => resolveNetwork(net, conf, kube),
            "failed to get clusterNetwork/defaultNetworks: getNetDelegate: ",
          ),
        );
      }
    }
  } else {
    delegates = conf.delegates.map((delegate) => ({ delegate, displayName: delegate.confName }));
  }
  return delegates;
}

/** `base` with the pod's default-network annotation applied and its network selections added. */
async function withSelections(
  base: readonly PlannedDelegate[],
  conf: MultusConf,
  kube: MultusKube | undefined,
  pod: Pod | undefined,
  ref: PodRef,
): Promise<PlannedDelegate[]> {
  const wrap = wrapper(ref);
  const delegates = [...base];
  if (kube === undefined || pod === undefined) return delegates;
  const annotations = pod.metadata.annotations ?? {};
  const prefix = "error loading k8s delegates k8s args: ";
  const defaultNet = await wrap(
    async () => parseDefaultNetwork(annotations[DEFAULT_NETWORK_ANNOTATION] ?? "", conf.multusNamespace),
    `${prefix}TryLoadPodDelegates: error in loading K8s cluster default network from pod annotation: `,
  );
  if (defaultNet !== undefined) {
    const master = await wrap(
      () => nadDelegate(defaultNet, conf, kube),
      `${prefix}TryLoadPodDelegates: error in loading K8s cluster default network from pod annotation: `,
    );
    delegates[0] = { ...master, selection: defaultNet };
  }
  const selections = await wrap(
    async () => parseSelections(annotations[NETWORKS_ANNOTATION] ?? "", ref.namespace),
    prefix,
  );
  const getNetwork = `${prefix}TryLoadPodDelegates: error in getting k8s network for pod: `;
  if (conf.namespaceIsolation)
    await wrap(async () => checkIsolation(selections, ref.namespace, conf.globalNamespaces), getNetwork);
  for (const s of selections) delegates.push(await wrap(() => nadDelegate(s, conf, kube), getNetwork));
  await wrap(async () => checkDefaultRoutes(delegates.map((d) => d.selection?.defaultRoute)), prefix);
  return delegates;
}

function context(conf: MultusConf, req: Request, k8s: K8sArgs): CallContext {
  return {
    containerId: req.containerId,
    netns: req.netns,
    runtimeArgs: req.cniArgs,
    k8s,
    path: searchPath(conf, req),
    cniDir: conf.cniDir,
    runtimeConfig: conf.runtimeConfig,
  };
}

async function deleteAll(attachments: readonly Attachment[], ctx: CallContext): Promise<string[]> {
  const errors: string[] = [];
  for (const a of [...attachments].reverse()) {
    try {
      await delegateVerb("DEL", a, ctx);
    } catch (error) {
      // Multus' words for a delegate's failed DEL (its DelegateDel / ConflistDel wrapping).
      const invoked = a.delegate.isConfList
        ? `DelegateDel: error invoking ConflistDel - "${a.delegate.confName}": conflistDel: error in getting result from DelNetworkList: `
        : `DelegateDel: error invoking DelegateDel - "${a.delegate.type}": error in getting result from DelNetwork: `;
      errors.push(`${invoked}${describe(error)}`);
    }
  }
  return errors;
}

/**
 * After an attachment's ADD, when `default-route` is in play: its default routes leave the
 * namespace, its requested gateways become its default routes, and its libcni cache says so.
 * A failure here fails the ADD without rolling back (the delegates did their part), as Multus does.
 */
async function moveDefaultRoutes(a: Attachment, ctx: CallContext, ref: PodRef): Promise<void> {
  const fail = (what: string, error: unknown) =>
    multusError(ref, `${what}: ${describe(error)}`, CNI_CODES.internal);
  try {
    await deleteDefaultRoutes(ctx.netns, a.ifName);
  } catch (error) {
    throw fail("error deleting default gateway", error);
  }
  for (const gw of a.selection?.defaultRoute ?? []) {
    try {
      await addDefaultRoute(ctx.netns, a.ifName, gw);
    } catch (error) {
      throw fail("error setting default gateway", error);
    }
  }
  try {
    rewriteResultCache(ctx.cniDir, a.delegate.confName, ctx.containerId, a.ifName, (r) =>
      withDefaultRoutes(r, a),
    );
  } catch (error) {
    throw fail("error setting default gateway in cache", error);
  }
}

async function add(req: Request, conf: MultusConf, log: Logger, deps: MultusDeps): Promise<CurrentResult> {
  const k8s = k8sArgsOf(req);
  const ref: PodRef = { namespace: k8s.namespace, name: k8s.name, uid: k8s.uid };
  await waitReadiness(conf, ref);
  const kube = await deps.connect(conf.kubeconfig);
  try {
    let pod: Pod | undefined;
    if (kube !== undefined && k8s.name !== "") {
      try {
        pod = await kube.getPod(k8s.namespace, k8s.name, k8s.uid);
      } catch (error) {
        throw multusError(ref, `error waiting for pod: ${describe(error)}`, CNI_CODES.tryAgainLater);
      }
      if (pod === undefined) return placeholderResult(req.ifName, req.netns);
      if (uidMismatch(pod, k8s.uid)) {
        throw multusError(
          ref,
          `expected pod UID "${k8s.uid}" but got "${pod.metadata.uid}" from Kube API`,
          CNI_CODES.tryAgainLater,
        );
      }
    }
    const planned = await podDelegates(conf, kube, pod, ref);
    const attachments = planAttachments(
      planned.map((p) => ({ ...p, delegate: withListVersion(p.delegate, conf.cniVersion) })),
      req.ifName,
    );
    writeScratch(conf.cniDir, req.containerId, attachments);
    const ctx = context(conf, req, k8s);
    const results: CurrentResult[] = [];
    for (const [k, a] of attachments.entries()) {
      try {
        await validateIfName(req.netns, a.ifName);
      } catch (error) {
        // The name is someone else's: no DEL of this delegate (it would remove that interface).
        await deleteAll(attachments.slice(0, k), ctx);
        const net = a.delegate.confName;
        throw new CniError(
          error instanceof CniError ? error.code : CNI_CODES.internal,
          `[${ref.namespace}/${ref.name}/${ref.uid}:${net}]: error adding container to network "${net}": DelegateAdd: cannot set "${a.delegate.type}" interface name to "${a.ifName}": ${describe(error)}`,
        );
      }
      try {
        const result = readResult((await delegateVerb("ADD", a, ctx)) ?? {});
        results.push(result);
        log.verbose(`Add ${a.ifName} [${result.ips.map((i) => i.address).join(" ")}] from ${a.displayName}`);
      } catch (error) {
        // Multus deletes the failed delegate too, then every one before it, in reverse.
        await deleteAll(attachments.slice(0, k + 1), ctx);
        const net = a.delegate.confName;
        throw new CniError(
          error instanceof CniError ? error.code : CNI_CODES.internal,
          `[${ref.namespace}/${ref.name}/${ref.uid}:${net}]: error adding container to network "${net}": ${describe(error)}`,
        );
      }
      if (touchesDefaultRoutes(a) && (results[k]!.interfaces.length > 0 || results[k]!.ips.length > 0))
        await moveDefaultRoutes(a, ctx, ref);
    }
    if (kube !== undefined && pod !== undefined) {
      const entries: NetworkStatus[] = attachments.flatMap((a, i) =>
        statusEntries(a.displayName, results[i]!, a.master),
      );
      try {
        await kube.setStatusAnnotation(pod, NETWORK_STATUS_ANNOTATION, formatNetworkStatus(entries));
      } catch (error) {
        throw multusError(
          ref,
          `error setting the networks status: SetPodNetworkStatusAnnotation: ${describe(error)}`,
          CNI_CODES.tryAgainLater,
        );
      }
    }
    return results[0] ?? placeholderResult(req.ifName, req.netns);
  } finally {
    kube?.close();
  }
}

async function del(req: Request, conf: MultusConf, log: Logger, deps: MultusDeps): Promise<void> {
  const k8s = k8sArgsOf(req);
  const ref: PodRef = { namespace: k8s.namespace, name: k8s.name, uid: k8s.uid };
  // A pod must be torn down even while the default network is not ready: DEL never waits.
  if (conf.readinessIndicatorFile !== "" && !existsSync(conf.readinessIndicatorFile))
    log.verbose(`CmdDel: readinessindicatorfile ${conf.readinessIndicatorFile} is missing; deleting anyway`);
  let kube: MultusKube | undefined;
  try {
    kube = await deps.connect(conf.kubeconfig);
  } catch {
    kube = undefined;
  }
  try {
    let pod: Pod | undefined;
    const lookup = async () => {
      if (kube === undefined || k8s.name === "") return undefined;
      try {
        const found = await kube.getPod(k8s.namespace, k8s.name, k8s.uid);
        return found !== undefined && !uidMismatch(found, k8s.uid) ? found : undefined;
      } catch {
        return undefined; // DEL goes on without the API
      }
    };
    let attachments = readScratch(conf.cniDir, req.containerId);
    if (attachments === undefined) {
      pod = await lookup();
      if (pod === undefined) return; // Multus: nothing known to delete
      // Multus: the master and defaultNetworks must resolve; when the pod's own selections do not
      // (a NAD deleted since), what did resolve is still deleted.
      const base = await baseDelegates(conf, kube, pod, ref);
      let planned: PlannedDelegate[];
      try {
        planned = await withSelections(base, conf, kube, pod, ref);
      } catch (error) {
        if (base.length === 0) throw multusError(ref, `failed to get delegates: ${describe(error)}`);
        log.error(
          `Multus: failed to get delegates: ${describe(error)}, but continue to delete clusterNetwork`,
        );
        planned = base;
      }
      attachments = planAttachments(planned, req.ifName);
    }
    const ctx = context(conf, req, k8s);
    log.verbose(`CmdDel: deleting ${attachments.map((a) => `${a.ifName} of ${a.displayName}`).join(", ")}`);
    const errors = await deleteAll(
      attachments.map((a) => ({ ...a, delegate: withListVersion(a.delegate, conf.cniVersion) })),
      ctx,
    );
    const keep =
      conf.retryDeleteOnError && errors.length > 0 && !errors.join(" ").includes("no such file or directory");
    if (!keep) removeScratch(conf.cniDir, req.containerId);
    if (errors.length > 0) throw new CniError(CNI_CODES.internal, `errors: ${errors.join(" / ")}`);
    // The interfaces are gone: the pod's network-status no longer describes them. Only this
    // incarnation's (UID checked by the API), and never a reason to fail the DEL.
    pod ??= await lookup();
    if (
      kube !== undefined &&
      pod !== undefined &&
      pod.metadata.annotations?.[NETWORK_STATUS_ANNOTATION] !== undefined
    ) {
      await kube.setStatusAnnotation(pod, NETWORK_STATUS_ANNOTATION, undefined).catch(() => "gone");
    }
  } finally {
    kube?.close();
  }
}

async function check(req: Request, conf: MultusConf): Promise<void> {
  const k8s = k8sArgsOf(req);
  if (conf.clusterNetwork !== "") return;
  const attachments = planAttachments(
    conf.delegates.map((delegate) => ({ delegate, displayName: delegate.confName })),
    req.ifName,
  );
  const ctx = context(conf, req, k8s);
  for (const a of attachments) {
    if (!versionAtLeast(a.delegate.cniVersion, "0.4.0")) {
      throw new ConfigError(
        `configuration version "${a.delegate.cniVersion}" does not support the CHECK command`,
      );
    }
    try {
      await delegateVerb("CHECK", a, ctx);
    } catch (error) {
      throw new CniError(
        error instanceof CniError ? error.code : CNI_CODES.internal,
        `DelegateCheck: error invoking CheckNetwork - "${a.delegate.confName}": ${describe(error)}`,
      );
    }
  }
}

/**
 * STATUS and GC concern the pod network as a whole, so only the primary plugin (clusterNetwork, or
 * the first static delegate) is asked. GC's valid attachments are every one the result cache
 * holds: the runtime's own list names the meta-plugin's attachments, not the delegates'.
 */
async function statusOrGc(
  command: "STATUS" | "GC",
  req: Request,
  conf: MultusConf,
  deps: MultusDeps,
): Promise<void> {
  await waitReadiness(conf, undefined);
  let master: DelegateConf | undefined = conf.delegates[0];
  if (conf.clusterNetwork !== "") {
    const kube = await deps.connect(conf.kubeconfig);
    try {
      master = (await resolveNetwork(conf.clusterNetwork, conf, kube)).delegate;
    } catch (error) {
      throw multusError(
        undefined,
        `failed to get clusterNetwork: ${describe(error)}`,
        error instanceof CniError ? error.code : CNI_CODES.invalidConfig,
      );
    } finally {
      kube?.close();
    }
  }
  if (master === undefined) return;
  const valid = command === "GC" ? cachedAttachments(conf.cniDir) : [];
  await delegateStatusOrGc(command, withListVersion(master, conf.cniVersion), searchPath(conf, req), valid);
}

/** What the flows use of the world beyond the call, injected so the node agent can share it. */
export interface MultusDeps {
  /**
   * The Kubernetes API as Multus' `kubeconfig` (or the in-cluster ServiceAccount) reaches it, or
   * undefined when there is none; the flow closes what it gets when the call ends.
   */
  connect(kubeconfig: string): Promise<MultusKube | undefined>;
}

/** A plugin process: a fresh connection per call. */
const ALONE: MultusDeps = { connect: (kubeconfig) => connectKube(kubeconfig, process.env) };

/**
 * Told of each call's decoded configuration before anything of it is done (not even a log line):
 * the node agent declines here the calls it must leave to the plugin, by throwing.
 */
export type MultusAdmit = (req: Request, conf: MultusConf) => Promise<void>;

/** The meta-plugin's verbs for the CNI dispatcher, each logging as the configuration asks. */
export function multusHandlers(
  io: PluginIO,
  deps: MultusDeps = ALONE,
  admit?: MultusAdmit,
): Handlers<CurrentResult> {
  const logged =
    <T>(verb: string, run: (req: Request, conf: MultusConf, log: Logger, deps: MultusDeps) => Promise<T>) =>
    async (req: Request): Promise<T> => {
      const conf = loadConf(req);
      await admit?.(req, conf);
      const log = callLogger(conf, io);
      log.debug(
        `${verb}: containerID ${req.containerId}, netns ${req.netns}, ifname ${req.ifName}, args ${req.cniArgs}`,
      );
      try {
        return await run(req, conf, log, deps);
      } catch (error) {
        log.error(`${verb}: ${describe(error)}`);
        throw error;
      }
    };
  return {
    add: logged("CmdAdd", add),
    del: logged("CmdDel", del),
    check: logged("CmdCheck", async (req, conf) => check(req, conf)),
    status: logged("CmdStatus", async (req, conf, _log, d) => statusOrGc("STATUS", req, conf, d)),
    gc: logged("CmdGC", async (req, conf, _log, d) => statusOrGc("GC", req, conf, d)),
  };
}
