// Process-level support for the node agent: `bin/thereabouts agent` as a child process on a socket
// in a temporary directory. Every agent started is killed when the test process exits.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BINARY, type TempDir, tempDir } from "./plugin.ts";

const live = new Set<ChildProcess>();
const dirs = new Set<TempDir>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
  for (const dir of dirs) dir.remove();
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
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash): the socket file stays behind. */
  kill(): Promise<void>;
}

/** Starts an agent and waits until its socket is there. */
export async function startAgentProcess(
  socket = socketInTempDir(),
  extraArgs: readonly string[] = [],
): Promise<AgentProcess> {
  const child = spawn(BINARY.file, ["agent", "--socket", socket, ...extraArgs], {
    stdio: ["ignore", "ignore", "pipe"],
  });
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
