// The plugin ↔ node agent protocol: HTTP/1.1 over a unix socket. The plugin forwards its invocation
// (the CNI_* variables and stdin) and relays the answer (exit code, stdout, stderr) as if it had
// done the work itself, so the runtime cannot tell the two apart.

/** Where the agent listens unless THEREABOUTS_AGENT_SOCKET says otherwise ("" = never use an agent). */
export const DEFAULT_AGENT_SOCKET = "/run/thereabouts/agent.sock";
export const AGENT_SOCKET_ENV = "THEREABOUTS_AGENT_SOCKET";

export const CNI_PATH = "/v1/cni";
/** The meta-plugin's calls (the executable run as `multus`): same body and answer as CNI_PATH. */
export const MULTUS_PATH = "/v1/multus";
export const HEALTH_PATH = "/healthz";
export const METRICS_PATH = "/metrics";

export interface AgentCall {
  readonly env: Readonly<Record<string, string>>;
  readonly stdin: string;
}

export interface AgentAnswer {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The agent's answer to a call it must not serve (its configuration names host paths the agent
 * does not share, agent --host-paths): the plugin runs it alone. Nothing of it was done.
 */
export interface AgentDeclined {
  readonly declined: string;
}

/**
 * The part of the plugin's environment that goes to the agent: the CNI_* variables, the only ones
 * a plugin call reads. Nothing else of the runtime's environment (PATH, proxies, credentials) ever
 * crosses the socket, and the agent ignores anything else it is sent.
 */
export function forwardedEnv(env: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env))
    if (name.startsWith("CNI_") && typeof value === "string") out[name] = value;
  return out;
}

export function agentSocket(env: Readonly<Record<string, string | undefined>>): string {
  return env[AGENT_SOCKET_ENV] ?? DEFAULT_AGENT_SOCKET;
}

/** The fields of a JSON object, or undefined for anything else (malformed text included). */
function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Checks an answer's shape: anything else is treated as no answer (the plugin works alone). */
export function parseAnswer(text: string): AgentAnswer | AgentDeclined | undefined {
  const value = jsonObject(text);
  if (value === undefined) return undefined;
  const { code, stdout, stderr, declined } = value;
  if (typeof declined === "string") return { declined };
  if (!Number.isInteger(code) || typeof stdout !== "string" || typeof stderr !== "string") return undefined;
  return { code: code as number, stdout, stderr };
}

/** Checks a call's shape on the agent side. */
export function parseCall(text: string): AgentCall | undefined {
  const value = jsonObject(text);
  if (value === undefined) return undefined;
  const { env, stdin } = value;
  if (typeof stdin !== "string" || typeof env !== "object" || env === null) return undefined;
  if (!Object.values(env).every((v) => typeof v === "string")) return undefined;
  return { env: forwardedEnv(env as Record<string, unknown>), stdin };
}
