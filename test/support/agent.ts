// Process-level support for the node agent: `bin/thereabouts agent` as a child process on a socket
// in a temporary directory, and a second local user for the trust-boundary tests. Every agent
// started is killed, and every user created is removed, when the test process exits.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BINARY, type TempDir, tempDir } from "./plugin.ts";

const live = new Set<ChildProcess>();
const dirs = new Set<TempDir>();
const users = new Set<string>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
  for (const dir of dirs) dir.remove();
  for (const user of users) spawnSync("userdel", [user]);
});

function socketInTempDir(): string {
  const dir = tempDir("thereabouts-agent-");
  dirs.add(dir);
  return join(dir.path, "agent.sock");
}

export interface AgentProcess {
  readonly socket: string;
  readonly child: ChildProcess;
  /** What the agent wrote on stderr so far. */
  stderr(): string;
  /** The env a plugin call needs to find this agent. */
  readonly env: { readonly THEREABOUTS_AGENT_SOCKET: string };
  /** How many file descriptors the agent has open now. */
  openFds(): number;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash): the socket file stays behind. */
  kill(): Promise<void>;
}

/**
 * Starts an agent and waits until its socket is there; `umask` is the one it starts under, `env`
 * its environment (default: this process's).
 */
export async function startAgentProcess(
  socket = socketInTempDir(),
  extraArgs: readonly string[] = [],
  options: { umask?: number; tmpfsOver?: readonly string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<AgentProcess> {
  const args = ["agent", "--socket", socket, ...extraArgs];
  // With a umask or mounts: a shell prepares them and execs the agent, so signals still reach the
  // agent itself. `tmpfsOver`: the agent runs in a mount namespace of its own (as in a container)
  // where these directories are empty tmpfs, while the host's stay as they are.
  const umask = options.umask === undefined ? "" : `umask ${options.umask.toString(8).padStart(3, "0")} && `;
  const mounts = (options.tmpfsOver ?? []).map((d) => `mount -t tmpfs none '${d}' && `).join("");
  const script = `${umask}${mounts}exec "$0" "$@"`;
  const env = options.env ?? process.env;
  const child =
    script === 'exec "$0" "$@"'
      ? spawn(BINARY.file, args, { stdio: ["ignore", "ignore", "pipe"], env })
      : mounts === ""
        ? spawn("/bin/sh", ["-c", script, BINARY.file, ...args], { stdio: ["ignore", "ignore", "pipe"], env })
        : spawn(
            "unshare",
            ["--mount", "--propagation", "private", "/bin/sh", "-c", script, BINARY.file, ...args],
            {
              stdio: ["ignore", "ignore", "pipe"],
              env,
            },
          );
  live.add(child);
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      live.delete(child);
      resolve(code);
    }),
  );
  for (let i = 0; !stderr.includes("thereabouts agent: serving "); i++) {
    if (child.exitCode !== null || i > 200) throw new Error(`agent did not start: ${stderr}`);
    await sleep(25);
  }
  if (!existsSync(socket)) throw new Error(`agent says it serves ${socket}, which is not there`);
  return {
    socket,
    child,
    stderr: () => stderr,
    env: { THEREABOUTS_AGENT_SOCKET: socket },
    openFds: () => readdirSync(`/proc/${child.pid}/fd`).length,
    async stop() {
      child.kill("SIGTERM");
      return exited;
    },
    async kill() {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

export interface LocalUser {
  readonly name: string;
  readonly uid: number;
  /** The user's own group (created with it). */
  readonly gid: number;
  /** argv prefix that runs a command as this user, with its group only and the environment kept. */
  readonly runAs: readonly string[];
  remove(): void;
}

/** Creates an unprivileged local user with its own group (the test must run as root). */
export function createLocalUser(): LocalUser {
  const name = `thab${Math.random().toString(36).slice(2, 10)}`;
  const made = spawnSync("useradd", [
    "--no-create-home",
    "--user-group",
    "--shell",
    "/usr/sbin/nologin",
    name,
  ]);
  if (made.status !== 0) throw new Error(`useradd ${name}: ${made.stderr}`);
  users.add(name);
  const id = (flag: string) => Number(spawnSync("id", [flag, name], { encoding: "utf8" }).stdout.trim());
  const uid = id("-u");
  const gid = id("-g");
  return {
    name,
    uid,
    gid,
    runAs: ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--"],
    remove() {
      spawnSync("userdel", [name]);
      users.delete(name);
    },
  };
}

/**
 * A crash loop: kills the agent (SIGKILL) every `lifetimeMs` and starts a new one on the same
 * socket, until stopped; stop() ends the last one with SIGTERM and tells how many were killed.
 */
export function crashLoop(first: AgentProcess, lifetimeMs: number): { stop(): Promise<number> } {
  let agent = first;
  let kills = 0;
  const stopped = new AbortController();
  const loop = (async () => {
    while (!stopped.signal.aborted) {
      await sleep(lifetimeMs, undefined, { signal: stopped.signal }).catch(() => {});
      if (stopped.signal.aborted) break;
      await agent.kill();
      kills++;
      agent = await startAgentProcess(agent.socket);
    }
  })();
  return {
    async stop() {
      stopped.abort();
      await loop;
      await agent.stop();
      return kills;
    },
  };
}

/** GET `path` over an agent's unix socket as this (root) process: status and body. */
export function getOverSocket(socket: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => {
        body += d.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** The agent's /metrics text, over its socket. */
export async function agentMetrics(socket: string): Promise<string> {
  return (await getOverSocket(socket, "/metrics")).body;
}
