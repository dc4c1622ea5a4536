// End to end in network namespaces: the distribution's macvlan, ipvlan and bridge plugins, run as a
// runtime runs them, delegating IPAM to bin/thereabouts (and bin/whereabouts) on the embedded
// sqlite store. Checks what a pod would see: the result, the addresses in its namespace, that pods
// reach each other, and that DEL (and a failed ADD) leave nothing allocated. Root only; see
// netns-harness.ts for the lab. Addresses come from documentation/benchmark ranges only.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import { pingMesh } from "./netns-assertions.ts";
import {
  type AddResult,
  CNI_VERSION,
  kernelLinkSupport,
  Lab,
  localIpam,
  type Pod,
  requirePrerequisites,
  storeAllocations,
  storeRows,
} from "./netns-harness.ts";
import { removeStaleRuns } from "./netns-runs.ts";
import { listNamespaces } from "./netns-shell.ts";

const V4 = "192.0.2.0/24";
const V6 = "2001:db8:1::/64";
const DUAL_V4 = "198.18.0.0/24";
const DUAL_V6 = "2001:db8:2::/64";

before(async () => {
  requirePrerequisites({ plugins: ["macvlan", "ipvlan", "bridge", "thereabouts", "whereabouts"] });
  const stale = await removeStaleRuns();
  if (stale.namespaces.length > 0)
    console.log(`# removed stale namespaces of an earlier run: ${stale.namespaces.join(", ")}`);
});

after(async () => {
  const ours = (await listNamespaces()).filter((n) => n.includes(`-${process.pid}-`));
  assert.deepEqual(ours, [], "every namespace this run created is gone");
});

async function newLab(t: { after(fn: () => Promise<void>): void }): Promise<Lab> {
  const lab = await Lab.create();
  t.after(() => lab.dispose());
  return lab;
}

function macvlanConf(lab: Lab, ipam: object, name = "ta-e2e-macvlan"): object {
  return { cniVersion: CNI_VERSION, name, type: "macvlan", master: lab.parent, mode: "bridge", ipam };
}

function ipvlanConf(lab: Lab, ipam: object): object {
  return {
    cniVersion: CNI_VERSION,
    name: "ta-e2e-ipvlan",
    type: "ipvlan",
    master: lab.parent,
    mode: "l2",
    ipam,
  };
}

function bridgeConf(ipam: object): object {
  return {
    cniVersion: CNI_VERSION,
    name: "ta-e2e-bridge",
    type: "bridge",
    bridge: "ta-br0",
    isGateway: false,
    ipMasq: false,
    ipam,
  };
}

/** ADDs the pods one after another (so the lowest-free order is deterministic). */
async function addAll(lab: Lab, plugin: string, pods: readonly Pod[], conf: object): Promise<AddResult[]> {
  const results: AddResult[] = [];
  for (const pod of pods) results.push(await lab.add(plugin, pod, conf));
  return results;
}

/** The result names the pod's interface in the pod's namespace, and the namespace holds exactly its addresses. */
async function assertConfigured(lab: Lab, pod: Pod, result: AddResult): Promise<void> {
  assert.equal(result.cniVersion, CNI_VERSION);
  assert.ok(result.ips.length > 0, `${pod.name}: result has addresses`);
  for (const entry of result.ips) {
    const iface = result.interfaces?.[entry.interface ?? -1];
    assert.equal(iface?.name, pod.ifName, `${pod.name}: ${entry.address} is on ${pod.ifName}`);
    assert.equal(iface?.sandbox, pod.netns, `${pod.name}: ${entry.address} is in the pod namespace`);
  }
  const inNamespace = (await lab.addressesIn(pod)).map((a) => `${a.local}/${a.prefixlen}`).sort();
  assert.deepEqual(inNamespace, result.ips.map((e) => e.address).sort(), `${pod.name}: ip addr show`);
}

function assertStoreEmpty(lab: Lab, when: string): void {
  const rows = storeRows(lab.storePath);
  assert.deepEqual(
    { allocations: rows.allocations, reservations: rows.reservations },
    { allocations: 0, reservations: 0 },
    `store is empty ${when}: ${JSON.stringify(storeAllocations(lab.storePath))}`,
  );
}

/** DEL as a runtime sends it (prevResult = the cached ADD result); the interface must be gone after. */
async function delAll(lab: Lab, plugin: string, pods: readonly Pod[], conf: object, results: AddResult[]) {
  for (const [i, pod] of pods.entries()) {
    await lab.expectOk(plugin, "DEL", pod, { ...conf, prevResult: results[i] });
    assert.equal(await lab.hasLink(pod), false, `${pod.name}: ${pod.ifName} removed by DEL`);
  }
}

