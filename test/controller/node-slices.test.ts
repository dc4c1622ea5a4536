// The controller keeping NodeSlicePools (node slices, Go v0.9's Fast IPAM): bin/thereabouts
// controller against the API double, NADs, nodes, NodeSlicePools and slice pools written as Go
// writes them.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import type { ApiDouble } from "../k8s-api/harness.ts";
import { kubeIpam } from "../kubernetes/go-runtime.ts";
import { type AddCall, add, addressesOf, netConf } from "../support/plugin.ts";
import {
  type Controller,
  createPod,
  createPool,
  deletePod,
  expectOk,
  leaseHolder,
  NS,
  startApi,
  startController,
  WB,
  waitFor,
} from "./support.ts";

const NADS = "/apis/k8s.cni.cncf.io/v1/namespaces";

interface Allocation {
  nodeName: string;
  sliceRange: string;
}

async function createNode(api: ApiDouble, name: string): Promise<void> {
  expectOk(
    await api.request("POST", "/api/v1/nodes", { apiVersion: "v1", kind: "Node", metadata: { name } }),
  );
}

async function deleteNode(api: ApiDouble, name: string): Promise<void> {
  expectOk(await api.request("DELETE", `/api/v1/nodes/${name}`));
}

async function createNad(api: ApiDouble, namespace: string, name: string, config: object): Promise<string> {
  const body = expectOk(
    await api.request("POST", `${NADS}/${namespace}/network-attachment-definitions`, {
      apiVersion: "k8s.cni.cncf.io/v1",
      kind: "NetworkAttachmentDefinition",
      metadata: { name },
      spec: { config: JSON.stringify(config) },
    }),
  );
  return body.metadata.uid as string;
}

function macvlan(name: string, ipam: object): object {
  return {
    cniVersion: "0.3.1",
    name,
    type: "macvlan",
    master: "eth0",
    ipam: { type: "whereabouts", ...ipam },
  };
}

async function nodeSlicePool(api: ApiDouble, name: string) {
  const r = await api.request("GET", `${WB}/nodeslicepools/${name}`);
  return r.status === 404 ? undefined : expectOk(r);
}

async function allocations(api: ApiDouble, name: string): Promise<Allocation[] | undefined> {
  return (await nodeSlicePool(api, name))?.status?.allocations as Allocation[] | undefined;
}

async function ippoolExists(api: ApiDouble, name: string): Promise<boolean> {
  const r = await api.request("GET", `${WB}/ippools/${name}`);
  if (r.status === 404) return false;
  expectOk(r);
  return true;
}

/** Lease timings short enough for a fail-over within a test. */
const FAST_LEASE = [
  "--lease-duration",
  "3s",
  "--renew-deadline",
  "2s",
  "--renew-interval",
  "500ms",
  "--retry-interval",
  "500ms",
];

/** The node names in slice order ("" for a free slice). */
const holders = (a: readonly Allocation[] | undefined) => (a ?? []).map((x) => x.nodeName);

