// Assertions the namespace tests share: pods reaching each other, and a pod's namespace holding
// exactly what its plugin's ADD result says.
import assert from "node:assert/strict";
import { type AddResult, bare, type Lab, type Pod } from "./netns-harness.ts";
import { attachmentIn, interfaceIn, type NamespaceNetwork } from "./netns-readback.ts";

/** Every pod pings every other pod's every address (all at once). */
export async function pingMesh(lab: Lab, pods: readonly Pod[], results: readonly AddResult[]): Promise<void> {
  const pings: Promise<void>[] = [];
  pods.forEach((from, i) => {
    results.forEach((result, j) => {
      if (i !== j) for (const entry of result.ips) pings.push(lab.ping(from, bare(entry.address)));
    });
  });
  await Promise.all(pings);
}

/** CIDR of a route destination as the kernel lists it (host routes /32 or /128). */
function cidr(dst: string): string {
  return dst.includes("/") ? dst : `${dst}/${dst.includes(":") ? 128 : 32}`;
}

/**
 * The pod's namespace holds what the result says: the interface (in this sandbox, with its MAC),
 * exactly the result's addresses on it with their prefix lengths, and each of the result's routes
 * through it with its gateway.
 */
export function assertNamespaceMatches(
  pod: Pod,
  ifName: string,
  net: NamespaceNetwork,
  result: AddResult,
): void {
  const iface = result.interfaces?.find((i) => i.sandbox === pod.netns);
  assert.equal(iface?.name, ifName, `${pod.name}: the result's sandbox interface`);
  const view = attachmentIn(net, ifName);
  assert.ok(view !== undefined, `${pod.name}: ${ifName} is in the namespace`);
  assert.equal(view.mac, iface?.mac, `${pod.name}: MAC in the namespace = MAC in the result`);
  const prefixes = interfaceIn(net, ifName)!
    .addresses.filter((a) => a.scope === "global")
    .map((a) => `${a.address}/${a.prefixLength}`);
  assert.deepEqual(prefixes.sort(), result.ips.map((e) => e.address).sort(), `${pod.name}: addresses`);
  for (const route of result.routes ?? []) {
    const found = net.routes.find((r) => r.dst === cidr(route.dst) && r.dev === ifName);
    assert.ok(found, `${pod.name}: route ${route.dst} via ${ifName} in ${JSON.stringify(net.routes)}`);
    assert.equal(found.gateway, route.gw, `${pod.name}: gateway of ${route.dst}`);
  }
}
