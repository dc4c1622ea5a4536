// The node agent: serves CNI calls forwarded by plugin processes over a unix socket, running the
// same verbs in-process against warm stores (WarmStores → AgentStore: cached pools, grouped
// commits). One agent per node; plugins work alone whenever it is absent.
//
// The socket is a root trust boundary (calls carry datastore credentials, answers are trusted as
// the plugin's own): it lives in a directory only root can change (socket-place.ts), and every
// connection's peer is checked (SO_PEERCRED) before a byte of its request is read. No single call
// holds up the others: each is answered within its verb's limit (call-deadline.ts), and the event
// loop keeps serving /healthz and other calls meanwhile.
import { type ConfigHooks, pluginHandlers, type StoreAccess } from "../cni/plugin.ts";
import { readsPod } from "../cni/pod-lookup.ts";
import { runPlugin } from "../cni/skel.ts";
import { readConfigFile, readOptionalFile } from "../files/config-file.ts";
import type { DaemonLog } from "../log/line.ts";
import { type HealthServer, startHealthServer } from "../net/health-server.ts";
import { withDeadlines } from "./call-deadline.ts";
import {
  ByteBudget,
  CallGate,
  DEFAULT_MULTUS_LIMITS,
  type GateLimits,
  MULTUS_REQUEST_BYTES,
} from "./call-gate.ts";
import { callIO } from "./call-io.ts";
import type { HostPaths } from "./host-paths.ts";
import type { HttpAnswer, HttpRequest } from "./http-framing.ts";
import { type CallResult, createAgentMetrics, type StoreLabel } from "./metrics.ts";
import { serveMultusCall } from "./multus-calls.ts";
import { defaultNodeName, MultusKubeCache } from "./multus-kube.ts";
import { missingNetnsProgram } from "./netns-programs.ts";
import { type Libc, loadLibc } from "./peer-credentials.ts";
import {
  type AgentAnswer,
  type AgentDeclined,
  CNI_PATH,
  HEALTH_PATH,
  METRICS_PATH,
  MULTUS_PATH,
  parseCall,
} from "./protocol.ts";
import { type Listener, listenOn, type Reservation } from "./socket-listener.ts";
import {
  bindSocket,
  clearStaleSocket,
  prepareDirectory,
  removeOwnSocket,
  socketModes,
} from "./socket-place.ts";
import { admits } from "./socket-trust.ts";
import { WarmStores } from "./warm-stores.ts";

export interface Agent {
  readonly socket: string;
  /** Where /metrics and /healthz are also served over TCP, when asked for. */
  readonly metricsAddress: { host: string; port: number } | undefined;
  readonly stores: WarmStores;
  /** Calls answered so far. */
  readonly served: () => number;
  /** Why every meta-plugin call is declined (left to the plugin), when it is. */
  readonly multusDeclined: string | undefined;
  /** Stops accepting, lets calls in flight finish, closes the stores and removes the socket. */
  close(): Promise<void>;
}

