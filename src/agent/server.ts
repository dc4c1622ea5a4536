// The node agent: serves CNI calls forwarded by plugin processes over a unix socket, running the
// same verbs in-process against warm stores (WarmStores → AgentStore: cached pools, grouped
// commits). One agent per node; plugins work alone whenever it is absent.
import { chmodSync, existsSync, mkdirSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { pluginHandlers } from "../cni/plugin.ts";
import { type PluginIO, runPlugin } from "../cni/skel.ts";
import { callAgentHealth } from "./client.ts";
import { type HttpAnswer, listenOn } from "./http-listener.ts";
import { type AgentAnswer, CNI_PATH, HEALTH_PATH, parseCall } from "./protocol.ts";
import { WarmStores } from "./warm-stores.ts";

export interface Agent {
  readonly socket: string;
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
}): Promise<Agent> {
  const stores = options.stores ?? new WarmStores();
  let served = 0;

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
    const code = await runPlugin(io, pluginHandlers(io, stores.access), options.about);
    served++;
    const answer: AgentAnswer = { code, stdout, stderr };
    return { status: 200, type: "application/json", body: JSON.stringify(answer) };
  }

  await prepareSocket(options.socket);
  const listener = await listenOn(options.socket, async (method, path, body) => {
    if (path === HEALTH_PATH && method === "GET") return { status: 200, type: "text/plain", body: "ok\n" };
    if (path === CNI_PATH && method === "POST") return serveCall(await body());
    return { status: 404, type: "text/plain", body: "not found\n" };
  });
  chmodSync(options.socket, 0o600);
  return {
    socket: options.socket,
    stores,
    served: () => served,
    async close() {
      await listener.close();
      await stores.closeAll();
      removeSocket(options.socket);
    },
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
