// ADD, DEL and CHECK of node-slice networks on the memory store, whose NodeSlicePools a test
// writes as a controller would: which slice, which pool and offset, claiming and growing, the
// bounded wait for a missing NodeSlicePool, and bounds, exclude and gateway inside slices.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { load } from "../config/test-support.ts";
import type { IpamConfig } from "../config/types.ts";
import { CniError, ExhaustedError, StoreUnavailableError } from "../errors/errors.ts";
import { formatIP, parseCidr } from "../ip/index.ts";
import { freeSlices } from "../pool/node-slices.ts";
import { addAttachment } from "./add.ts";
import { checkAttachment } from "./check.ts";
import { deleteAttachment } from "./del.ts";
import { NODE_SLICE_POOL_WAIT_MS } from "./node-slices.ts";
import { type Scene, scene } from "./test-support.ts";

const KUBE = { datastore: "kubernetes", kubernetes: { kubeconfig: "/k" } };

function sliced(ipam: Record<string, unknown> = {}): IpamConfig {
  return load({ ...KUBE, range: "10.0.0.0/24", node_slice_size: "/26", network_name: "blue", ...ipam });
}

/** The NodeSlicePool `blue` as a controller writes it, with `nodes` assigned in order. */
function putPool(s: Scene, nodes: Record<number, string> = {}, range = "10.0.0.0/24", size = "/26") {
  const cidr = parseCidr(range)!;
  const allocations = freeSlices(cidr, Number(size.replace("/", ""))).map((a, i) => ({
    ...a,
    nodeName: nodes[i] ?? "",
  }));
  s.store.data.putNodeSlicePool({
    name: "blue",
    range,
    sliceSize: size,
    allocations,
    owners: [],
    resourceVersion: "1",
  });
}

const pod = (n: number) => ({ containerId: `c${n}`, podRef: `ns/p${n}`, ifName: "eth0" });

async function add(s: Scene, config: IpamConfig, n: number, node = "node-a") {
  const outcome = await addAttachment(s.store, config, pod(n), s.deadline(), s.log, undefined, node);
  return outcome.addresses.map((a) => `${formatIP(a.address)}/${a.prefix}`);
}

function entries(s: Scene, pool: string): string[] {
  return [...s.store.data.pool(pool).allocations.keys()];
}

