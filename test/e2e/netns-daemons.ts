// Long-running processes inside a lab namespace (dnsmasq, the CNI dhcp daemon): started through
// `ip netns exec` (which execs, so the child's pid is the daemon's own), watched until ready by
// polling, stopped with SIGTERM then SIGKILL. Any still running when the test process exits are
// killed then; a run that is itself killed leaves them to the next run's removeStaleRuns(), which
// finds them by their command lines (they must name a path in the lab's directory).
import { type ChildProcess, spawn } from "node:child_process";
import { IP, waitUntil } from "./netns-shell.ts";

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export interface NsProcess {
  readonly what: string;
  readonly pid: number;
  /** stdout and stderr so far, interleaved as they came. */
  output(): string;
  running(): boolean;
  /** SIGTERM, SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  /** Polled until true; the process must not exit meanwhile. */
  readonly ready: (output: string) => boolean | Promise<boolean>;
  readonly timeoutMs?: number;
}

export async function startInNamespace(
  ns: string,
  what: string,
  file: string,
  args: readonly string[],
  options: StartOptions,
): Promise<NsProcess> {
  const child = spawn(IP, ["netns", "exec", ns, file, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString("utf8");
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const exited = new Promise<void>((resolve) => {
    child.once("close", () => {
      live.delete(child);
      resolve();
    });
  });
  const spawnError = new Promise<never>((_, reject) => child.once("error", reject));
  spawnError.catch(() => {}); // raced below; an error after start-up shows as the process not running
  let starting = true;
  const exitedEarly = exited.then(() => {
    if (starting) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) while starting`);
  });
  const proc: NsProcess = {
    what,
    pid: child.pid ?? -1,
    output: () => output,
    running: () => child.exitCode === null && child.signalCode === null,
    async stop(graceMs = 3_000) {
      if (!proc.running()) return exited;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await Promise.race([
      spawnError,
      exitedEarly,
      waitUntil(`${what} to be ready`, () => options.ready(output), options.timeoutMs ?? 10_000),
    ]);
  } catch (error) {
    await proc.stop(0);
    throw new Error(`${(error as Error).message}\n${what} said:\n${output}`);
  } finally {
    starting = false;
  }
  return proc;
}