export async function startAgent(options: {
  socket: string;
  stores?: WarmStores;
  /** Also serve /metrics and /healthz on this TCP address (port 0 picks one). */
  metricsListen?: { host: string; port: number };
  /** Processes of this group (a name or a gid) may call the agent too. */
  allowGroup?: string | undefined;
  /** Serve only calls whose paths lie in these host directories (the agent runs in a container). */
  hostPaths?: HostPaths | undefined;
  /** Whose pods the meta-plugin's calls find in the agent's cache (default: defaultNodeName). */
  nodeName?: string | undefined;
  /** The agent's own lines (the meta-plugin cache's). */
  log?: DaemonLog | undefined;
  /** How many meta-plugin calls run and wait at once (call-gate.ts). */
  multusLimits?: GateLimits;
  /** Decline every meta-plugin call (`agent --no-multus`): bin/multus runs each alone. */
  noMultus?: boolean;
}): Promise<Agent> {
  const libc = await loadLibc();
  const group = options.allowGroup === undefined ? undefined : groupOf(options.allowGroup, libc);
  const stores = options.stores ?? new WarmStores(options.log === undefined ? {} : { log: options.log });
  // Meta-plugin calls only: IPAM calls are never held up by them (call-gate.ts says why).
  const gate = new CallGate(options.multusLimits ?? DEFAULT_MULTUS_LIMITS);
  const multusBytes = new ByteBudget(MULTUS_REQUEST_BYTES);
  const metrics = createAgentMetrics(stores, gate);
  const policy = { euid: process.geteuid?.() ?? 0, group };
  let served = 0;
  // Given (--node-name) or the DaemonSet's NODENAME; else calls find it as a plugin does.
  const sliceNode = options.nodeName ?? (process.env["NODENAME"]?.trim() || undefined);
  const multusKube = new MultusKubeCache({
    nodeName: options.nodeName ?? defaultNodeName(process.env),
    log: options.log,
  });
  const multusDeps = multusKube.deps;
  // Checked once: the programs do not come and go under a running agent.
  const multusDeclined =
    options.noMultus === true
      ? "meta-plugin calls are off (agent --no-multus): the plugin runs them itself"
      : missingNetnsProgram(process.env["PATH"]);

  async function serveMetrics(): Promise<HttpAnswer> {
    return { status: 200, type: metrics.registry.contentType, body: await metrics.registry.metrics() };
  }

  async function serveCall(text: string): Promise<HttpAnswer> {
    const call = parseCall(text);
    if (call === undefined) return { status: 400, type: "text/plain", body: "expected {env, stdin}\n" };
    const { io, output } = callIO(call);
    const started = performance.now();
    let timedOut = false;
    let declined: string | undefined;
    let store: StoreLabel = "none";
    const sight =
      options.hostPaths === undefined
        ? undefined
        : sharedPathsOnly(options.hostPaths, stores.access, (why) => {
            declined ??= why;
          });
    const inner = sight?.hooks;
    // The datastore the call's configuration selects labels its metrics (a fixed set of values).
    const hooks: ConfigHooks = {
      readFile: inner?.readFile ?? readOptionalFile,
      // A node-slice network's node: the agent's own (plugins do not hand over NODENAME).
      ...(sliceNode === undefined ? {} : { nodeName: sliceNode }),
      admit: (config) => {
        store = config.datastore;
        inner?.admit?.(config);
      },
      retries: (config) => metrics.retries(config.datastore),
    };
    const handlers = withDeadlines(pluginHandlers(io, sight?.access ?? stores.access, hooks), {
      expired: () => {
        timedOut = true;
      },
    });
    const code = await runPlugin(io, handlers);
    served++;
    const seconds = (performance.now() - started) / 1000;
    const command = call.env["CNI_COMMAND"] ?? "";
    if (declined !== undefined) {
      metrics.call(command, store, "declined", seconds);
      return declinedAnswer(declined);
    }
    const result: CallResult = timedOut ? "timeout" : code === 0 ? "ok" : "error";
    metrics.call(command, store, result, seconds);
    const answer: AgentAnswer = { code, ...output() };
    return { status: 200, type: "application/json", body: JSON.stringify(answer) };
  }

  async function serveMultus(text: string): Promise<HttpAnswer> {
    const call = parseCall(text);
    if (call === undefined) return { status: 400, type: "text/plain", body: "expected {env, stdin}\n" };
    const command = call.env["CNI_COMMAND"] ?? "";
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    if (multusDeclined !== undefined) {
      metrics.multusCall(command, "declined", seconds());
      return declinedAnswer(multusDeclined);
    }
    const admission = await gate.enter(command === "DEL");
    if (!admission.admitted) {
      // Answered at once, or when the wait is over: the plugin runs the call alone.
      metrics.multusCall(command, "shed", seconds());
      return declinedAnswer(`node agent busy (${admission.why}): the plugin runs this call itself`);
    }
    try {
      const outcome = await serveMultusCall(call, multusDeps, options.hostPaths, admission.waitedMs);
      served++;
      if ("declined" in outcome) {
        metrics.multusCall(command, "declined", seconds());
        return declinedAnswer(outcome.declined);
      }
      metrics.multusCall(command, outcome.result, seconds());
      return { status: 200, type: "application/json", body: JSON.stringify(outcome.answer) };
    } finally {
      admission.leave();
    }
  }

  /** Meta-plugin requests hold their bytes from their head on, within a budget; others are not held up. */
  function reserve(path: string, bytes: number): Reservation {
    if (path !== MULTUS_PATH) return { release: () => {} };
    const release = multusBytes.take(bytes);
    if (release !== undefined) return { release };
    // The body is not read, so the command is not known: counted as "other".
    metrics.multusCall("", "shed", 0);
    return { answer: declinedAnswer("node agent busy (request bytes): the plugin runs this call itself") };
  }

  async function route(request: HttpRequest): Promise<HttpAnswer> {
    const { method, path } = request;
    if (path === HEALTH_PATH && method === "GET") return { status: 200, type: "text/plain", body: "ok\n" };
    if (path === METRICS_PATH && method === "GET") return serveMetrics();
    if (path === CNI_PATH && method === "POST") return serveCall(request.body.toString("utf8"));
    if (path === MULTUS_PATH && method === "POST") return serveMultus(request.body.toString("utf8"));
    return { status: 404, type: "text/plain", body: "not found\n" };
  }

  const modes = socketModes(group);
  prepareDirectory(options.socket, modes);
  await clearStaleSocket(options.socket);
  let listener: Listener | undefined;
  const id = bindSocket(options.socket, modes, (path) => {
    const bound = listenOn(path, {
      peerOf: (fd) => libc.peerOf(fd),
      admits: (peer) => admits(peer, policy),
      handler: route,
      rejected: (why) => metrics.rejected(why),
      reserve,
    });
    listener = bound;
    return bound;
  });
  // Idle handles are closed within a quarter of the idle time after it passes (at most 10 s late).
  const sweeper = setInterval(
    () => {
      stores.closeIdle();
      multusKube.closeIdle();
    },
    Math.min(Math.max(stores.idleMs / 4, 250), 10_000),
  );
  let tcp: HealthServer | undefined;
  const close = async () => {
    clearInterval(sweeper);
    // Waiting meta-plugin calls are answered now (their plugins run them alone), not at shutdown's end.
    gate.close();
    await tcp?.close();
    await listener?.close();
    multusKube.close();
    await stores.closeAll();
    removeOwnSocket(options.socket, id);
  };
  try {
    // Prometheus cannot scrape a unix socket: /metrics and the probes over TCP, when asked for.
    tcp =
      options.metricsListen === undefined
        ? undefined
        : await startHealthServer({
            listen: options.metricsListen,
            metrics: async () => ({
              contentType: metrics.registry.contentType,
              body: await metrics.registry.metrics(),
            }),
          });
  } catch (error) {
    await close();
    throw error;
  }
  return {
    socket: options.socket,
    metricsAddress: tcp === undefined ? undefined : { host: tcp.host, port: tcp.port },
    stores,
    served: () => served,
    multusDeclined,
    close,
  };
}

