// Runs the plugin as a runtime would: a child process with CNI_* env and the config on stdin.
// Shared by the demo, the benchmarks and the process-level tests.
import { spawn } from "node:child_process";

export interface PluginCall {
  readonly command: "ADD" | "DEL" | "CHECK" | "GC" | "STATUS" | "VERSION";
  readonly config: string;
  readonly containerId?: string;
  readonly ifName?: string;
  readonly netns?: string;
  readonly cniArgs?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Kill the child with SIGKILL after this many ms (fault injection). */
  readonly killAfterMs?: number;
}

export interface PluginOutcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** The running executable, when it is the compiled plugin; under Node, `src/main.ts` via Node. */
export function selfInvocation(): { file: string; args: string[] } {
  const script = process.argv[1];
  if (script !== undefined && /\.(ts|js|mjs)$/.test(script) && !script.startsWith("/$bunfs")) {
    return { file: process.execPath, args: [script] };
  }
  return { file: process.execPath, args: [] };
}

export function execPlugin(
  binary: { file: string; args?: readonly string[] },
  call: PluginCall,
): Promise<PluginOutcome> {
  const started = performance.now();
  const env: Record<string, string> = {
    PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId ?? "",
    CNI_NETNS: call.netns ?? "",
    CNI_IFNAME: call.ifName ?? "",
    CNI_PATH: "/opt/cni/bin:/usr/lib/cni",
    CNI_ARGS: call.cniArgs ?? "",
    ...call.env,
  };
  for (const key of Object.keys(env)) if (env[key] === "") delete env[key];
  return new Promise((resolve, reject) => {
    const child = spawn(binary.file, [...(binary.args ?? [])], { env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.stdin.on("error", () => {}); // a child killed before reading stdin is not our error
    const timer =
      call.killAfterMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), call.killAfterMs);
    child.on("close", (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        ms: performance.now() - started,
      });
    });
    child.stdin.end(call.config);
  });
}

/** Runs `work` over `items` with at most `limit` in flight, keeping result order. */
export async function inParallel<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return results;
}
