// Secondary networks the multus e2e files attach (one NAD per IPAM kind on node-a's uplink and a
// bridge) and what "nothing left" means for a pod attached to them: no interface, address or route
// in the pod, no port on the node's bridges, nothing held by thereabouts or host-local.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import {
  CNI_VERSION,
  hostLocalDir,
  hostLocalIpam,
  localIpam,
  type Node,
  staticIpam,
  storeRows,
} from "./netns-harness.ts";
import type { ApiPod, MultusLab } from "./netns-multus.ts";
import { readNamespace } from "./netns-readback.ts";

/** The annotation naming the three networks of secondaryNetworks(). */
export const SECONDARY_NETWORKS = "ta-macvlan,hl-bridge,static-macvlan";
/** Their network-status names, after the master's. */
export const SECONDARY_STATUS = [
  "podnet",
  "default/ta-macvlan",
  "default/hl-bridge",
  "default/static-macvlan",
];

/** Three NADs, one per IPAM: thereabouts on macvlan, host-local on a bridge, static on macvlan. */
export async function secondaryNetworks(m: MultusLab, node: Node): Promise<void> {
  await m.nad("ta-macvlan", {
    cniVersion: CNI_VERSION,
    type: "macvlan",
    master: node.uplink,
    mode: "bridge",
    ipam: localIpam(m.lab.storePath, "whereabouts", { range: "198.51.100.0/24" }),
  });
  await m.nad("hl-bridge", {
    cniVersion: CNI_VERSION,
    type: "bridge",
    bridge: "br-hl",
    ipam: hostLocalIpam(node, [{ subnet: "192.0.2.128/26" }]),
  });
  await m.nad("static-macvlan", {
    cniVersion: CNI_VERSION,
    type: "macvlan",
    master: node.uplink,
    ipam: staticIpam([{ address: "203.0.113.7/24" }]),
  });
}

/** host-local's reservations of `network` on a node (bookkeeping files aside). */
export function hostLocalHoldings(node: Node, network: string): string[] {
  try {
    return readdirSync(join(hostLocalDir(node), network)).filter(
      (f) => f !== "lock" && !f.startsWith("last_reserved_ip"),
    );
  } catch {
    return []; // never written
  }
}

export async function bridgePorts(node: Node, bridge: string): Promise<string[]> {
  return (await readNamespace(node.ns)).interfaces.filter((i) => i.master === bridge).map((i) => i.name);
}

/**
 * Asserts nothing of the pod's attachments to the master network and secondaryNetworks() is left:
 * only `lo` in the pod, no global address, no route; thereabouts and host-local hold nothing; the
 * node's bridges have no port.
 */
export async function assertNothingLeft(m: MultusLab, p: ApiPod): Promise<void> {
  const node = p.pod.node;
  const net = await m.lab.read(p.pod);
  assert.deepEqual(
    net.interfaces.map((i) => i.name),
    ["lo"],
    `only lo is left in ${p.pod.name}`,
  );
  assert.deepEqual(
    net.interfaces.flatMap((i) => i.addresses.filter((x) => x.scope === "global")),
    [],
    "no address",
  );
  assert.deepEqual(
    net.routes.filter((r) => r.dev !== "lo"),
    [],
    "no route",
  );
  assert.equal(storeRows(m.lab.storePath).allocations, 0, "thereabouts holds nothing");
  assert.deepEqual(
    hostLocalHoldings(node, "hl-bridge"),
    [],
    "host-local holds nothing for the bridge network",
  );
  assert.deepEqual(hostLocalHoldings(node, "podnet"), [], "nor for the master");
  assert.deepEqual(await bridgePorts(node, "br-hl"), [], "br-hl has no port");
  assert.deepEqual(await bridgePorts(node, "cni0"), [], "cni0 has no port");
}