/**
 * The common life cycle: ADD `count` pods, check results/addresses/store, ping, CHECK, DEL, store
 * empty, DEL again (idempotent), then one more pod gets the lowest addresses again.
 */
async function lifeCycle(
  lab: Lab,
  plugin: string,
  conf: object,
  count: number,
  expected: (i: number) => string[],
): Promise<void> {
  const pods = await lab.addPods(count + 1);
  const first = pods.slice(0, count);
  const results = await addAll(lab, plugin, first, conf);
  results.forEach((r, i) => {
    assert.deepEqual(
      r.ips.map((e) => e.address),
      expected(i),
      `${first[i]!.name}: lowest free addresses, in ADD order`,
    );
  });
  for (const [i, pod] of first.entries()) await assertConfigured(lab, pod, results[i]!);
  // One allocation per address, keyed to the pod the runtime named in CNI_ARGS (the main plugin
  // passes its environment on to IPAM), and one overlapping-range reservation each (on by default).
  const perPod = expected(0).length;
  const rows = storeRows(lab.storePath);
  assert.equal(rows.allocations, count * perPod, "one allocation per address");
  assert.equal(rows.reservations, count * perPod, "one reservation per address");
  const holders = storeAllocations(lab.storePath).map(
    (a) => `${a["podref"]} ${a["ifname"]} ${a["container_id"]}`,
  );
  const attachments = first.flatMap((p) =>
    Array(perPod).fill(`default/${p.name} ${p.ifName} ${p.containerId}`),
  );
  assert.deepEqual(holders.sort(), attachments.sort(), "allocations name pod, interface and container");

  await pingMesh(lab, first, results);
  for (const [i, pod] of first.entries())
    await lab.expectOk(plugin, "CHECK", pod, { ...conf, prevResult: results[i] });

  await delAll(lab, plugin, first, conf, results);
  assertStoreEmpty(lab, "after DEL of every pod");
  for (const [i, pod] of first.entries())
    await lab.expectOk(plugin, "DEL", pod, { ...conf, prevResult: results[i] });
  assertStoreEmpty(lab, "after a repeated DEL");

  const late = pods[count]!;
  const again = await lab.add(plugin, late, conf);
  assert.deepEqual(
    again.ips.map((e) => e.address),
    expected(0),
    "freed addresses are handed out again",
  );
  await assertConfigured(lab, late, again);
  await delAll(lab, plugin, [late], conf, [again]);
  assertStoreEmpty(lab, "after the last DEL");
}

test("macvlan (bridge mode), IPv4: distinct addresses, pods reach each other, DEL frees them", async (t) => {
  const lab = await newLab(t);
  const conf = macvlanConf(lab, localIpam(lab.storePath, "thereabouts", { range: V4 }));
  await lifeCycle(lab, "macvlan", conf, 3, (i) => [`192.0.2.${i + 1}/24`]);
});

// Probed before the tests are declared, so the test's name says which of the two it checks.
const ipvlan = await kernelLinkSupport("ipvlan");

test(`ipvlan (l2), IPv6 only: ${ipvlan.supported ? "life cycle" : `fails cleanly (${ipvlan.reason})`}`, async (t) => {
  const lab = await newLab(t);
  const conf = ipvlanConf(lab, localIpam(lab.storePath, "thereabouts", { range: V6 }));
  if (ipvlan.supported) {
    await lifeCycle(lab, "ipvlan", conf, 3, (i) => [`2001:db8:1::${i + 1}/64`]);
    return;
  }
  // A kernel built without CONFIG_IPVLAN (minimal VM kernels, including the one these tests were
  // written on): ipvlan must fail cleanly before IPAM and leave the store untouched. The same
  // IPv6-only life cycle runs over macvlan in the next test.
  const [pod] = await lab.addPods(1);
  const failed = await lab.cni("ipvlan", "ADD", pod!, conf);
  assert.notEqual(failed.code, 0, "ipvlan ADD fails without kernel support");
  assert.equal(typeof JSON.parse(failed.stdout).code, "number", "the failure is a CNI error JSON");
  await lab.cni("ipvlan", "DEL", pod!, conf);
  assertStoreEmpty(lab, "after ipvlan failed for lack of kernel support");
});

test("macvlan, IPv6 only", async (t) => {
  const lab = await newLab(t);
  const conf = macvlanConf(lab, localIpam(lab.storePath, "thereabouts", { range: V6 }));
  await lifeCycle(lab, "macvlan", conf, 2, (i) => [`2001:db8:1::${i + 1}/64`]);
});

test("macvlan, dual stack with ipRanges: one address per family, pings over both", async (t) => {
  const lab = await newLab(t);
  const ipam = localIpam(lab.storePath, "thereabouts", {
    ipRanges: [{ range: DUAL_V4 }, { range: DUAL_V6 }],
  });
  await lifeCycle(lab, "macvlan", macvlanConf(lab, ipam), 3, (i) => [
    `198.18.0.${i + 1}/24`,
    `2001:db8:2::${i + 1}/64`,
  ]);
});

