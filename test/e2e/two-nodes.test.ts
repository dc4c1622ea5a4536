// Two simulated nodes on one LAN (netns-harness.ts: Lab.create({ nodes })), pods attached by the
// distribution's plugins run directly over the CNI protocol: macvlan on each node's uplink with
// host-local (each node keeps its own reservations) and static IPAM, pods reaching each other across
// nodes; bridge pods on one node; what the read-back helper sees in the pods' namespaces against the
// ADD results; DEL leaving nothing. Root only. Addresses come from documentation ranges only.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { assertNamespaceMatches, pingMesh } from "./netns-assertions.ts";
import {
  type AddResult,
  CNI_VERSION,
  hostLocalDir,
  hostLocalIpam,
  kernelLinkSupport,
  Lab,
  type Node,
  requirePrerequisites,
  staticIpam,
} from "./netns-harness.ts";
import { attachmentIn, interfaceIn, readNamespace } from "./netns-readback.ts";
import { removeStaleRuns } from "./netns-runs.ts";
import { ipIn, listNamespaces } from "./netns-shell.ts";

before(async () => {
  requirePrerequisites({ plugins: ["macvlan", "ipvlan", "bridge", "host-local", "static"] });
  await removeStaleRuns();
});

after(async () => {
  const ours = (await listNamespaces()).filter((n) => n.includes(`-${process.pid}-`));
  assert.deepEqual(ours, [], "every namespace this run created is gone");
});

async function newCluster(t: { after(fn: () => Promise<void>): void }): Promise<Lab> {
  const lab = await Lab.create({ nodes: ["node-a", "node-b"] });
  t.after(() => lab.dispose());
  return lab;
}

function macvlanConf(name: string, node: Node, ipam: object): object {
  return { cniVersion: CNI_VERSION, name, type: "macvlan", master: node.uplink, mode: "bridge", ipam };
}

/** host-local's reservations on a node: one file per address held (bookkeeping files aside). */
function hostLocalHoldings(node: Node, network: string): string[] {
  try {
    return readdirSync(join(hostLocalDir(node), network)).filter(
      (f) => f !== "lock" && !f.startsWith("last_reserved_ip"),
    );
  } catch {
    return []; // never written
  }
}

test("macvlan on each node's uplink, host-local per node (dual stack): pods ping across nodes, DEL frees", async (t) => {
  const lab = await newCluster(t);
  const [a, b] = [lab.node("node-a"), lab.node("node-b")];
  // One LAN, one subnet; each node hands out its own slice of it, as host-local per node is set up.
  const ipamFor = (node: Node, first: number) =>
    hostLocalIpam(node, [
      { subnet: "192.0.2.0/24", rangeStart: `192.0.2.${first}`, rangeEnd: `192.0.2.${first + 9}` },
      { subnet: "2001:db8:a::/64", rangeStart: `2001:db8:a::${first}`, rangeEnd: `2001:db8:a::${first + 9}` },
    ]);
  const confA = macvlanConf("lan-net", a, ipamFor(a, 10));
  const confB = macvlanConf("lan-net", b, ipamFor(b, 20));
  const pods = [
    await lab.addPod({ node: "node-a" }),
    await lab.addPod({ node: "node-a" }),
    await lab.addPod({ node: "node-b" }),
  ];
  const confs = [confA, confA, confB];
  const results: AddResult[] = [];
  for (const [i, pod] of pods.entries()) results.push(await lab.add("macvlan", pod, confs[i]!));

  assert.deepEqual(
    results.map((r) => r.ips.map((e) => e.address)),
    [
      ["192.0.2.10/24", "2001:db8:a::10/64"],
      ["192.0.2.11/24", "2001:db8:a::11/64"],
      ["192.0.2.20/24", "2001:db8:a::20/64"],
    ],
    "each node allocates from its own range",
  );
  for (const [i, pod] of pods.entries()) {
    const net = await lab.read(pod);
    assertNamespaceMatches(pod, "net1", net, results[i]!);
    assert.equal(interfaceIn(net, "net1")?.kind, "macvlan");
  }
  assert.equal(hostLocalHoldings(a, "lan-net").length, 4, "node-a holds 2 pods × 2 families");
  assert.equal(hostLocalHoldings(b, "lan-net").length, 2, "node-b holds 1 pod × 2 families");

  await pingMesh(lab, pods, results);

  for (const [i, pod] of pods.entries()) {
    await lab.expectOk("macvlan", "DEL", pod, { ...confs[i]!, prevResult: results[i] });
    assert.equal(await lab.hasLink(pod), false, `${pod.name}: net1 removed by DEL`);
  }
  assert.deepEqual(hostLocalHoldings(a, "lan-net"), [], "node-a's reservations released");
  assert.deepEqual(hostLocalHoldings(b, "lan-net"), [], "node-b's reservations released");
});

