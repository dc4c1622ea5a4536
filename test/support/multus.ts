// bin/multus (the executable under the meta-plugin's name) run as the runtime runs it, and what
// the tests read back from a pod's network namespace.
import { execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./plugin.ts";

export const MULTUS = join(ROOT, "bin", "multus");

export interface MultusOutcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** One call: CNI_COMMAND `command`, `env` over PATH alone, `stdin` as given (an object as JSON). */
export function runMultus(
  command: string,
  stdin: string | object,
  env: Record<string, string>,
  executable = MULTUS,
): Promise<MultusOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(executable, [], {
      env: { PATH: process.env["PATH"] ?? "", CNI_COMMAND: command, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b));
    child.stderr.on("data", (b: Buffer) => (stderr += b));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(typeof stdin === "string" ? stdin : JSON.stringify(stdin));
  });
}

export const ip = (...args: string[]) => execFileSync("ip", args, { encoding: "utf8" });

/** The interface names in a namespace, sorted. */
export const links = (ns: string) =>
  (JSON.parse(ip("-n", ns, "-j", "link", "show")) as { ifname: string }[]).map((l) => l.ifname).sort();

/** The IPv4 addresses of one interface in a namespace. */
export const addresses = (ns: string, dev: string) =>
  (
    JSON.parse(ip("-n", ns, "-j", "addr", "show", "dev", dev)) as {
      addr_info: { family: string; local: string }[];
    }[]
  )[0]!.addr_info
    .filter((a) => a.family === "inet")
    .map((a) => a.local);
