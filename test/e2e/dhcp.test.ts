// DHCP end to end on two simulated nodes: dnsmasq serves a range from its own namespace on the LAN,
// each node runs the CNI dhcp plugin's daemon (socket in the lab's directory), and pods attached with
// macvlan + dhcp IPAM get leases, reach each other across nodes, and give them back on DEL
// (DHCPRELEASE: the lease leaves dnsmasq's lease file). Prints how long each DHCP ADD took. Root only.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { assertNamespaceMatches, pingMesh } from "./netns-assertions.ts";
import { type DhcpServer, startDhcpDaemon, startDhcpServer } from "./netns-dhcp.ts";
import {
  type AddResult,
  bare,
  CNI_VERSION,
  Lab,
  type Node,
  type Pod,
  requirePrerequisites,
} from "./netns-harness.ts";
import { removeStaleRuns } from "./netns-runs.ts";
import { listNamespaces, waitUntil } from "./netns-shell.ts";

const NETWORK = "dhcp-net";
const SERVER = "198.51.100.1/24";
const RANGE_START = 100;
const RANGE_END = 149;

before(async () => {
  requirePrerequisites({ plugins: ["macvlan", "dhcp"], tools: ["dnsmasq"] });
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

function macvlanConf(node: Node, ipam: object): object {
  return {
    cniVersion: CNI_VERSION,
    name: NETWORK,
    type: "macvlan",
    master: node.uplink,
    mode: "bridge",
    ipam,
  };
}

function inRange(address: string): boolean {
  const [net, host] = [address.split(".").slice(0, 3).join("."), Number(address.split(".")[3])];
  return net === "198.51.100" && host >= RANGE_START && host <= RANGE_END;
}

function leaseOf(server: DhcpServer, pod: Pod) {
  return server.leases().find((l) => l.clientId === `${pod.containerId}/${NETWORK}/${pod.ifName}`);
}

/** The waits the daemon announced before resending ("retrying in 2.881018 seconds"), in seconds. */
function retryWaits(output: string): number[] {
  return [...output.matchAll(/retrying in ([\d.]+) seconds/g)].map((m) => Number(m[1]));
}

test("macvlan + dhcp IPAM on two nodes: leases from dnsmasq's range, pings across nodes, DEL releases the lease", async (t) => {
  const lab = await newCluster(t);
  const [a, b] = [lab.node("node-a"), lab.node("node-b")];
  const server = await startDhcpServer(lab, {
    address: SERVER,
    rangeStart: `198.51.100.${RANGE_START}`,
    rangeEnd: `198.51.100.${RANGE_END}`,
  });
  const [daemonA, daemonB] = await Promise.all([startDhcpDaemon(lab, a), startDhcpDaemon(lab, b)]);
  const pods = [
    await lab.addPod({ node: "node-a" }),
    await lab.addPod({ node: "node-b" }),
    await lab.addPod({ node: "node-b" }),
  ];
  // The third pod, on node-b, names node-a's daemon: the nodes share this machine's filesystem, so
  // one socket path (as one NetworkAttachmentDefinition names) reaches one daemon, and that daemon
  // serves pods on any node: it works from inside each pod's namespace.
  const confs = [
    macvlanConf(a, daemonA.ipam()),
    macvlanConf(b, daemonB.ipam()),
    macvlanConf(b, daemonA.ipam()),
  ];

  const outcomes = await Promise.all(pods.map((pod, i) => lab.cni("macvlan", "ADD", pod, confs[i]!)));
  for (const [i, o] of outcomes.entries())
    assert.equal(o.code, 0, `${pods[i]!.name} ADD: ${o.stdout}\n${o.stderr}\n${server.log()}`);
  const waits = [daemonA, daemonB].map(
    (d) => `${d.node.name}: ${retryWaits(d.process.output()).join(", ")} s`,
  );
  console.log(
    `# DHCP ADD (macvlan + dhcp, three at once): ${outcomes.map((o) => `${Math.round(o.ms)} ms`).join(", ")}` +
      ` (the daemons waited before resending: ${waits.join("; ")})`,
  );
  const results = outcomes.map((o) => JSON.parse(o.stdout) as AddResult);

  const addresses = results.map((r) => bare(r.ips[0]!.address));
  assert.ok(addresses.every(inRange), `addresses from dnsmasq's range: ${addresses}`);
  assert.equal(new Set(addresses).size, pods.length, `distinct leases: ${addresses}`);
  for (const [i, result] of results.entries()) {
    assert.equal(result.ips.length, 1, "one IPv4 lease");
    assert.match(result.ips[0]!.address, /\/24$/, "prefix from the lease's subnet mask");
    assert.equal(result.ips[0]!.gateway, server.address, "the router option: dnsmasq's own address");
    assertNamespaceMatches(pods[i]!, "net1", await lab.read(pods[i]!), result);
  }
  // dnsmasq recorded each lease for the MAC in the pod and the client id the daemon sent.
  for (const [i, pod] of pods.entries()) {
    const lease = await waitUntil(`dnsmasq's lease for ${pod.name}`, () => leaseOf(server, pod));
    assert.equal(lease.address, addresses[i]);
    assert.equal(lease.mac, results[i]!.interfaces![0]!.mac);
  }

  await pingMesh(lab, pods, results);
  for (const pod of pods) await lab.ping(pod, server.address);

  // DEL: the daemon sends DHCPRELEASE from inside the pod before macvlan removes the interface.
  const [first, ...others] = pods as [Pod, Pod, Pod];
  await lab.expectOk("macvlan", "DEL", first, { ...confs[0]!, prevResult: results[0] });
  await waitUntil("the first lease to leave the lease file", () => leaseOf(server, first) === undefined);
  assert.match(server.log(), new RegExp(`DHCPRELEASE\\(lan0\\) ${addresses[0]!.replaceAll(".", "\\.")} `));
  assert.equal(await lab.hasLink(first), false, "net1 removed by DEL");
  for (const [i, pod] of others.entries())
    assert.equal(leaseOf(server, pod)?.address, addresses[i + 1], `${pod.name} keeps its lease`);
  await lab.expectOk("macvlan", "DEL", first, { ...confs[0]!, prevResult: results[0] }); // repeated DEL

  for (const [i, pod] of others.entries())
    await lab.expectOk("macvlan", "DEL", pod, { ...confs[i + 1]!, prevResult: results[i + 1] });
  await waitUntil("the lease file to be empty", () => server.leases().length === 0);
});

test("dhcp IPAM before its node's daemon runs: ADD and DEL fail with CNI errors; DEL works once it is up", async (t) => {
  const lab = await newCluster(t);
  const a = lab.node("node-a");
  const pod = await lab.addPod({ node: "node-a" });
  // Where the daemon will listen (as a DaemonSet's daemon restarting on the node).
  const conf = macvlanConf(a, { type: "dhcp", daemonSocketPath: join(a.dir, "dhcp.sock") });
  const added = await lab.cni("macvlan", "ADD", pod, conf);
  assert.equal(added.code, 1, added.stdout);
  const error = JSON.parse(added.stdout) as { code: number; msg: string };
  assert.equal(typeof error.code, "number", "a CNI error");
  assert.match(error.msg, /error dialing DHCP daemon/);
  // Debian's macvlan (1.1.1) leaves net1 in the pod when IPAM ADD fails (its clean-up checks an
  // error variable the IPAM branch shadows), and its DEL asks IPAM first, so while the daemon is
  // unreachable DEL fails too and net1 stays: what a meta-plugin's rollback meets with this plugin.
  assert.equal(await lab.hasLink(pod), true, "net1 left behind by the failed ADD");
  const refused = await lab.cni("macvlan", "DEL", pod, conf);
  assert.equal(refused.code, 1, refused.stdout);
  assert.match(JSON.parse(refused.stdout).msg, /error dialing DHCP daemon/);
  assert.equal(await lab.hasLink(pod), true, "net1 still there after the failed DEL");

  const daemon = await startDhcpDaemon(lab, a);
  assert.equal(daemon.socket, join(a.dir, "dhcp.sock"));
  await lab.expectOk("macvlan", "DEL", pod, conf);
  assert.equal(await lab.hasLink(pod), false, "DEL removed net1 once the daemon answered");
});
