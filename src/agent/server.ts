// The node agent: serves CNI calls forwarded by plugin processes over a unix socket, running the
// same verbs in-process against warm stores (WarmStores → AgentStore: cached pools, grouped
// commits). One agent per node; plugins work alone whenever it is absent.
import { chmodSync, existsSync, mkdirSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { pluginHandlers } from "../cni/plugin.ts";
import { type PluginIO, runPlugin } from "../cni/skel.ts";
import { callAgentHealth } from "./client.ts";
import { type HttpAnswer, listenOn } from "./http-listener.ts";
import { createAgentMetrics } from "./metrics.ts";
import { type AgentAnswer, CNI_PATH, HEALTH_PATH, METRICS_PATH, parseCall } from "./protocol.ts";
import { WarmStores } from "./warm-stores.ts";

export interface Agent {
  readonly socket: string;
  /** Where /metrics and /healthz are also served over TCP, when asked for. */
  readonly metricsAddress: { host: string; port: number } | undefined;
  readonly stores: WarmStores;
  /** Calls answered so far. */
  readonly served: () => number;
  /** Stops accepting, lets calls in flight finish, closes the stores and removes the socket. */
  close(): Promise<void>;
}

export async function startAgent(options: {
  socket: string;
  about: string;
  stores?: WarmStores;
  /** Also serve /metrics and /healthz on this TCP address (port 0 picks one). */
  metricsListen?: { host: string; port: number };
}): Promise<Agent> {
  const stores = options.stores ?? new WarmStores();
  const metrics = createAgentMetrics(stores);
  let served = 0;

  async function serveMetrics(): Promise<HttpAnswer> {
    return { status: 200, type: metrics.registry.contentType, body: await metrics.registry.metrics() };
  }

  async function serveCall(text: string | undefined): Promise<HttpAnswer> {
    const call = text === undefined ? undefined : parseCall(text);
    if (call === undefined) return { status: 400, type: "text/plain", body: "expected {env, stdin}\n" };
    let stdout = "";
    let stderr = "";
    const io: PluginIO = {
      env: call.env,
      readStdin: async () => call.stdin,
      stdout: (t) => {
        stdout += t;
      },
      stderr: (t) => {
        stderr += t;
      },
    };
    const started = performance.now();
    const code = await runPlugin(io, pluginHandlers(io, stores.access), options.about);
    served++;
    metrics.call(call.env["CNI_COMMAND"] ?? "", code, (performance.now() - started) / 1000);
    const answer: AgentAnswer = { code, stdout, stderr };
    return { status: 200, type: "application/json", body: JSON.stringify(answer) };
  }

  await prepareSocket(options.socket);
  const listener = await listenOn(options.socket, async (method, path, body) => {
    if (path === HEALTH_PATH && method === "GET") return { status: 200, type: "text/plain", body: "ok\n" };
    if (path === METRICS_PATH && method === "GET") return serveMetrics();
    if (path === CNI_PATH && method === "POST") return serveCall(await body());
    return { status: 404, type: "text/plain", body: "not found\n" };
  });
  chmodSync(options.socket, 0o600);
  const tcp =
    options.metricsListen === undefined ? undefined : await listenTcp(options.metricsListen, serveMetrics);
  return {
    socket: options.socket,
    metricsAddress: tcp?.address,
    stores,
    served: () => served,
    async close() {
      await tcp?.close();
      await listener.close();
      await stores.closeAll();
      removeSocket(options.socket);
    },
  };
}

/** /metrics and /healthz over TCP, for Prometheus (which cannot scrape a unix socket). */
async function listenTcp(
  where: { host: string; port: number },
  serveMetrics: () => Promise<HttpAnswer>,
): Promise<{ address: { host: string; port: number }; close(): Promise<void> }> {
  const { createServer } = await import("node:http");
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://agent").pathname;
    const answer: Promise<HttpAnswer> =
      req.method !== "GET"
        ? Promise.resolve({ status: 405, type: "text/plain", body: "GET only\n" })
        : path === METRICS_PATH
          ? serveMetrics()
          : Promise.resolve(
              path === HEALTH_PATH
                ? { status: 200, type: "text/plain", body: "ok\n" }
                : { status: 404, type: "text/plain", body: "not found\n" },
            );
    answer.then(
      (a) => res.writeHead(a.status, { "content-type": a.type }).end(a.body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(where.port, where.host, () => resolve());
  });
  const bound = server.address();
  const port = typeof bound === "object" && bound !== null ? bound.port : where.port;
  return {
    address: { host: where.host, port },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The socket's directory exists; a socket file left by an agent that died is removed, one that a
 * live agent answers on is not (two agents on one socket would split the node's cache).
 */
async function prepareSocket(socket: string): Promise<void> {
  mkdirSync(dirname(socket), { recursive: true });
  if (!existsSync(socket)) return;
  if (await callAgentHealth(socket)) throw new Error(`another agent is already serving ${socket}`);
  removeSocket(socket);
}

function removeSocket(socket: string): void {
  try {
    unlinkSync(socket);
  } catch {
    // already gone
  }
}
