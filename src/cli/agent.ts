// `thereabouts agent [--socket PATH]`: the per-node agent (src/agent/server.ts). Runs until SIGTERM
// or SIGINT, then finishes the calls in flight and removes its socket.
import { parseArgs } from "node:util";
import { aboutText, VERSION } from "../about.ts";
import { DEFAULT_MULTUS_LIMITS, type GateLimits } from "../agent/call-gate.ts";
import { HostPaths } from "../agent/host-paths.ts";
import { AGENT_SOCKET_ENV, agentSocket } from "../agent/protocol.ts";
import { startAgent } from "../agent/server.ts";
import { DEFAULT_IDLE_MS, WarmStores } from "../agent/warm-stores.ts";
import type { LogFormat } from "../config/types.ts";
import { daemonLog, type LogFields, logFormatFlag } from "../log/line.ts";
import { parseListen } from "../net/listen-address.ts";

export const AGENT_USAGE = `Usage: thereabouts agent [--socket PATH] [--allow-group GROUP]
                         [--host-paths DIRS] [--metrics-listen HOST:PORT]
                         [--node-name NAME] [--multus-max-calls N]
                         [--multus-queue N] [--multus-queue-wait-seconds N]
                         [--no-multus] [--log-format text|json]

Serves the CNI calls of this node's plugin processes with warm datastore
connections, cached pools and grouped commits (docs/agent.md). Plugins find it
at $${AGENT_SOCKET_ENV}, else /run/thereabouts/agent.sock, and work
alone whenever it is not there. Only root (and the agent's own user) may call
it.

  --socket PATH            unix socket to listen on (default:
                           $${AGENT_SOCKET_ENV}, else
                           /run/thereabouts/agent.sock); its directory is
                           created 0700, or must be owned by root and not
                           writable by group or others
  --allow-group GROUP      also serve callers whose group (a name or a gid) is
                           GROUP: socket 0660 and a new directory 0750, both
                           of that group
  --store-idle-seconds N   close a datastore handle no call used for N seconds
                           (default ${DEFAULT_IDLE_MS / 1000})
  --metrics-listen H:P     also serve /metrics and /healthz over TCP for
                           Prometheus (off by default; the socket always
                           serves them; port 0 picks one)
  --host-paths DIR,DIR     for an agent in a container: the host directories
                           mounted in it at their host paths; a call whose
                           configuration names a file, log or store elsewhere
                           is left to the plugin, which runs it alone on the
                           host (default: the agent runs on the host and sees
                           every path)
  --node-name NAME         the Kubernetes node this agent serves: the
                           meta-plugin's calls find its pods in a watch
                           cache (default: $NODENAME, else the host name)
  --multus-max-calls N     meta-plugin (multus) calls run at once (default
                           ${DEFAULT_MULTUS_LIMITS.running}); IPAM calls are never held up by them
  --multus-queue N         meta-plugin calls waiting for a slot (default ${DEFAULT_MULTUS_LIMITS.queued});
                           one more is declined at once, and its plugin
                           runs it alone; DELs wait ahead of ADDs
  --multus-queue-wait-seconds N
                           a call not started within N seconds (default ${DEFAULT_MULTUS_LIMITS.waitMs / 1000},
                           at most 20) is declined too
  --no-multus              serve no meta-plugin call: each is declined at once
                           and bin/multus runs it alone on the host (thin
                           mode); also the case when nsenter or ip is not on
                           the agent's PATH
  --log-format text|json   the agent's own lines on stderr: text (default) or
                           one JSON object per line; the log lines of the
                           calls it serves follow each call's log_format
`;