/** Thrown to stop a call this agent declines; its answer is never sent. */
class Declined extends Error {}

function declinedAnswer(why: string): HttpAnswer {
  const answer: AgentDeclined = { declined: why };
  return { status: 200, type: "application/json", body: JSON.stringify(answer) };
}

/**
 * The hooks of a call served only if every path it names is one the agent shares with the host
 * (host-paths.ts): the flat-file candidates as they are read, the decoded configuration's own
 * paths before anything is opened, and the files a kubeconfig names before its store is used.
 */
function sharedPathsOnly(
  paths: HostPaths,
  access: StoreAccess,
  decline: (why: string) => void,
): { hooks: ConfigHooks; access: StoreAccess } {
  return {
    hooks: {
      readFile: paths.checkedReader(readOptionalFile, decline),
      admit: (config) => {
        const why = paths.unseenIn(config);
        if (why === undefined) return;
        decline(why);
        throw new Declined(why);
      },
    },
    access: async (config, work) => {
      if (config.datastore === "kubernetes" || readsPod(config)) {
        const why = await paths.unseenInKubeconfig(config.kubernetes.kubeconfig, readConfigFile);
        if (why !== undefined) {
          decline(why);
          throw new Declined(why);
        }
      }
      return access(config, work);
    },
  };
}

/** A gid from `--allow-group`: a number, or a group name the system knows. */
function groupOf(text: string, libc: Libc): number {
  const gid = /^\d{1,10}$/.test(text) ? Number(text) : libc.groupId(text);
  if (gid === undefined || gid > 0xfffffffe)
    throw new Error(
      `--allow-group ${JSON.stringify(text)}: no such group (give a group name or a numeric gid)`,
    );
  return gid;
}
