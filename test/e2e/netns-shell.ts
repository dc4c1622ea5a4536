// The few commands the network-namespace lab is made of (`ip`, `ip netns exec`), each run as a child
// process that rejects with its stderr, and polling for conditions that take a moment to hold (a
// daemon's socket, a lease written) so no test sleeps for a fixed time.
import { execFile } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export const NETNS_DIR = "/var/run/netns";

/** The executable `name` on PATH (or the sbin directories root has), if any. */
export function onPath(name: string): string | undefined {
  const dirs = (process.env["PATH"] ?? "")
    .split(delimiter)
    .concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
  for (const dir of dirs) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** `ip` by its full path: test processes may run with a PATH that lacks /usr/sbin. */
export const IP = onPath("ip") ?? "ip";

/** Runs a command; rejects with its stderr when it exits non-zero. */
export async function sh(file: string, args: readonly string[], timeoutMs = 10_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync(file, [...args], { timeout: timeoutMs, encoding: "utf8" });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string; code?: unknown };
    throw new Error(`${file} ${args.join(" ")} failed (${e.code}): ${(e.stderr ?? "").trim() || e.message}`);
  }
}

export function ip(...args: string[]): Promise<string> {
  return sh(IP, args);
}

/** `ip …` acting on namespace `ns` (`ip -n`: no mount namespace is set up, unlike `ip netns exec`). */
export function ipIn(ns: string, ...args: string[]): Promise<string> {
  return sh(IP, ["-n", ns, ...args]);
}

/** Runs `command` inside namespace `ns`. */
export function inNs(ns: string, command: string, ...args: string[]): Promise<string> {
  return sh(IP, ["netns", "exec", ns, command, ...args]);
}

export async function listNamespaces(): Promise<string[]> {
  const out = await sh(IP, ["-j", "netns", "list"]);
  if (out.trim() === "") return [];
  return (JSON.parse(out) as { name: string }[]).map((n) => n.name);
}

/** Deletes a named namespace; one already gone is not an error. */
export async function deleteNamespace(name: string): Promise<void> {
  try {
    await ip("netns", "delete", name);
  } catch (error) {
    if (!existsSync(join(NETNS_DIR, name))) return;
    throw error;
  }
}

/** Whether a process with this id exists (zombies included: they are reaped by their parent). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Polls `probe` until it returns something other than undefined/false, backing off from 10 ms to
 * 200 ms; rejects after `timeoutMs` with `what` and the last error the probe threw.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let delay = 10;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() > deadline) {
      const why = lastError === undefined ? "" : `: ${(lastError as Error).message ?? lastError}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 200);
  }
}
