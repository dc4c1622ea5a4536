// Default routes inside the pod's network namespace. Node cannot enter a namespace itself (setns
// is per thread, and its threads are not ours), so the change is made by `ip` run in it through
// `nsenter --net=<CNI_NETNS>`: both are on every node a CNI runtime runs on (util-linux, iproute2).
import { execFile } from "node:child_process";

function ipInNetns(netns: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("nsenter", [`--net=${netns}`, "ip", ...args], { timeout: 10_000 }, (error, _out, stderr) => {
      if (error === null) resolve();
      else reject(new Error(stderr.trim() !== "" ? stderr.trim() : error.message));
    });
  });
}

/** Removes every default route (both families) through `ifName`. */
export async function deleteDefaultRoutes(netns: string, ifName: string): Promise<void> {
  await ipInNetns(netns, ["-4", "route", "flush", "exact", "0.0.0.0/0", "dev", ifName]);
  await ipInNetns(netns, ["-6", "route", "flush", "exact", "::/0", "dev", ifName]);
}

/** Adds a default route via `gateway` through `ifName`; one already there is fine. */
export async function addDefaultRoute(netns: string, ifName: string, gateway: string): Promise<void> {
  try {
    await ipInNetns(netns, ["route", "add", "default", "via", gateway, "dev", ifName]);
  } catch (error) {
    if (!(error instanceof Error && /File exists/.test(error.message))) throw error;
  }
}