export async function runAgentCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      socket: { type: "string" },
      "allow-group": { type: "string" },
      "store-idle-seconds": { type: "string" },
      "metrics-listen": { type: "string" },
      "host-paths": { type: "string" },
      "multus-max-calls": { type: "string" },
      "multus-queue": { type: "string" },
      "multus-queue-wait-seconds": { type: "string" },
      "log-format": { type: "string" },
      "node-name": { type: "string" },
      "no-multus": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help === true) {
    process.stdout.write(AGENT_USAGE);
    return 0;
  }
  const format = logFormatFlag(values["log-format"], "text");
  const socket = values.socket ?? agentSocket(process.env);
  if (!socket.startsWith("/")) throw new Error("--socket must be an absolute path");
  const idle = values["store-idle-seconds"];
  if (idle !== undefined && !/^\d{1,7}$/.test(idle))
    throw new Error(`--store-idle-seconds ${JSON.stringify(idle)}: expected a whole number of seconds`);
  // The binary starts with a reluctant JIT (short-lived plugin runs); a long-lived agent wants it.
  (
    globalThis as { Bun?: { unsafe?: { setJITPolicy?: (scale: number) => void } } }
  ).Bun?.unsafe?.setJITPolicy?.(1);
  const multusLimits = parseMultusLimits(values);
  const metricsListen = values["metrics-listen"];
  const hostPaths = values["host-paths"] === undefined ? undefined : parseHostPaths(values["host-paths"]);
  // The delegates the agent runs for the meta-plugin (an IPAM plugin among them) find it here.
  process.env[AGENT_SOCKET_ENV] = socket;
  // Only a name given here is checked: a default that names no node costs the cache its pods (each
  // call then GETs its pod), never the agent its start.
  const given = values["node-name"];
  if (given !== undefined && !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(given))
    throw new Error(
      `--node-name ${JSON.stringify(given.slice(0, 100))}: expected the Kubernetes node's name (lower-case letters, digits, '-' and '.')`,
    );
  const log = daemonLog(format, (line) => process.stderr.write(line));
  const agent = await startAgent({
    socket,
    nodeName: given,
    log,
    allowGroup: values["allow-group"],
    hostPaths,
    multusLimits,
    noMultus: values["no-multus"] === true,
    stores: new WarmStores({ log, ...(idle === undefined ? {} : { idleMs: Number(idle) * 1000 }) }),
    ...(metricsListen === undefined ? {} : { metricsListen: parseListen(metricsListen, "--metrics-listen") }),
  });
  const tcp = agent.metricsAddress;
  const metrics = tcp === undefined ? undefined : `http://${tcp.host}:${tcp.port}/metrics`;
  const shared = hostPaths === undefined ? "" : `, host paths ${hostPaths.prefixes.join(",")}`;
  const say = agentLog(format);
  if (format === "text") process.stderr.write(aboutText());
  say(
    `thereabouts agent: serving ${socket}${shared}${metrics === undefined ? "" : `, metrics on ${metrics}`}`,
    {
      version: VERSION,
      socket,
      hostPaths: hostPaths?.prefixes.join(","),
      metrics,
    },
  );
  if (agent.multusDeclined !== undefined)
    say(`thereabouts agent: ${agent.multusDeclined}`, { multus: "declined" });
  const signal = await new Promise<string>((resolve) => {
    for (const s of ["SIGTERM", "SIGINT"] as const) process.once(s, () => resolve(s));
  });
  say(`thereabouts agent: ${signal}, finishing calls in flight`, { signal });
  await agent.close();
  return 0;
}

/**
 * The agent's own lines on stderr. text: the message alone, as the agent always wrote it (the
 * facts are in it); json: one object per line with the facts as fields.
 */
function agentLog(format: LogFormat): (msg: string, fields?: LogFields) => void {
  const json = daemonLog(format, (line) => process.stderr.write(line));
  return format === "json"
    ? (msg, fields) => json("info", msg, fields)
    : (msg) => process.stderr.write(`${msg}\n`);
}

/** The meta-plugin calls' limits (call-gate.ts) from the flags, each a whole number in its range. */
export function parseMultusLimits(values: {
  "multus-max-calls"?: string | undefined;
  "multus-queue"?: string | undefined;
  "multus-queue-wait-seconds"?: string | undefined;
}): GateLimits {
  const whole = (flag: keyof typeof values, fallback: number, min: number, max: number, unit: string) => {
    const text = values[flag];
    if (text === undefined) return fallback;
    const n = /^\d{1,7}$/.test(text) ? Number(text) : Number.NaN;
    if (!(n >= min && n <= max))
      throw new Error(
        `--${flag} ${JSON.stringify(text.slice(0, 100))}: expected a whole number of ${unit} from ${min} to ${max}`,
      );
    return n;
  };
  const d = DEFAULT_MULTUS_LIMITS;
  return {
    running: whole("multus-max-calls", d.running, 1, 1024, "calls"),
    queued: whole("multus-queue", d.queued, 0, 100_000, "calls"),
    // The wait is taken from the call's own time limit (ADD 65 s, others 35 s): a DEL that waited
    // the longest still has 15 s to run.
    waitMs: whole("multus-queue-wait-seconds", d.waitMs / 1000, 0, 20, "seconds") * 1000,
  };
}

/** `--host-paths /etc/cni/net.d,/var/lib/cni/thereabouts`: absolute directories, comma-separated. */
export function parseHostPaths(text: string): HostPaths {
  const dirs = text.split(",").map((d) => d.trim());
  for (const dir of dirs) {
    if (!dir.startsWith("/") || dir.includes("\0"))
      throw new Error(
        `--host-paths ${JSON.stringify(dir.slice(0, 100))}: expected absolute directories separated by commas`,
      );
  }
  return new HostPaths(dirs);
}
