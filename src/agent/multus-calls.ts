// The meta-plugin's calls served by the agent (thick mode): the plugin run as `multus` hands over
// its invocation on MULTUS_PATH exactly as an IPAM call on CNI_PATH, and the agent runs the same
// flows (src/multus/flows.ts) in-process, answering with what the plugin would have printed. The
// meta-plugin's modules are loaded on the first such call: an agent serving only IPAM calls never
// loads them.
import type { Request } from "../cni/request.ts";
import { readConfigFile } from "../files/config-file.ts";
import type { MultusConf } from "../multus/config.ts";
import type { MultusAdmit, MultusDeps } from "../multus/flows.ts";
import { callLimits, withDeadlines } from "./call-deadline.ts";
import { callIO } from "./call-io.ts";
import type { HostPaths } from "./host-paths.ts";
import type { AgentAnswer, AgentCall } from "./protocol.ts";

export type MultusCallOutcome =
  | { readonly answer: AgentAnswer; readonly result: "ok" | "error" | "timeout" }
  /** Nothing of the call was done: the plugin runs it alone. */
  | { readonly declined: string };

/** Thrown to stop a call this agent declines; its answer is never sent. */
class Declined extends Error {}

/**
 * Runs one forwarded meta-plugin call; never rejects. With `hostPaths` (an agent in a container),
 * the call is served only when every path it uses is shared with the host (`unseenInMultusCall`).
 * `waitedMs`: how long the call waited for a slot, taken from its time limit, so that it is
 * answered within its verb's limit of its arrival, before the plugin stops waiting for the agent.
 */
export async function serveMultusCall(
  call: AgentCall,
  deps: MultusDeps,
  hostPaths?: HostPaths,
  waitedMs = 0,
): Promise<MultusCallOutcome> {
  const [{ runPlugin }, { multusHandlers }, { formatCurrentResult }] = await Promise.all([
    import("../cni/skel.ts"),
    import("../multus/flows.ts"),
    import("../multus/cni-result.ts"),
  ]);
  const { io, output } = callIO(call);
  let timedOut = false;
  let declined: string | undefined;
  const admit: MultusAdmit | undefined =
    hostPaths === undefined
      ? undefined
      : async (req, conf) => {
          declined = await unseenInMultusCall(hostPaths, req, conf, process.env);
          if (declined !== undefined) throw new Declined(declined);
        };
  const handlers = withDeadlines(multusHandlers(io, deps, admit), {
    limits: (verb) => Math.max(callLimits(verb) - waitedMs, 0),
    expired: () => {
      timedOut = true;
    },
  });
  const code = await runPlugin(io, handlers, formatCurrentResult);
  if (declined !== undefined) return { declined };
  return { answer: { code, ...output() }, result: timedOut ? "timeout" : code === 0 ? "ok" : "error" };
}

/**
 * The paths a meta-plugin call reads or writes on the node, from its configuration and its CNI_*
 * variables: where delegates are found (binDir, CNI_PATH), the configuration files (confDir, a
 * clusterNetwork or defaultNetwork given as a path), the caches (cniDir), the kubeconfig, the log
 * and readiness files, and the pod's network namespace.
 */
export function multusCallPaths(req: Request, conf: MultusConf): string[] {
  const named = [conf.clusterNetwork, ...conf.defaultNetworks].filter((n) => n.includes("/"));
  return [
    conf.binDir,
    ...req.path.split(":"),
    conf.confDir,
    ...named,
    conf.cniDir,
    conf.kubeconfig,
    conf.logFile,
    conf.readinessIndicatorFile,
    req.netns,
  ].filter((p) => p !== "");
}

/**
 * Why an agent sharing only `paths` with the host would not do what the plugin does on the host,
 * or undefined when it may serve the call: a path of the call (multusCallPaths) or a file its
 * kubeconfig names is not shared, or the call has no kubeconfig while the agent runs in a pod (the
 * plugin on the host then reaches no API server, the agent its own ServiceAccount's).
 */
export async function unseenInMultusCall(
  paths: HostPaths,
  req: Request,
  conf: MultusConf,
  env: Readonly<Record<string, string | undefined>>,
): Promise<string | undefined> {
  for (const path of multusCallPaths(req, conf)) {
    const why = paths.unseenFile(path);
    if (why !== undefined) return why;
  }
  if (conf.kubeconfig !== "") return paths.unseenInKubeconfig(conf.kubeconfig, readConfigFile);
  if ((env["KUBERNETES_SERVICE_HOST"] ?? "") !== "" && (env["KUBERNETES_SERVICE_PORT"] ?? "") !== "")
    return "the configuration names no kubeconfig: the plugin on the host uses no API server, this agent would use its own ServiceAccount";
  return undefined;
}
