// Node slices (Fast IPAM) through the shipped executable on the API double: a NodeSlicePool and
// slice pools written as Go v0.9 writes them are read and honoured (and Go's reader finds what we
// write), the node's name from NODENAME or <configuration_path>/nodename, a node without a slice
// claims one, a full node grows into a further slice, the bounded wait for a missing
// NodeSlicePool, and one network configured whole on some nodes and sliced on others never hands
// out one address twice.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../controller/support.ts";
import { type ApiDouble, startApiDouble } from "../k8s-api/harness.ts";
import type { LoggedRequest } from "../k8s-api/request-log.ts";
import { type AgentProcess, startAgentProcess } from "../support/agent.ts";
import { assertNoDuplicates } from "../support/invariants.ts";
import {
  type AddCall,
  add,
  addressesOf,
  del,
  netConf,
  run,
  type TempDir,
  tempDir,
} from "../support/plugin.ts";
import { cniError, kubeIpam, reportedHoldings } from "./go-runtime.ts";
import { GROUP_PATH, holdings, rawObjects, rawStore } from "./go-view.ts";

const NODE_SLICE_POOLS = (ns: string) => `${GROUP_PATH}/namespaces/${ns}/nodeslicepools`;

/** A NodeSlicePool exactly as Go v0.9's controller writes it. */
function goNodeSlicePool(name: string, range: string, sliceSize: string, allocations: [string, string][]) {
  return {
    apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
    kind: "NodeSlicePool",
    metadata: {
      name,
      ownerReferences: [
        {
          apiVersion: "k8s.cni.cncf.io/v1",
          kind: "NetworkAttachmentDefinition",
          name,
          uid: "0b8c5b34-6f43-4d3b-9d43-5d2d1c0e0001",
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: { range, sliceSize },
    status: { allocations: allocations.map(([sliceRange, nodeName]) => ({ nodeName, sliceRange })) },
  };
}

async function create(api: ApiDouble, path: string, body: object): Promise<void> {
  const r = await api.request("POST", path, body);
  assert.equal(r.status, 201, `POST ${path}: ${r.status} ${r.body}`);
}

async function nodeSlices(api: ApiDouble, ns: string, name: string): Promise<[string, string][]> {
  const r = await api.request("GET", `${NODE_SLICE_POOLS(ns)}/${name}`);
  const body = JSON.parse(r.body) as { status: { allocations: { nodeName: string; sliceRange: string }[] } };
  return body.status.allocations.map((a) => [a.sliceRange, a.nodeName]);
}

const on = (node: string) => ({ NODENAME: node });

describe("node slices through the plugin (Go v0.9 compatible)", () => {
  let api: ApiDouble;
  let dir: TempDir;
  before(async () => {
    api = await startApiDouble();
    dir = tempDir();
  });
  after(async () => {
    await api?.stop();
    dir?.remove();
  });

  const sliced = (ns: string, extra: Record<string, unknown> = {}, name = "slicenet") =>
    netConf(kubeIpam(api.kubeconfigPath(ns), { node_slice_size: "/28", ...extra }), "0.3.1", name);

  it("reads Go's NodeSlicePool and slice pool: next free offset from the slice, Go's entries kept", async () => {
    const ns = "go-written";
    await create(
      api,
      NODE_SLICE_POOLS(ns),
      goNodeSlicePool("blue", "10.70.0.0/24", "28", [
        ["10.70.0.0/28", "node-b"],
        ["10.70.0.16/28", "node-a"],
        ["10.70.0.32/28", ""],
      ]),
    );
    // node-a's pool as Go wrote it: offsets 1 and 2 from 10.70.0.16.
    await create(api, `${GROUP_PATH}/namespaces/${ns}/ippools`, {
      apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
      kind: "IPPool",
      metadata: { name: "blue-node-a-10.70.0.16-28" },
      spec: {
        range: "10.70.0.16/28",
        allocations: {
          "1": { id: "go-ctr-1", podref: "default/go-1", ifname: "eth0" },
          "2": { id: "go-ctr-2", podref: "default/go-2", ifname: "eth0" },
        },
      },
    });
    const config = sliced(ns, { network_name: "blue", range: "10.70.0.0/24", node_slice_size: "28" });
    const ours: AddCall = { config, pod: "ts-1", containerId: "ts-ctr-1", env: on("node-a") };
    assert.deepEqual(addressesOf(await add(ours)), ["10.70.0.19/24"]);
    // Go's entry is found by a repeated ADD of its attachment, in the slice pool.
    const goPod: AddCall = { config, pod: "go-2", containerId: "go-ctr-2", env: on("node-a") };
    assert.deepEqual(addressesOf(await add(goPod)), ["10.70.0.18/24"]);
    const objects = await rawObjects(api, ns);
    assert.deepEqual(
      holdings(objects).map((h) => [h.pool, h.key, h.address, h.allocation.podRef]),
      [
        ["blue-node-a-10.70.0.16-28", "1", "10.70.0.17", "default/go-1"],
        ["blue-node-a-10.70.0.16-28", "2", "10.70.0.18", "default/go-2"],
        ["blue-node-a-10.70.0.16-28", "3", "10.70.0.19", "default/ts-1"],
      ],
    );
    // Nothing claimed: node-a had its slice.
    assert.deepEqual(
      (await nodeSlices(api, ns, "blue")).map(([, n]) => n),
      ["node-b", "node-a", ""],
    );
    assert.equal((await del(ours)).code, 0);
    assert.equal((await del(goPod)).code, 0);
    assert.deepEqual(
      holdings(await rawObjects(api, ns)).map((h) => h.address),
      ["10.70.0.17"],
    );
  });

  it("a node without a slice claims one in Go's format; Go's reader (first element naming the node) finds it", async () => {
    const ns = "claim";
    await create(
      api,
      NODE_SLICE_POOLS(ns),
      goNodeSlicePool("slicenet", "10.71.0.0/26", "/28", [
        ["10.71.0.0/28", "node-b"],
        ["10.71.0.16/28", ""],
        ["10.71.0.32/28", ""],
        ["10.71.0.48/28", ""],
      ]),
    );
    // No network_name: the NodeSlicePool is the network's name (a conflist's, Go #518).
    const config = sliced(ns, { range: "10.71.0.0/26" });
    assert.deepEqual(addressesOf(await add({ config, pod: "p1", containerId: "c1", env: on("node-c") })), [
      "10.71.0.17/26",
    ]);
    assert.deepEqual(await nodeSlices(api, ns, "slicenet"), [
      ["10.71.0.0/28", "node-b"],
      ["10.71.0.16/28", "node-c"],
      ["10.71.0.32/28", ""],
      ["10.71.0.48/28", ""],
    ]);
    const pool = (await rawObjects(api, ns)).pools.find((p) => p.metadata.name === "node-c-10.71.0.16-28");
    assert.equal(pool?.spec.range, "10.71.0.16/28");
  });

  it("a full node grows into a further slice; DEL finds entries in every slice of the node", async () => {
    const ns = "grow";
    await create(
      api,
      NODE_SLICE_POOLS(ns),
      goNodeSlicePool("slicenet", "10.72.0.0/27", "/29", [
        ["10.72.0.0/29", "node-a"],
        ["10.72.0.8/29", "node-b"],
        ["10.72.0.16/29", ""],
        ["10.72.0.24/29", ""],
      ]),
    );
    const config = sliced(ns, { range: "10.72.0.0/27", node_slice_size: "/29" });
    const pods = Array.from(
      { length: 8 },
      (_, i): AddCall => ({
        config,
        pod: `g${i}`,
        containerId: `gc${i}`,
        env: on("node-a"),
      }),
    );
    const got: string[] = [];
    for (const p of pods) got.push(...addressesOf(await add(p)));
    // /29 slices hand out 6 each: 6 in node-a's first, then 2 in the slice it claimed.
    assert.deepEqual(got, [
      "10.72.0.1/27",
      "10.72.0.2/27",
      "10.72.0.3/27",
      "10.72.0.4/27",
      "10.72.0.5/27",
      "10.72.0.6/27",
      "10.72.0.17/27",
      "10.72.0.18/27",
    ]);
    assert.deepEqual(
      (await nodeSlices(api, ns, "slicenet")).map(([, n]) => n),
      ["node-a", "node-b", "node-a", ""],
    );
    // A repeated ADD of a pod in the grown slice keeps its address, without another claim.
    assert.deepEqual(addressesOf(await add(pods[7]!)), ["10.72.0.18/27"]);
    assert.deepEqual(
      (await nodeSlices(api, ns, "slicenet")).map(([, n]) => n),
      ["node-a", "node-b", "node-a", ""],
    );
    for (const p of pods) assert.equal((await del(p)).code, 0);
    assert.deepEqual(holdings(await rawObjects(api, ns)), []);
    assert.deepEqual((await rawObjects(api, ns)).reservations, []);
  });

  it("no free address left: code 100 naming the NodeSlicePool, nothing written", async () => {
    const ns = "full";
    await create(
      api,
      NODE_SLICE_POOLS(ns),
      goNodeSlicePool("slicenet", "10.73.0.0/29", "/30", [
        ["10.73.0.0/30", "node-a"],
        ["10.73.0.4/30", "node-b"],
      ]),
    );
    const config = sliced(ns, { range: "10.73.0.0/29", node_slice_size: "/30" });
    // A /30 slice hands out two addresses (its first and last are never used).
    for (const [pod, want] of [
      ["f1", "10.73.0.1/29"],
      ["f2", "10.73.0.2/29"],
    ] as const)
      assert.deepEqual(addressesOf(await add({ config, pod, containerId: pod, env: on("node-a") })), [want]);
    const o = await add({ config, pod: "f3", containerId: "f3", env: on("node-a") });
    const e = cniError(o);
    assert.equal(e.code, 100);
    assert.match(
      e.msg,
      /node node-a has no free address in its slices \(10\.73\.0\.0\/30\) and no slice of NodeSlicePool slicenet is free/,
    );
    assert.equal(holdings(await rawObjects(api, ns)).length, 2);
  });

  it("the node's name from <configuration_path>/nodename when NODENAME is unset (the installer's file)", async () => {
    const ns = "nodename-file";
    await create(
      api,
      NODE_SLICE_POOLS(ns),
      goNodeSlicePool("slicenet", "10.74.0.0/28", "/29", [
        ["10.74.0.0/29", ""],
        ["10.74.0.8/29", "worker-7"],
      ]),
    );
    const confDir = join(dir.path, "whereabouts.d");
    mkdirSync(confDir, { recursive: true });
    writeFileSync(join(confDir, "nodename"), "worker-7");
    const config = sliced(ns, { range: "10.74.0.0/28", node_slice_size: "/29", configuration_path: confDir });
    assert.deepEqual(addressesOf(await add({ config, pod: "n1", containerId: "n1" })), ["10.74.0.9/28"]);
  });

  it("a missing NodeSlicePool is waited for (bounded), then code 11 naming it and the controller; nothing written", async () => {
    const ns = "no-pool";
    const config = sliced(ns, { range: "10.75.0.0/24" });
    const started = performance.now();
    const o = await add({ config, pod: "w1", containerId: "w1", env: on("node-a") });
    const seconds = (performance.now() - started) / 1000;
    const e = cniError(o);
    assert.equal(e.code, 11);
    assert.match(e.msg, /^NodeSlicePool slicenet does not exist after 10 s: thereabouts controller/);
    assert.ok(seconds >= 9.5 && seconds < 20, `waited ${seconds} s`);
    assert.deepEqual((await rawObjects(api, ns)).pools, []);
    // A configuration the plugin refuses (code 7) is refused before any wait or request.
    const bad = await run({
      command: "ADD",
      config: sliced(ns, { range: "10.75.0.0/24", node_slice_size: "/16" }),
      containerId: "w2",
      ifName: "eth0",
      netns: "/var/run/netns/w2",
      cniArgs: "K8S_POD_NAMESPACE=default;K8S_POD_NAME=w2",
      env: on("node-a"),
    });
    assert.equal(cniError(bad).code, 7);
  });

  it("one network whole on some nodes and sliced on others never hands out one address twice", async () => {
    const ns = "mixed";
    const range = "10.76.0.0/27";
    await create(
      api,
      NODE_SLICE_POOLS(ns),
      goNodeSlicePool("mix", range, "/28", [
        ["10.76.0.0/28", "node-s"],
        ["10.76.0.16/28", ""],
      ]),
    );
    const slicedConf = sliced(ns, { network_name: "mix", range, node_slice_size: "/28" });
    const wholeConf = netConf(
      kubeIpam(api.kubeconfigPath(ns), { network_name: "mix", range }),
      "0.3.1",
      "slicenet",
    );
    const calls: AddCall[] = Array.from({ length: 24 }, (_, i) => ({
      config: i % 2 === 0 ? slicedConf : wholeConf,
      pod: `m${i}`,
      containerId: `mc${i}`,
      env: on(i % 2 === 0 ? "node-s" : "node-w"),
    }));
    const outcomes = await Promise.all(calls.map((c) => add(c)));
    // 30 usable addresses in the range whole; the sliced side loses .15/.16 (slice edges) and
    // needs its second slice: 24 pods fit, some retrying past addresses the other side reserved.
    const failed = outcomes.filter((o) => o.code !== 0).map((o) => o.stdout);
    assert.deepEqual(failed, []);
    const reported = reportedHoldings(calls, outcomes);
    assert.equal(new Set(reported.map((h) => h.address)).size, reported.length, "no address reported twice");
    await assertNoDuplicates(rawStore(await rawObjects(api, ns)), reported);
    for (const c of calls) assert.equal((await del(c)).code, 0);
    assert.deepEqual(holdings(await rawObjects(api, ns)), []);
  });

  it("without overlapping ranges, a whole-range ADD on a network sliced elsewhere is refused with code 7, nothing written", async () => {
    const ns = "mixed-off";
    const range = "10.77.0.0/27";
    const wholeConf = netConf(
      kubeIpam(api.kubeconfigPath(ns), { network_name: "mixoff", range, enable_overlapping_ranges: false }),
      "0.3.1",
      "slicenet",
    );
    const whole: AddCall = { config: wholeConf, pod: "w1", containerId: "w1", env: on("node-w") };
    // Not sliced anywhere: the whole range allocates.
    assert.deepEqual(addressesOf(await add(whole)), ["10.77.0.1/27"]);
    assert.equal((await del(whole)).code, 0);
    await create(
      api,
      NODE_SLICE_POOLS(ns),
      goNodeSlicePool("mixoff", range, "/28", [
        ["10.77.0.0/28", "node-s"],
        ["10.77.0.16/28", ""],
      ]),
    );
    const before = await rawObjects(api, ns);
    const refused = cniError(await add({ ...whole, pod: "w2", containerId: "w2" }));
    assert.equal(refused.code, 7);
    assert.match(refused.msg, /network mixoff is sliced \(NodeSlicePool mixoff: 10\.77\.0\.0\/27 by \/28\)/);
    assert.match(refused.msg, /node_slice_size \/28 .*or turn enable_overlapping_ranges on/);
    assert.deepEqual(await rawObjects(api, ns), before, "nothing written");
    // The sliced configuration of the same network allocates.
    const slicedConf = sliced(ns, { network_name: "mixoff", range, enable_overlapping_ranges: false });
    const s1: AddCall = { config: slicedConf, pod: "s1", containerId: "s1", env: on("node-s") };
    assert.deepEqual(addressesOf(await add(s1)), ["10.77.0.1/27"]);
    assert.equal((await del(s1)).code, 0);
    assert.deepEqual(holdings(await rawObjects(api, ns)), []);
  });
});

describe("through the node agent: NodeSlicePools from its watch", () => {
  let api: ApiDouble;
  let agent: AgentProcess;
  before(async () => {
    api = await startApiDouble();
    agent = await startAgentProcess(undefined, ["--node-name", "node-a"]);
  });
  after(async () => {
    await agent?.stop();
    await api?.stop();
  });

  const sliced = (ns: string, range: string, size: string) =>
    netConf(kubeIpam(api.kubeconfigPath(ns), { range, node_slice_size: size }), "0.3.1", "slicenet");
  const viaAgent = (config: string, pod: string): AddCall => ({
    config,
    pod,
    containerId: pod,
    env: agent.env,
  });

  /** The requests of the namespace's NodeSlicePools since the last reset, as "verb code". */
  async function slicePoolRequests(ns: string): Promise<string[]> {
    const log = (await api.requests()).log as LoggedRequest[];
    return log
      .filter((r) => r.namespace === ns && r.resource === "nodeslicepools.whereabouts.cni.cncf.io")
      .map((r) => `${r.verb} ${r.code}`);
  }

  /** Until the agent's watch of the namespace's NodeSlicePools is open. */
  const watching = (ns: string) =>
    waitFor(
      "the agent to watch the NodeSlicePools",
      async () => (await slicePoolRequests(ns)).some((r) => r.startsWith("watch ")),
      10_000,
    );

  async function patchPool(ns: string, name: string, patch: object, type: string): Promise<void> {
    const r = await api.request("PATCH", `${NODE_SLICE_POOLS(ns)}/${name}`, patch, { "Content-Type": type });
    assert.equal(r.status, 200, `PATCH: ${r.status} ${r.body}`);
  }

  it("after warm-up an ADD reads no NodeSlicePool; another node's claim and the agent's own are seen", async () => {
    const ns = "agent-view";
    await create(
      api,
      NODE_SLICE_POOLS(ns),
      goNodeSlicePool("slicenet", "10.77.0.0/28", "/30", [
        ["10.77.0.0/30", "node-a"],
        ["10.77.0.4/30", ""],
        ["10.77.0.8/30", ""],
        ["10.77.0.12/30", ""],
      ]),
    );
    const config = sliced(ns, "10.77.0.0/28", "/30");
    // The first call GETs (the watch is only starting), the cache lists and watches meanwhile.
    assert.deepEqual(addressesOf(await add(viaAgent(config, "v1"))), ["10.77.0.1/28"]);
    assert.ok((await slicePoolRequests(ns)).includes("get 200"), "the first call reads by a GET");
    await watching(ns);
    await api.resetRequests();
    assert.deepEqual(addressesOf(await add(viaAgent(config, "v2"))), ["10.77.0.2/28"]);
    assert.deepEqual(await slicePoolRequests(ns), [], "no NodeSlicePool request for an ADD after warm-up");
    // Another node claims the next free slice; node-a, full, claims the one after it at once
    // (a view without node-b's claim would try node-b's slice, fail its test and GET).
    await patchPool(
      ns,
      "slicenet",
      [{ op: "replace", path: "/status/allocations/1/nodeName", value: "node-b" }],
      "application/json-patch+json",
    );
    await api.resetRequests();
    assert.deepEqual(addressesOf(await add(viaAgent(config, "v3"))), ["10.77.0.9/28"]);
    assert.deepEqual(await slicePoolRequests(ns), ["patch 200"], "one claim, no GET");
    // Its own claim is in its view: the next ADD neither claims nor reads.
    await api.resetRequests();
    assert.deepEqual(addressesOf(await add(viaAgent(config, "v4"))), ["10.77.0.10/28"]);
    assert.deepEqual(await slicePoolRequests(ns), []);
    assert.deepEqual(
      (await nodeSlices(api, ns, "slicenet")).map(([, n]) => n),
      ["node-a", "node-b", "node-a", ""],
    );
    for (const pod of ["v1", "v2", "v3", "v4"]) assert.equal((await del(viaAgent(config, pod))).code, 0);
    assert.deepEqual(holdings(await rawObjects(api, ns)), []);
  });

  it("a re-slice by the controller is seen without a GET", async () => {
    const ns = "agent-reslice";
    await create(
      api,
      NODE_SLICE_POOLS(ns),
      goNodeSlicePool("slicenet", "10.78.0.0/28", "/30", [
        ["10.78.0.0/30", "node-a"],
        ["10.78.0.4/30", ""],
        ["10.78.0.8/30", ""],
        ["10.78.0.12/30", ""],
      ]),
    );
    assert.deepEqual(addressesOf(await add(viaAgent(sliced(ns, "10.78.0.0/28", "/30"), "r1"))), [
      "10.78.0.1/28",
    ]);
    await watching(ns);
    // What the controller writes when the network's NAD changes its node_slice_size.
    await patchPool(
      ns,
      "slicenet",
      {
        spec: { sliceSize: "/29" },
        status: {
          allocations: [
            { nodeName: "node-a", sliceRange: "10.78.0.0/29" },
            { nodeName: "", sliceRange: "10.78.0.8/29" },
          ],
        },
      },
      "application/merge-patch+json",
    );
    await api.resetRequests();
    // .1 stays r1's (its reservation), so the new slice's pool hands out .2.
    assert.deepEqual(addressesOf(await add(viaAgent(sliced(ns, "10.78.0.0/28", "/29"), "r2"))), [
      "10.78.0.2/28",
    ]);
    assert.deepEqual(await slicePoolRequests(ns), []);
    const pools = (await rawObjects(api, ns)).pools.map((p) => p.metadata.name).sort();
    assert.deepEqual(pools, ["node-a-10.78.0.0-29", "node-a-10.78.0.0-30"]);
  });

  it("while its watch cannot list, every call GETs the NodeSlicePool; once it can, none does", async () => {
    const ns = "agent-fallback";
    await create(
      api,
      NODE_SLICE_POOLS(ns),
      goNodeSlicePool("slicenet", "10.79.0.0/28", "/29", [
        ["10.79.0.0/29", "node-a"],
        ["10.79.0.8/29", ""],
      ]),
    );
    await api.setFaults([{ kind: "internalError", verb: "list", resource: "nodeslicepools", namespace: ns }]);
    const config = sliced(ns, "10.79.0.0/28", "/29");
    try {
      for (const [pod, want] of [
        ["f1", "10.79.0.1/28"],
        ["f2", "10.79.0.2/28"],
      ] as const) {
        await api.resetRequests();
        assert.deepEqual(addressesOf(await add(viaAgent(config, pod))), [want]);
        const requests = await slicePoolRequests(ns);
        assert.ok(requests.includes("get 200"), `${pod} GETs: ${requests.join()}`);
        assert.ok(!requests.some((r) => r.startsWith("watch ")), "no watch without a list");
      }
    } finally {
      await api.clearFaults();
    }
    await watching(ns);
    await api.resetRequests();
    assert.deepEqual(addressesOf(await add(viaAgent(config, "f3"))), ["10.79.0.3/28"]);
    assert.deepEqual(await slicePoolRequests(ns), []);
  });
});