test("static IPAM across nodes: read-back matches the result (interface, MAC, addresses, routes, gateway)", async (t) => {
  const lab = await newCluster(t);
  const [a, b] = [lab.node("node-a"), lab.node("node-b")];
  const [onA, onB] = [await lab.addPod({ node: "node-a" }), await lab.addPod({ node: "node-b" })];
  const routes = [
    { dst: "0.0.0.0/0", gw: "198.51.100.1" },
    { dst: "203.0.113.0/24", gw: "198.51.100.254" },
  ];
  const confA = macvlanConf("static-net", a, staticIpam([{ address: "198.51.100.11/24" }], routes));
  const confB = macvlanConf("static-net", b, staticIpam([{ address: "198.51.100.12/24" }], routes));
  const resultA = await lab.add("macvlan", onA, confA);
  const resultB = await lab.add("macvlan", onB, confB);

  const [netA, netB] = [await lab.read(onA), await lab.read(onB)];
  assertNamespaceMatches(onA, "net1", netA, resultA);
  assertNamespaceMatches(onB, "net1", netB, resultB);
  // The view a network-status entry gives of the attachment, read from the namespace.
  assert.deepEqual(attachmentIn(netA, "net1"), {
    interface: "net1",
    ips: ["198.51.100.11"],
    mac: resultA.interfaces![0]!.mac,
    mtu: 1500,
    gateway: ["198.51.100.1"],
  });
  assert.notEqual(attachmentIn(netA, "net1")!.mac, attachmentIn(netB, "net1")!.mac, "distinct MACs");

  await lab.ping(onA, "198.51.100.12");
  await lab.ping(onB, "198.51.100.11");
  // The echo goes through the LAN switch: with node-b's port taken off the bridge (link still up)
  // it is not answered, and once plugged back it is again.
  await ipIn(lab.lan!, "link", "set", b.lanPort!, "nomaster");
  await assert.rejects(lab.exec(onA, "ping", "-n", "-c1", "-W1", "198.51.100.12"), /failed \(1\)/);
  await ipIn(lab.lan!, "link", "set", b.lanPort!, "master", "lan");
  await lab.ping(onA, "198.51.100.12");

  await lab.expectOk("macvlan", "DEL", onA, { ...confA, prevResult: resultA });
  await lab.expectOk("macvlan", "DEL", onB, { ...confB, prevResult: resultB });
  for (const pod of [onA, onB]) {
    const net = await lab.read(pod);
    assert.deepEqual(
      net.interfaces.map((i) => i.name),
      ["lo"],
      `${pod.name}: only loopback is left`,
    );
    assert.deepEqual(net.routes, [], `${pod.name}: no routes are left`);
  }
});

test("bridge on one node: pods reach each other and the gateway on the node's bridge; DEL removes the veths", async (t) => {
  const lab = await newCluster(t);
  const a = lab.node("node-a");
  const conf = {
    cniVersion: CNI_VERSION,
    name: "bridge-net",
    type: "bridge",
    bridge: "br-pods",
    isGateway: true,
    isDefaultGateway: true, // the plugin adds the pods' default route via the bridge
    ipMasq: false,
    ipam: hostLocalIpam(a, [
      { subnet: "203.0.113.0/24", rangeStart: "203.0.113.10", gateway: "203.0.113.1" },
    ]),
  };
  const pods = await lab.addPods(2, { node: "node-a" });
  const results: AddResult[] = [];
  for (const pod of pods) results.push(await lab.add("bridge", pod, conf));
  assert.deepEqual(
    results.map((r) => r.ips.map((e) => e.address)),
    [["203.0.113.10/24"], ["203.0.113.11/24"]],
  );

  const node = await readNamespace(a.ns);
  const bridge = interfaceIn(node, "br-pods");
  assert.equal(bridge?.kind, "bridge", "the plugin made the bridge in the node's namespace");
  assert.deepEqual(
    bridge?.addresses.filter((x) => x.scope === "global").map((x) => `${x.address}/${x.prefixLength}`),
    ["203.0.113.1/24"],
    "isGateway: the gateway address is on the bridge",
  );
  const ports = node.interfaces.filter((i) => i.master === "br-pods");
  assert.equal(ports.length, 2, "one veth per pod on the bridge");
  for (const [i, pod] of pods.entries()) {
    const net = await lab.read(pod);
    assertNamespaceMatches(pod, "net1", net, results[i]!);
    assert.equal(interfaceIn(net, "net1")?.kind, "veth");
    assert.deepEqual(attachmentIn(net, "net1")?.gateway, ["203.0.113.1"], "default route via the bridge");
  }

  await pingMesh(lab, pods, results);
  for (const pod of pods) await lab.ping(pod, "203.0.113.1");

  for (const [i, pod] of pods.entries())
    await lab.expectOk("bridge", "DEL", pod, { ...conf, prevResult: results[i] });
  const nodeAfter = await readNamespace(a.ns);
  assert.deepEqual(
    nodeAfter.interfaces.filter((i) => i.master === "br-pods"),
    [],
    "the pods' veths are gone from the node",
  );
  for (const pod of pods) assert.equal(await lab.hasLink(pod), false, `${pod.name}: net1 removed`);
  assert.deepEqual(hostLocalHoldings(a, "bridge-net"), [], "reservations released");
});