test('ipam "type": "whereabouts" (the symlinked name) behaves the same', async (t) => {
  const lab = await newLab(t);
  const conf = macvlanConf(lab, localIpam(lab.storePath, "whereabouts", { range: V4 }));
  await lifeCycle(lab, "macvlan", conf, 2, (i) => [`192.0.2.${i + 1}/24`]);
});

test("bridge plugin, dual stack", async (t) => {
  const lab = await newLab(t);
  // Made beforehand with a fixed MAC, as an admin would: a bridge the plugin creates takes the
  // lowest MAC of its ports, so it changes as pods join and the bridge plugin's own CHECK of an
  // earlier pod's prevResult ("Bridge interface ... Mac doesn't match") fails at random.
  await lab.addBridge("ta-br0", "02:00:00:00:0b:01");
  const ipam = localIpam(lab.storePath, "thereabouts", {
    ipRanges: [{ range: DUAL_V4 }, { range: DUAL_V6 }],
  });
  await lifeCycle(lab, "bridge", bridgeConf(ipam), 2, (i) => [
    `198.18.0.${i + 1}/24`,
    `2001:db8:2::${i + 1}/64`,
  ]);
});

test("failed macvlan ADD leaves nothing in the store", async (t) => {
  const lab = await newLab(t);
  const [noMaster, badRoute, next] = await lab.addPods(3);

  // (a) A missing master fails before IPAM is consulted (macvlan checks the master first), so the
  // store is never even opened. The runtime's DEL after the failed ADD fails too (macvlan's DEL
  // also looks the master up) - the main plugin's doing, not ours; the store stays untouched.
  const missingMaster = {
    ...macvlanConf(lab, localIpam(lab.storePath, "thereabouts", { range: V4 })),
    master: "ta-nosuchlink",
  };
  const failed = await lab.cni("macvlan", "ADD", noMaster!, missingMaster);
  assert.notEqual(failed.code, 0, "ADD on a missing master fails");
  assert.match(failed.stdout, /Link not found/);
  await lab.cni("macvlan", "DEL", noMaster!, missingMaster);
  assertStoreEmpty(lab, "after a failed ADD on a missing master");

  // (b) A failure after IPAM ADD succeeded: the route's gateway is off-link, so configuring the
  // interface fails; macvlan then runs IPAM DEL itself before reporting the error.
  const conf = macvlanConf(
    lab,
    localIpam(lab.storePath, "thereabouts", {
      range: V4,
      routes: [{ dst: "198.51.100.0/24", gw: "203.0.113.1" }],
    }),
  );
  const failedLate = await lab.cni("macvlan", "ADD", badRoute!, conf);
  assert.notEqual(failedLate.code, 0, "ADD with an unreachable route gateway fails");
  assert.match(failedLate.stdout, /network is unreachable/);
  assert.ok(existsSync(lab.storePath), "IPAM ADD ran (the store file exists)");
  assertStoreEmpty(lab, "right after the failed ADD (macvlan's own IPAM DEL)");
  await lab.expectOk("macvlan", "DEL", badRoute!, conf); // the runtime's DEL after a failed ADD
  assertStoreEmpty(lab, "after the runtime's DEL");

  // The address the failed ADD held for a moment is free again.
  const working = macvlanConf(lab, localIpam(lab.storePath, "thereabouts", { range: V4 }));
  const result = await lab.add("macvlan", next!, working);
  assert.deepEqual(
    result.ips.map((e) => e.address),
    ["192.0.2.1/24"],
  );
  await lab.expectOk("macvlan", "DEL", next!, { ...working, prevResult: result });
  assertStoreEmpty(lab, "after the last DEL");
});

test("DEL after the pod namespace is gone still releases the addresses", async (t) => {
  const lab = await newLab(t);
  const conf = macvlanConf(lab, localIpam(lab.storePath, "thereabouts", { range: V4 }));
  const [gone, next] = await lab.addPods(2);
  const result = await lab.add("macvlan", gone!, conf);
  assert.deepEqual(
    result.ips.map((e) => e.address),
    ["192.0.2.1/24"],
  );
  await lab.removePodNamespace(gone!);
  await lab.expectOk("macvlan", "DEL", gone!, { ...conf, prevResult: result });
  assertStoreEmpty(lab, "after DEL with the namespace already gone");
  const again = await lab.add("macvlan", next!, conf);
  assert.deepEqual(
    again.ips.map((e) => e.address),
    ["192.0.2.1/24"],
  );
  await lab.expectOk("macvlan", "DEL", next!, { ...conf, prevResult: again });
  assertStoreEmpty(lab, "after the last DEL");
});
