// The pod's network namespace seen from the node: whether an interface name is taken, and its
// default routes. Node cannot enter a namespace itself (setns
// is per thread, and its threads are not ours), so the change is made by `ip` run in it through
// `nsenter --net=<CNI_NETNS>`: both are on every node a CNI runtime runs on (util-linux, iproute2).
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { CNI_CODES, CniError } from "../errors/errors.ts";

/**
 * The programs run in the pod's namespace, with the Debian package that has each: an agent looks
 * for them at start (src/agent/netns-programs.ts) and the image carries them (scripts/image).
 */
export const NETNS_PROGRAMS = [
  { name: "nsenter", pkg: "util-linux" },
  { name: "ip", pkg: "iproute2" },
] as const;
const [NSENTER, IP] = NETNS_PROGRAMS;

function ipInNetnsRaw(
  netns: string,
  args: readonly string[],
): Promise<{ ok: boolean; stderr: string; why: string }> {
  return new Promise((resolve) => {
    execFile(NSENTER.name, [`--net=${netns}`, IP.name, ...args], { timeout: 10_000 }, (error, _out, stderr) =>
      resolve({
        ok: error === null,
        stderr: stderr.trim(),
        why:
          (error as NodeJS.ErrnoException | null)?.code === "ENOENT"
            ? "nsenter (util-linux) and ip (iproute2) must be installed on the node"
            : (error?.message ?? ""),
      }),
    );
  });
}

/**
 * Multus' check before each delegate's ADD: a plugin told to create a name already in the pod
 * would fail, or (some) take the existing interface over.
 * @throws CniError code 7 when the name is taken, code 4 when the namespace does not exist.
 */
export async function validateIfName(netns: string, ifName: string): Promise<void> {
  if (!existsSync(netns))
    throw new CniError(CNI_CODES.invalidEnvironment, `validateIfName: no net namespace ${netns} found`);
  const { ok, stderr, why } = await ipInNetnsRaw(netns, ["link", "show", "dev", ifName]);
  if (ok)
    throw new CniError(CNI_CODES.invalidConfig, `validateIfName: interface name ${ifName} already exists`);
  if (!/does not exist/.test(stderr))
    throw new CniError(CNI_CODES.internal, `validateIfName: ${stderr !== "" ? stderr : why}`);
}

function ipInNetns(netns: string, args: readonly string[]): Promise<void> {
  return ipInNetnsRaw(netns, args).then(({ ok, stderr, why }) => {
    if (!ok) throw new Error(stderr !== "" ? stderr : why);
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