describe("controller: node slices", () => {
  let api: ApiDouble;
  const controllers: Controller[] = [];
  before(async () => {
    api = await startApi();
  });
  beforeEach(async () => {
    for (const c of controllers.splice(0)) await c.kill("SIGKILL");
    await api.stop();
    api = await startApi();
  });
  after(async () => {
    for (const c of controllers) await c.kill("SIGKILL");
    await api?.stop();
  });

  it("creates Go's NodeSlicePool for a NAD, IPv6 and plugin lists without network_name included, and slices new nodes", async () => {
    await createNode(api, "n2");
    await createNode(api, "n1");
    const uid = await createNad(
      api,
      NS,
      "blue",
      macvlan("blue-net", { range: "10.10.0.0/24", node_slice_size: "/26", network_name: "blue" }),
    );
    // A plugin list whose whereabouts plugin has no name (Go #518: Go's NodeSlicePool gets no name).
    await createNad(api, "team", "green", {
      cniVersion: "0.3.1",
      name: "green-list",
      plugins: [
        { type: "macvlan", ipam: { type: "whereabouts", range: "fd00:5::/120", node_slice_size: "122" } },
      ],
    });
    controllers.push(await startController(api));
    const { value: blue } = await waitFor("the blue NodeSlicePool", () => nodeSlicePool(api, "blue"), 15_000);
    assert.deepEqual(blue.spec, { range: "10.10.0.0/24", sliceSize: "/26" });
    assert.deepEqual(blue.status.allocations, [
      { nodeName: "n1", sliceRange: "10.10.0.0/26" },
      { nodeName: "n2", sliceRange: "10.10.0.64/26" },
      { nodeName: "", sliceRange: "10.10.0.128/26" },
      { nodeName: "", sliceRange: "10.10.0.192/26" },
    ]);
    assert.deepEqual(blue.metadata.ownerReferences, [
      {
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        name: "blue",
        uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    const { value: green } = await waitFor(
      "the green-list NodeSlicePool",
      () => nodeSlicePool(api, "green-list"),
      15_000,
    );
    assert.deepEqual(green.spec, { range: "fd00:5::/120", sliceSize: "122" });
    assert.deepEqual(green.status.allocations, [
      { nodeName: "n1", sliceRange: "fd00:5::/122" },
      { nodeName: "n2", sliceRange: "fd00:5::40/122" },
      { nodeName: "", sliceRange: "fd00:5::80/122" },
      { nodeName: "", sliceRange: "fd00:5::c0/122" },
    ]);
    // Owner references name NADs of the pool's namespace only (one elsewhere reads as missing to
    // Kubernetes' garbage collector, which would delete the pool).
    assert.deepEqual(green.metadata.ownerReferences ?? [], []);

    await createNode(api, "n3");
    await waitFor(
      "n3 on a slice of each network",
      async () => {
        const [b, g] = [
          holders(await allocations(api, "blue")),
          holders(await allocations(api, "green-list")),
        ];
        return b[2] === "n3" && g[2] === "n3";
      },
      10_000,
    );
  });

  it("keeps a Go-made NodeSlicePool as it is, and frees a deleted node's slice once its slice pool is empty", async () => {
    for (const n of ["n1", "n2"]) await createNode(api, n);
    const uid = await createNad(
      api,
      NS,
      "blue",
      macvlan("blue", { range: "10.20.0.0/24", node_slice_size: "26", network_name: "blue" }),
    );
    // As Go v0.9's controller left it: n2 first (its lister's order), n1 grown into a second slice.
    const goAllocations = [
      { nodeName: "n2", sliceRange: "10.20.0.0/26" },
      { nodeName: "n1", sliceRange: "10.20.0.64/26" },
      { nodeName: "n1", sliceRange: "10.20.0.128/26" },
      { nodeName: "", sliceRange: "10.20.0.192/26" },
    ];
    expectOk(
      await api.request("POST", `${WB}/nodeslicepools`, {
        apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
        kind: "NodeSlicePool",
        metadata: {
          name: "blue",
          ownerReferences: [
            {
              apiVersion: "k8s.cni.cncf.io/v1",
              kind: "NetworkAttachmentDefinition",
              name: "blue",
              uid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: { range: "10.20.0.0/24", sliceSize: "26" },
        status: { allocations: goAllocations },
      }),
    );
    // n2's pod holds an address of its slice, in Go's slice pool (offsets from the slice's network).
    await createPod(api, "default", "p1", { nodeName: "n2" });
    await createPool(api, "blue-n2-10.20.0.0-26", "10.20.0.0/26", {
      "1": { id: "c1", podref: "default/p1", ifname: "net1" },
    });
    const before = (await nodeSlicePool(api, "blue")).metadata.resourceVersion;
    const controller = await startController(api);
    controllers.push(controller);
    await controller.waitForLog((l) => l.msg === "listed nodeslicepools");
    await new Promise((r) => setTimeout(r, 1_000));
    const kept = await nodeSlicePool(api, "blue");
    assert.equal(kept.metadata.resourceVersion, before, "nothing to change, nothing written");

    await deleteNode(api, "n2");
    await controller.waitForLog(
      (l) => /wait until their pods' addresses are released/.test(l.msg),
      10_000,
      "the wait",
    );
    assert.deepEqual(await allocations(api, "blue"), goAllocations);
    // The pod goes: the controller frees its address, which empties the slice pool; the slice is
    // free for the next node.
    await deletePod(api, "default", "p1");
    await waitFor("n2's slice freed", async () => holders(await allocations(api, "blue"))[0] === "", 10_000);
    // Its slice pool, empty and named by no NodeSlicePool now, goes too.
    await waitFor(
      "n2's slice pool deleted",
      async () => !(await ippoolExists(api, "blue-n2-10.20.0.0-26")),
      10_000,
    );
    await createNode(api, "n4");
    await waitFor(
      "n4 on the freed slice",
      async () => holders(await allocations(api, "blue"))[0] === "n4",
      10_000,
    );
    assert.deepEqual(holders(await allocations(api, "blue")), ["n4", "n1", "n1", ""]);
  });

  it("a re-slice retires the old slice pools: an empty one is deleted at once, one holding an address once its pod goes", async () => {
    await createNode(api, "n1");
    await createNode(api, "n2");
    const config = (size: string) =>
      macvlan("green", { range: "10.40.0.0/24", node_slice_size: size, network_name: "green" });
    await createNad(api, NS, "green", config("/26"));
    const controller = await startController(api);
    controllers.push(controller);
    await waitFor(
      "both nodes sliced",
      async () => holders(await allocations(api, "green")).filter((n) => n !== "").length === 2,
      10_000,
    );
    const slices = (await allocations(api, "green"))!;
    const poolOf = (node: string) => {
      const slice = slices.find((a) => a.nodeName === node)!.sliceRange;
      return { name: `green-${node}-${slice.replace("/", "-")}`, slice };
    };
    const busy = poolOf("n1");
    const idle = poolOf("n2");
    await createPod(api, "default", "p1", { nodeName: "n1" });
    await createPool(api, busy.name, busy.slice, { "1": { id: "c1", podref: "default/p1", ifname: "net1" } });
    await createPool(api, idle.name, idle.slice, {});
    // A pool of the current slicing is never touched, empty or not.
    await new Promise((r) => setTimeout(r, 1_000));
    assert.ok(await ippoolExists(api, idle.name));

    // The NAD changes its slice size: the NodeSlicePool is sliced again (/25), retiring both pools.
    const nad = expectOk(await api.request("GET", `${NADS}/${NS}/network-attachment-definitions/green`));
    nad.spec.config = JSON.stringify(config("/25"));
    expectOk(await api.request("PUT", `${NADS}/${NS}/network-attachment-definitions/green`, nad));
    await waitFor(
      "the re-slice",
      async () => (await nodeSlicePool(api, "green"))?.spec.sliceSize === "/25",
      10_000,
    );
    await waitFor(
      "the empty retired pool deleted",
      async () => !(await ippoolExists(api, idle.name)),
      10_000,
    );
    await new Promise((r) => setTimeout(r, 1_000));
    assert.ok(await ippoolExists(api, busy.name), "the pool holding p1's address stays while p1 lives");
    // p1 goes: the controller frees its address, and the emptied pool goes with it.
    await deletePod(api, "default", "p1");
    await waitFor(
      "the emptied retired pool deleted",
      async () => !(await ippoolExists(api, busy.name)),
      15_000,
    );
  });

  it("without overlapping ranges, a re-slice never offers a slice another pool holds an address in, until it is released", async () => {
    await createNode(api, "n1");
    await createNode(api, "n2");
    const ipam = (size: string) => ({
      range: "10.50.0.0/24",
      node_slice_size: size,
      network_name: "amber",
      enable_overlapping_ranges: false,
    });
    await createNad(api, NS, "amber", macvlan("amber", ipam("/26")));
    controllers.push(await startController(api, ["--reslice-grace", "3s"]));
    await waitFor(
      "both nodes sliced",
      async () => holders(await allocations(api, "amber")).filter((n) => n !== "").length === 2,
      10_000,
    );
    // p1 takes n1's first address through the plugin; a whole-range configuration of the network
    // left p2 holding 10.50.0.200.
    const plugin = (size: string, pod: string, node: string): AddCall => ({
      config: netConf(kubeIpam(api.kubeconfigPath(NS), ipam(size)), "0.3.1", "amber"),
      pod,
      containerId: `c-${pod}`,
      env: { NODENAME: node },
    });
    await createPod(api, "default", "p1", { nodeName: "n1" });
    await createPod(api, "default", "p2", { nodeName: "n2" });
    const p1 = await add(plugin("/26", "p1", "n1"));
    assert.equal(p1.code, 0, p1.stdout);
    assert.deepEqual(addressesOf(p1), ["10.50.0.1/24"]);
    await createPool(api, "amber-10.50.0.0-24", "10.50.0.0/24", {
      "200": { id: "c2", podref: "default/p2", ifname: "net1" },
    });

    // Sliced by /27 now. For the grace, every slice overlapping the old slicing's assigned ones
    // (.0/26 and .64/26: an ADD that read them may still write) is left out, and .192/27 (the
    // whole-range pool's .200); after it, only the slices holding .1 (n1's old /26 pool) and .200.
    const nad = expectOk(await api.request("GET", `${NADS}/${NS}/network-attachment-definitions/amber`));
    nad.spec.config = JSON.stringify(macvlan("amber", ipam("/27")));
    expectOk(await api.request("PUT", `${NADS}/${NS}/network-attachment-definitions/amber`, nad));
    await waitFor(
      "the re-slice",
      async () => (await nodeSlicePool(api, "amber"))?.spec.sliceSize === "/27",
      10_000,
    );
    assert.deepEqual(
      (await allocations(api, "amber"))!.map((a) => a.sliceRange),
      ["10.50.0.128/27", "10.50.0.160/27", "10.50.0.224/27"],
    );
    await waitFor("the grace over", async () => (await allocations(api, "amber"))!.length === 6, 10_000);
    const resliced = (await allocations(api, "amber"))!;
    const listed = resliced.map((a) => a.sliceRange);
    assert.ok(!listed.includes("10.50.0.0/27") && !listed.includes("10.50.0.192/27"), listed.join(" "));
    assert.deepEqual(
      resliced
        .filter((a) => a.nodeName !== "")
        .map((a) => a.nodeName)
        .sort(),
      ["n1", "n2"],
    );

    // New pods on both nodes, more than their slices hold (a full node claims a free slice): none
    // gets .1 or .200, and no address is reported twice.
    const calls = Array.from({ length: 70 }, (_, i) => plugin("/27", `q${i}`, i % 2 === 0 ? "n1" : "n2"));
    // Pod objects, or the controller's GC would free the addresses of pods the API does not know.
    for (const c of calls) await createPod(api, "default", c.pod, { nodeName: c.env!.NODENAME! });
    const outcomes = await Promise.all(calls.map((c) => add(c)));
    assert.deepEqual(
      outcomes.filter((o) => o.code !== 0).map((o) => o.stdout),
      [],
    );
    const reported = outcomes.map((o) => addressesOf(o)[0]!);
    assert.equal(new Set(reported).size, reported.length);
    assert.ok(!reported.includes("10.50.0.1/24") && !reported.includes("10.50.0.200/24"), reported.join(" "));
    const grown = (await allocations(api, "amber"))!.filter((a) => a.nodeName !== "");
    assert.ok(grown.length > 2, "the nodes grew into further slices");

    // p1 goes: the controller releases its address and offers 10.50.0.0/27 again; p2 still holds .200.
    await deletePod(api, "default", "p1");
    await waitFor(
      "10.50.0.0/27 offered again",
      async () => (await allocations(api, "amber"))!.some((a) => a.sliceRange === "10.50.0.0/27"),
      15_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!(await allocations(api, "amber"))!.some((a) => a.sliceRange === "10.50.0.192/27"));
  });

  it("a new leader deletes the slice pools an earlier one retired (and Go's leftovers) once empty", async () => {
    await createNode(api, "n1");
    const config = (size: string) =>
      macvlan("teal", { range: "10.60.0.0/24", node_slice_size: size, network_name: "teal" });
    await createNad(api, NS, "teal", config("/26"));
    const first = await startController(api, ["--identity", "first", ...FAST_LEASE]);
    controllers.push(first);
    await waitFor("n1 sliced", async () => holders(await allocations(api, "teal")).includes("n1"), 10_000);
    await createPod(api, "default", "p1", { nodeName: "n1" });
    await createPool(api, "teal-n1-10.60.0.0-26", "10.60.0.0/26", {
      "1": { id: "c1", podref: "default/p1", ifname: "net1" },
    });
    // What Go's controller leaves behind: the empty slice pool of a node long gone.
    await createPool(api, "teal-gone-10.60.0.192-26", "10.60.0.192/26", {});
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(await ippoolExists(api, "teal-gone-10.60.0.192-26"), "this leader does not look for leftovers");
    const nad = expectOk(await api.request("GET", `${NADS}/${NS}/network-attachment-definitions/teal`));
    nad.spec.config = JSON.stringify(config("/25"));
    expectOk(await api.request("PUT", `${NADS}/${NS}/network-attachment-definitions/teal`, nad));
    await waitFor(
      "the re-slice",
      async () => (await nodeSlicePool(api, "teal"))?.spec.sliceSize === "/25",
      10_000,
    );
    // The leader that retired n1's /26 pool (p1 still holds an address there) dies.
    await first.kill("SIGKILL");
    const second = await startController(api, ["--identity", "second", ...FAST_LEASE]);
    controllers.push(second);
    await waitFor(
      "Go's leftover deleted",
      async () => !(await ippoolExists(api, "teal-gone-10.60.0.192-26")),
      15_000,
    );
    assert.ok(await ippoolExists(api, "teal-n1-10.60.0.0-26"), "kept while p1 holds an address in it");
    await deletePod(api, "default", "p1");
    await waitFor(
      "the retired pool deleted once empty",
      async () => !(await ippoolExists(api, "teal-n1-10.60.0.0-26")),
      15_000,
    );
  });

  it("reports NADs of one network_name that disagree with Go's text and changes nothing; a deleted NAD's pool goes", async () => {
    await createNode(api, "n1");
    await createNad(
      api,
      NS,
      "a",
      macvlan("a", { range: "10.30.0.0/24", node_slice_size: "/26", network_name: "shared" }),
    );
    await createNad(
      api,
      "team",
      "b",
      macvlan("b", { range: "10.30.0.0/24", node_slice_size: "/27", network_name: "shared" }),
    );
    await createNad(api, NS, "solo", macvlan("solo", { range: "10.31.0.0/24", node_slice_size: "/25" }));
    const controller = await startController(api);
    controllers.push(controller);
    const line = await controller.waitForLog(
      (l) => l.msg === "found IPAM conf mismatch for network-attachment-definitions with same network name",
      15_000,
      "the mismatch",
    );
    assert.deepEqual(line["nads"], ["kube-system/a (10.30.0.0/24 by /26)", "team/b (10.30.0.0/24 by /27)"]);
    await waitFor("the solo NodeSlicePool", () => nodeSlicePool(api, "solo"), 10_000);
    assert.equal(await nodeSlicePool(api, "shared"), undefined);

    expectOk(await api.request("DELETE", `${NADS}/team/network-attachment-definitions/b`));
    await waitFor("the shared NodeSlicePool once the NADs agree", () => nodeSlicePool(api, "shared"), 10_000);
    expectOk(await api.request("DELETE", `${NADS}/${NS}/network-attachment-definitions/solo`));
    await waitFor(
      "the solo NodeSlicePool deleted",
      async () => (await nodeSlicePool(api, "solo")) === undefined,
      10_000,
    );
  });

  it("two controllers: killing the leader while it slices leaves every node on exactly one slice", async () => {
    await api.setLatency({ writeMs: 40 });
    for (let i = 0; i < 40; i++) await createNode(api, `n${String(i).padStart(2, "0")}`);
    const networks = Array.from({ length: 8 }, (_, i) => `net${i}`);
    for (const [i, net] of networks.entries())
      await createNad(
        api,
        NS,
        net,
        macvlan(net, { range: `10.${40 + i}.0.0/24`, node_slice_size: "/30", network_name: net }),
      );
    controllers.push(await startController(api, ["--identity", "replica-a", ...FAST_LEASE]));
    controllers.push(await startController(api, ["--identity", "replica-b", ...FAST_LEASE]));
    const { value: first } = await waitFor("a leader", async () => await leaseHolder(api), 10_000);
    const leader = controllers.find((c) => c.logs.some((l) => l.msg === "became the leader"))!;
    await leader.waitForLog((l) => l.msg === "NodeSlicePool created", 15_000, "a first NodeSlicePool");
    await leader.kill("SIGKILL");
    // Nodes come and go while nobody leads.
    for (let i = 40; i < 50; i++) await createNode(api, `n${i}`);
    await deleteNode(api, "n00");
    const standby = controllers.find((c) => c !== leader)!;
    await waitFor(
      "the standby to lead",
      async () => {
        const holder = await leaseHolder(api);
        return holder !== undefined && holder !== first;
      },
      15_000,
    );
    await standby.waitForLog((l) => l.msg === "became the leader", 5_000);
    const nodes = Array.from({ length: 49 }, (_, i) => `n${String(i + 1).padStart(2, "0")}`);
    await waitFor(
      "every network's nodes on their slices",
      async () => {
        for (const net of networks) {
          const held = holders(await allocations(api, net)).filter((n) => n !== "");
          if (held.length !== nodes.length) return false;
        }
        return true;
      },
      30_000,
      250,
    );
    for (const net of networks) {
      const held = holders(await allocations(api, net)).filter((n) => n !== "");
      assert.deepEqual([...held].sort(), nodes, `${net}: each node on exactly one slice, n00's freed`);
    }
    await api.setLatency({});
  });
});