describe("node-slice ADD", () => {
  it("allocates in the node's slice, in pool <network_name>-<node>-<slice> with offsets from the slice", async () => {
    const s = scene();
    putPool(s, { 0: "node-b", 2: "node-a" });
    assert.deepEqual(await add(s, sliced(), 1), ["10.0.0.129/24"]);
    assert.deepEqual(await add(s, sliced(), 2), ["10.0.0.130/24"]);
    assert.equal(s.store.data.pool("blue-node-a-10.0.0.128-26").range, "10.0.0.128/26");
    assert.deepEqual(entries(s, "blue-node-a-10.0.0.128-26"), ["1", "2"]);
    // The reservation is the network's, named by the address, as for a whole range.
    assert.ok(s.store.data.reservation("blue-10.0.0.129"));
    // A repeated ADD keeps the address.
    assert.deepEqual(await add(s, sliced(), 1), ["10.0.0.129/24"]);
    assert.equal(s.store.count("claimNodeSlice"), 0);
  });

  it("a node without a slice claims the first free one itself (no 'no allocated node slice')", async () => {
    const s = scene();
    putPool(s, { 0: "node-b" });
    assert.deepEqual(await add(s, sliced(), 1), ["10.0.0.65/24"]);
    assert.deepEqual(
      s.store.data.nodeSlicePool("blue")!.allocations.map((a) => a.nodeName),
      ["node-b", "node-a", "", ""],
    );
  });

  it("a claim lost to another node reads the pool again and claims the next free slice", async () => {
    const s = scene();
    putPool(s);
    s.store.next("claimNodeSlice", {
      before: ({ data }) => {
        assert.ok(data.claimNodeSlice("blue", 0, "10.0.0.0/26", "node-z"));
      },
    });
    assert.deepEqual(await add(s, sliced(), 1), ["10.0.0.65/24"]);
    assert.deepEqual(
      s.store.data.nodeSlicePool("blue")!.allocations.map((a) => a.nodeName),
      ["node-z", "node-a", "", ""],
    );
  });

  it("a full slice grows the node into a further free slice, listed as one more element naming it", async () => {
    const s = scene();
    putPool(s, { 0: "node-a" }, "10.0.0.0/28", "/30");
    const config = sliced({ range: "10.0.0.0/28", node_slice_size: "/30" });
    // A /30 slice hands out two addresses.
    assert.deepEqual(await add(s, config, 1), ["10.0.0.1/28"]);
    assert.deepEqual(await add(s, config, 2), ["10.0.0.2/28"]);
    assert.deepEqual(await add(s, config, 3), ["10.0.0.5/28"]);
    assert.deepEqual(
      s.store.data.nodeSlicePool("blue")!.allocations.map((a) => a.nodeName),
      ["node-a", "node-a", "", ""],
    );
    // Repeated ADDs find the entry in whichever slice holds it, without claiming.
    assert.deepEqual(await add(s, config, 1), ["10.0.0.1/28"]);
    assert.deepEqual(await add(s, config, 3), ["10.0.0.5/28"]);
    assert.equal(s.store.count("claimNodeSlice"), 1);
    // DEL looks in every slice of the node; CHECK too.
    await checkAttachment(
      s.store,
      config,
      { containerId: "c3", ifName: "eth0" },
      ["10.0.0.5"],
      s.deadline(),
      "node-a",
    );
    const released = await deleteAttachment(
      s.store,
      config,
      { containerId: "c3", ifName: "eth0" },
      "ns/p3",
      s.deadline(),
      undefined,
      "node-a",
    );
    assert.deepEqual(
      released.map((e) => formatIP(e.address)),
      ["10.0.0.5"],
    );
    assert.deepEqual(entries(s, "blue-node-a-10.0.0.4-30"), []);
    assert.equal(s.store.data.reservation("blue-10.0.0.5"), undefined);
    await assert.rejects(
      checkAttachment(
        s.store,
        config,
        { containerId: "c3", ifName: "eth0" },
        undefined,
        s.deadline(),
        "node-a",
      ),
      (e: unknown) => e instanceof CniError && e.code === 101,
    );
  });

  it("no free address and no free slice: code 100 naming the NodeSlicePool", async () => {
    const s = scene();
    putPool(s, { 0: "node-a", 1: "node-b", 2: "node-c", 3: "node-d" }, "10.0.0.0/28", "/30");
    const config = sliced({ range: "10.0.0.0/28", node_slice_size: "/30" });
    await add(s, config, 1);
    await add(s, config, 2);
    await assert.rejects(add(s, config, 3), (e: unknown) => {
      assert.ok(e instanceof ExhaustedError);
      assert.match(
        e.message,
        /node node-a has no free address in its slices \(10\.0\.0\.0\/30\) and no slice of NodeSlicePool blue is free$/,
      );
      return true;
    });
    assert.deepEqual(entries(s, "blue-node-a-10.0.0.0-30"), ["1", "2"]);
  });

  it("range_start, range_end, exclude and the gateway apply inside slices", async () => {
    const s = scene();
    putPool(s, { 0: "node-a", 1: "node-b", 3: "node-c" });
    const config = sliced({
      range_start: "10.0.0.60",
      range_end: "10.0.0.200",
      exclude: ["10.0.0.64/29"],
      gateway: "10.0.0.73",
    });
    // node-a's slice 10.0.0.0/26 starts below range_start: .60 to .62 only.
    assert.deepEqual(await add(s, config, 1), ["10.0.0.60/24"]);
    // node-b's 10.0.0.64/26: .65-.71 excluded, .72 free, .73 the gateway.
    assert.deepEqual(await add(s, config, 2, "node-b"), ["10.0.0.72/24"]);
    assert.deepEqual(await add(s, config, 3, "node-b"), ["10.0.0.74/24"]);
    // node-c's 10.0.0.192/26 ends at range_end .200; a node whose slices are used up beyond the
    // window claims the free slice the window reaches into (10.0.0.128/26).
    for (let n = 10; n < 18; n++) await add(s, config, n, "node-c");
    assert.deepEqual(await add(s, config, 18, "node-c"), ["10.0.0.129/24"]);
  });

  it("a free slice the window leaves nothing of is never claimed", async () => {
    const s = scene();
    putPool(s, { 1: "node-b" });
    const config = sliced({ range_start: "10.0.0.70" });
    // 10.0.0.0/26 lies below range_start: node-a claims 10.0.0.128/26, not slice 0.
    assert.deepEqual(await add(s, config, 1), ["10.0.0.129/24"]);
    assert.deepEqual(
      s.store.data.nodeSlicePool("blue")!.allocations.map((a) => a.nodeName),
      ["", "node-b", "node-a", ""],
    );
  });

  it("IPv6 slices", async () => {
    const s = scene();
    putPool(s, { 1: "node-a" }, "fd00:10::/112", "/120");
    const config = sliced({ range: "fd00:10::/112", node_slice_size: "120" });
    assert.deepEqual(await add(s, config, 1), ["fd00:10::101/112"]);
    assert.deepEqual(entries(s, "blue-node-a-fd00-10--100-120"), ["1"]);
  });

  it("a requested address must lie in the node's slices", async () => {
    const s = scene();
    putPool(s, { 0: "node-a", 1: "node-b" });
    const config = sliced();
    const requested = (ip: string) => ({
      ...pod(1),
      requested: {
        addresses: [
          { family: 4 as const, value: BigInt(ip.split(".").reduce((v, o) => v * 256 + Number(o), 0)) },
        ],
        source: "runtimeConfig ips",
      },
    });
    const out = await addAttachment(
      s.store,
      config,
      requested("10.0.0.9"),
      s.deadline(),
      s.log,
      undefined,
      "node-a",
    );
    assert.equal(formatIP(out.addresses[0]!.address), "10.0.0.9");
    await assert.rejects(
      addAttachment(
        s.store,
        config,
        { ...requested("10.0.0.70"), containerId: "c2", podRef: "ns/p2" },
        s.deadline(),
        s.log,
        undefined,
        "node-a",
      ),
      (e: unknown) =>
        e instanceof CniError &&
        e.code === 7 &&
        /^requested address 10\.0\.0\.70 is not in a slice of node node-a in NodeSlicePool blue: its slice 10\.0\.0\.64\/26 is node node-b's$/.test(
          e.message,
        ),
    );
  });

  it("waits (bounded) for the controller to create the NodeSlicePool, then code 11 naming it", async () => {
    const s = scene();
    await assert.rejects(add(s, sliced(), 1), (e: unknown) => {
      assert.ok(e instanceof StoreUnavailableError);
      assert.match(e.message, /^NodeSlicePool blue does not exist after 10 s: thereabouts controller/);
      return true;
    });
    assert.equal(
      s.clock.sleeps.reduce((a, b) => a + b, 0),
      NODE_SLICE_POOL_WAIT_MS,
    );
    assert.deepEqual(s.store.data.pools(), [], "nothing written");
    // Created while it waits: the ADD goes on.
    const t = scene();
    t.store.next("getNodeSlicePool", {}, {}, { before: () => putPool(t, { 0: "node-a" }) });
    assert.deepEqual(await add(t, sliced(), 1), ["10.0.0.1/24"]);
    assert.deepEqual(t.clock.sleeps, [500, 500]);
  });

  it("a NodeSlicePool sliced otherwise than configured (the controller is behind) is waited for too", async () => {
    const s = scene();
    putPool(s, { 0: "node-a" }, "10.0.0.0/24", "/25");
    await assert.rejects(
      add(s, sliced(), 1),
      /NodeSlicePool blue slices 10\.0\.0\.0\/24 by \/25, not 10\.0\.0\.0\/24 by \/26 after 10 s/,
    );
  });

  it("DEL and CHECK without a NodeSlicePool find nothing held", async () => {
    const s = scene();
    const released = await deleteAttachment(
      s.store,
      sliced(),
      { containerId: "c1", ifName: "eth0" },
      "ns/p1",
      s.deadline(),
      undefined,
      "node-a",
    );
    assert.deepEqual(released, []);
    await assert.rejects(
      checkAttachment(
        s.store,
        sliced(),
        { containerId: "c1", ifName: "eth0" },
        undefined,
        s.deadline(),
        "node-a",
      ),
      /holds no address: node node-a holds no slice of the network/,
    );
  });
});