test("one pod, two attachments (net1, net2) on one node's uplink: the read-back tells them apart", async (t) => {
  const lab = await newCluster(t);
  const b = lab.node("node-b");
  const [pod, peer] = [await lab.addPod({ node: "node-b" }), await lab.addPod({ node: "node-a" })];
  const conf = (address: string) => macvlanConf("twice", b, staticIpam([{ address }]));
  const net1 = await lab.add("macvlan", pod, conf("192.0.2.41/24"), { ifName: "net1" });
  const net2 = await lab.add("macvlan", pod, conf("192.0.2.42/24"), { ifName: "net2" });
  const peerConf = macvlanConf("twice", lab.node("node-a"), staticIpam([{ address: "192.0.2.43/24" }]));
  const peerResult = await lab.add("macvlan", peer, peerConf);

  const net = await lab.read(pod);
  assertNamespaceMatches(pod, "net1", net, net1);
  assertNamespaceMatches(pod, "net2", net, net2);
  assert.deepEqual(
    net.interfaces.map((i) => i.name),
    ["lo", "net1", "net2"],
  );
  assert.notEqual(attachmentIn(net, "net1")!.mac, attachmentIn(net, "net2")!.mac);
  await lab.ping(peer, "192.0.2.41");
  await lab.ping(peer, "192.0.2.42");

  await lab.expectOk(
    "macvlan",
    "DEL",
    pod,
    { ...conf("192.0.2.42/24"), prevResult: net2 },
    { ifName: "net2" },
  );
  assert.deepEqual(
    (await lab.read(pod)).interfaces.map((i) => i.name),
    ["lo", "net1"],
    "DEL of net2 leaves net1",
  );
  await lab.expectOk(
    "macvlan",
    "DEL",
    pod,
    { ...conf("192.0.2.41/24"), prevResult: net1 },
    { ifName: "net1" },
  );
  await lab.expectOk("macvlan", "DEL", peer, { ...peerConf, prevResult: peerResult });
  assert.equal(await lab.hasLink(pod, "net1"), false);
});

// Probed before the tests are declared, so the test's name says what this kernel allows.
const ipvlan = await kernelLinkSupport("ipvlan");

test(`ipvlan on a node's uplink: ${ipvlan.supported ? "the kernel has it: ADD makes an ipvlan link in the pod" : `not available (${ipvlan.reason}): the plugin fails with a CNI error, leaves nothing`}`, async (t) => {
  const lab = await newCluster(t);
  const a = lab.node("node-a");
  const pod = await lab.addPod({ node: "node-a" });
  const conf = {
    cniVersion: CNI_VERSION,
    name: "ipvlan-net",
    type: "ipvlan",
    master: a.uplink,
    mode: "l2",
    ipam: staticIpam([{ address: "192.0.2.31/24" }]),
  };
  const outcome = await lab.cni("ipvlan", "ADD", pod, conf);
  if (ipvlan.supported) {
    assert.equal(outcome.code, 0, outcome.stdout);
    assert.equal(interfaceIn(await lab.read(pod), "net1")?.kind, "ipvlan");
    await lab.expectOk("ipvlan", "DEL", pod, { ...conf, prevResult: JSON.parse(outcome.stdout) });
  } else {
    assert.equal(outcome.code, 1, "ipvlan ADD fails");
    assert.equal(typeof JSON.parse(outcome.stdout).code, "number", "with a CNI error JSON");
  }
  assert.equal(await lab.hasLink(pod), false, "nothing is left in the pod");
});
