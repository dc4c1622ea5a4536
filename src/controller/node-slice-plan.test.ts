import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCidr } from "../ip/index.ts";
import { freeSlices, type NodeSlicePool } from "../pool/node-slices.ts";
import {
  MISMATCH,
  planNodeSlices,
  type SlicedNetwork,
  type SlicePlanInput,
  unnamedSlicePools,
} from "./node-slice-plan.ts";

function network(
  name: string,
  range = "10.0.0.0/24",
  size = 26,
  extra: Partial<SlicedNetwork> = {},
): SlicedNetwork {
  return {
    nad: { namespace: "kube-system", name, uid: `uid-${name}` },
    pool: "net",
    networkName: "net",
    range: parseCidr(range)!,
    size,
    sizeText: `/${size}`,
    overlapping: true,
    ...extra,
  };
}

function input(over: Partial<SlicePlanInput>): SlicePlanInput {
  return {
    namespace: "kube-system",
    networks: [network("a")],
    complete: true,
    nodes: [],
    stored: new Map(),
    occupied: () => false,
    ...over,
  };
}

function stored(nodes: string[], extra: Partial<NodeSlicePool> = {}): NodeSlicePool {
  return {
    name: "net",
    range: "10.0.0.0/24",
    sliceSize: "/26",
    allocations: freeSlices(parseCidr("10.0.0.0/24")!, 26).map((s, i) => ({
      ...s,
      nodeName: nodes[i] ?? "",
    })),
    owners: [{ name: "a", uid: "uid-a", controller: true }],
    resourceVersion: "7",
    ...extra,
  };
}

test("a new network gets a NodeSlicePool with every node on a slice, owned by its NAD", () => {
  const plan = planNodeSlices(input({ nodes: ["n1", "n2"] }));
  assert.equal(plan.writes.length, 1);
  const w = plan.writes[0]!;
  assert.equal(w.kind, "create");
  if (w.kind !== "create") return;
  assert.deepEqual(
    w.pool.allocations.map((a) => `${a.nodeName}@${a.sliceRange}`),
    ["n1@10.0.0.0/26", "n2@10.0.0.64/26", "@10.0.0.128/26", "@10.0.0.192/26"],
  );
  assert.deepEqual(w.pool.owners, [{ name: "a", uid: "uid-a", controller: true }]);
  assert.equal(w.pool.range, "10.0.0.0/24");
  assert.equal(w.pool.sliceSize, "/26");
});

test("nothing is written when the stored pool is already right (Go's controller updates anyway)", () => {
  assert.deepEqual(
    planNodeSlices(input({ nodes: ["n1"], stored: new Map([["net", stored(["n1"])]]) })).writes,
    [],
  );
});

test("a Go-made assignment is kept: a new node gets the first free slice, a grown node keeps both", () => {
  const go = stored(["n2", "", "n2"]);
  const plan = planNodeSlices(input({ nodes: ["n1", "n2"], stored: new Map([["net", go]]) }));
  const w = plan.writes[0]!;
  assert.equal(w.kind, "update");
  if (w.kind !== "update") return;
  assert.equal(w.pool.resourceVersion, "7");
  assert.deepEqual(
    w.pool.allocations.map((a) => a.nodeName),
    ["n2", "n1", "n2", ""],
  );
});

test("a deleted node's slice is freed only once its slice pool holds no entry", () => {
  const pools = new Map([["net", stored(["gone", "n1"])]]);
  const busy = planNodeSlices(
    input({ nodes: ["n1"], stored: pools, occupied: (p) => p === "net-gone-10.0.0.0-26" }),
  );
  assert.deepEqual(busy.writes, []);
  assert.match(busy.problems[0]!.message, /wait until their pods' addresses are released/);
  assert.deepEqual(busy.problems[0]!.fields["ippools"], ["net-gone-10.0.0.0-26"]);
  const idle = planNodeSlices(input({ nodes: ["n1"], stored: pools }));
  const w = idle.writes[0]!;
  assert.ok(w.kind === "update");
  assert.deepEqual(
    w.pool.allocations.map((a) => a.nodeName),
    ["", "n1", "", ""],
  );
});

test("slice pools are named without a prefix when the network has no network_name", () => {
  const net = network("conflist", "10.0.0.0/24", 26, { pool: "conflist", networkName: "" });
  const pools = new Map([["conflist", { ...stored(["gone"]), name: "conflist" }]]);
  const checked: string[] = [];
  planNodeSlices(
    input({
      networks: [net],
      stored: pools,
      occupied: (p) => {
        checked.push(p);
        return true;
      },
    }),
  );
  assert.deepEqual(checked, ["gone-10.0.0.0-26"]);
});

test("NADs of one network_name that disagree are reported with Go's text and nothing is written", () => {
  const plan = planNodeSlices(
    input({ networks: [network("a"), network("b", "10.0.0.0/24", 27)], nodes: ["n1"] }),
  );
  assert.deepEqual(plan.writes, []);
  assert.equal(plan.problems[0]!.message, MISMATCH);
  assert.deepEqual(plan.problems[0]!.fields["nads"], [
    "kube-system/a (10.0.0.0/24 by /26)",
    "kube-system/b (10.0.0.0/24 by /27)",
  ]);
});

test("a second NAD of the network becomes an extra owner; one in another namespace is not listed", () => {
  const other = { ...network("c"), nad: { namespace: "team", name: "c", uid: "uid-c" } };
  const plan = planNodeSlices(
    input({ networks: [network("a"), network("b"), other], stored: new Map([["net", stored([])]]) }),
  );
  const w = plan.writes[0]!;
  assert.ok(w.kind === "update");
  assert.deepEqual(w.pool.owners, [
    { name: "a", uid: "uid-a", controller: true },
    { name: "b", uid: "uid-b", controller: false },
  ]);
});

test("a changed slice size re-slices; nodes keep a slice that still exists", () => {
  const net = network("a", "10.0.0.0/24", 25);
  const plan = planNodeSlices(
    input({ networks: [net], nodes: ["n1", "n2"], stored: new Map([["net", stored(["n1", "n2"])]]) }),
  );
  const w = plan.writes[0]!;
  assert.ok(w.kind === "update");
  assert.equal(w.pool.sliceSize, "/25");
  assert.deepEqual(
    w.pool.allocations.map((a) => `${a.nodeName}@${a.sliceRange}`),
    ["n1@10.0.0.0/25", "n2@10.0.0.128/25"],
  );
  assert.match(plan.problems[0]!.message, /sliced again/);
});

test("nodes beyond the last free slice are reported", () => {
  const plan = planNodeSlices(input({ nodes: ["a", "b", "c", "d", "e"] }));
  assert.deepEqual(plan.problems[0]!.fields["nodes"], ["e"]);
});

test("a NodeSlicePool no NAD configures is deleted once its slice pools are empty, and only when every NAD decoded", () => {
  const orphan = new Map([["net", stored(["n1"])]]);
  assert.deepEqual(planNodeSlices(input({ networks: [], stored: orphan, occupied: () => true })).writes, []);
  assert.deepEqual(planNodeSlices(input({ networks: [], stored: orphan, complete: false })).writes, []);
  assert.deepEqual(planNodeSlices(input({ networks: [], stored: orphan })).writes, [
    {
      kind: "delete",
      name: "net",
      resourceVersion: "7",
      // network_name or the CNI network name: both namings of n1's slice pool are retired.
      retires: ["net-n1-10.0.0.0-26", "n1-10.0.0.0-26"],
    },
  ]);
});

test("a re-slice and a gone node's freed slice retire their slice pools; unchanged ones retire none", () => {
  const resliced = planNodeSlices(
    input({
      networks: [network("a", "10.0.0.0/24", 25)],
      nodes: ["n1", "n2"],
      stored: new Map([["net", stored(["n1", "n2"])]]),
    }),
  ).writes[0]!;
  assert.ok(resliced.kind === "update");
  // n1 keeps 10.0.0.0 as a /25 (another pool name); both /26 pools retire.
  assert.deepEqual(resliced.retires, ["net-n1-10.0.0.0-26", "net-n2-10.0.0.64-26"]);
  const freed = planNodeSlices(input({ nodes: ["n1"], stored: new Map([["net", stored(["gone", "n1"])]]) }))
    .writes[0]!;
  assert.ok(freed.kind === "update");
  assert.deepEqual(freed.retires, ["net-gone-10.0.0.0-26"]);
  const grown = planNodeSlices(input({ nodes: ["n1", "n2"], stored: new Map([["net", stored(["n1"])]]) }))
    .writes[0]!;
  assert.ok(grown.kind === "update");
  assert.deepEqual(grown.retires, []);
});

test("a retired slice pool is deleted once empty at the resourceVersion seen, and forgotten once gone or named again", () => {
  const pools = new Map([["net", stored(["n1", "n2"])]]);
  const retired = new Set([
    "net-old-10.0.0.0-26",
    "net-busy-10.0.0.64-26",
    "net-gone-10.0.0.128-26",
    "net-n1-10.0.0.0-26",
  ]);
  const ippools = new Map([
    ["net-old-10.0.0.0-26", { resourceVersion: "41", empty: true }],
    ["net-busy-10.0.0.64-26", { resourceVersion: "42", empty: false }],
    ["net-n1-10.0.0.0-26", { resourceVersion: "43", empty: true }],
  ]);
  const plan = planNodeSlices(
    input({ nodes: ["n1", "n2"], stored: pools, retired, ippool: (name) => ippools.get(name) }),
  );
  assert.deepEqual(plan.writes, [
    { kind: "delete-ippool", name: "net-old-10.0.0.0-26", resourceVersion: "41" },
  ]);
  // Gone: forgotten. Named by the NodeSlicePool again (n1's slice): forgotten, never deleted.
  assert.deepEqual(plan.forget.sort(), ["net-gone-10.0.0.128-26", "net-n1-10.0.0.0-26"]);
  const unknown = planNodeSlices(
    input({ nodes: ["n1", "n2"], stored: pools, retired, ippool: () => "unknown" }),
  );
  assert.deepEqual(unknown.writes, []);
  assert.deepEqual(unknown.forget, ["net-n1-10.0.0.0-26"]);
});

/** heldIn from a list of "pool address" pairs. */
function holding(...held: [pool: string, address: string][]): SlicePlanInput["heldIn"] {
  return (_network, slice) => {
    for (const [pool, address] of held) {
      const a = parseCidr(`${address}/32`)!;
      const low = slice.address & ~((1n << BigInt(32 - slice.prefix)) - 1n);
      if (a.address >= low && a.address < low + (1n << BigInt(32 - slice.prefix))) return pool;
    }
    return undefined;
  };
}

test("without overlapping ranges a re-slice withholds the slices the old slice pools still hold addresses in", () => {
  const net = network("a", "10.0.0.0/24", 25, { overlapping: false });
  const plan = planNodeSlices(
    input({
      networks: [net],
      nodes: ["n1", "n2"],
      stored: new Map([["net", stored(["n1", "n2"])]]),
      heldIn: holding(["net-n1-10.0.0.0-26", "10.0.0.5"]),
    }),
  );
  const w = plan.writes[0]!;
  assert.ok(w.kind === "update");
  // 10.0.0.0/25 holds n1's old .5: left out of the list, so no node is given or can claim it.
  assert.deepEqual(
    w.pool.allocations.map((a) => `${a.nodeName}@${a.sliceRange}`),
    ["n1@10.0.0.128/25"],
  );
  const withheld = plan.problems.find((p) => /withheld/.test(p.message))!;
  assert.deepEqual(withheld.fields["slices"], ["10.0.0.0/25 (net-n1-10.0.0.0-26)"]);
  assert.deepEqual(plan.problems.find((p) => /no free slice/.test(p.message))!.fields["nodes"], ["n2"]);
  // With the reservations on, the same re-slice offers every slice at once (they keep pods apart).
  const on = planNodeSlices(
    input({
      networks: [network("a", "10.0.0.0/24", 25)],
      nodes: ["n1", "n2"],
      stored: new Map([["net", stored(["n1", "n2"])]]),
      heldIn: holding(["net-n1-10.0.0.0-26", "10.0.0.5"]),
    }),
  ).writes[0]!;
  assert.ok(on.kind === "update");
  assert.equal(on.pool.allocations.length, 2);
});

test("a withheld slice is offered again once its addresses are released; assigned slices are never withheld", () => {
  const net = network("a", "10.0.0.0/24", 26, { overlapping: false });
  // Stored: n1 on .0/26, .64/26 withheld earlier (missing), .128 and .192 free.
  const partial = stored(["n1"], {
    allocations: [
      { nodeName: "n1", sliceRange: "10.0.0.0/26" },
      { nodeName: "", sliceRange: "10.0.0.128/26" },
      { nodeName: "", sliceRange: "10.0.0.192/26" },
    ],
  });
  // Still held (and n1's own slice holds addresses of another pool: kept, it is n1's).
  const still = planNodeSlices(
    input({
      networks: [net],
      nodes: ["n1"],
      stored: new Map([["net", partial]]),
      heldIn: holding(["net-10.0.0.0-24", "10.0.0.70"], ["net-10.0.0.0-24", "10.0.0.3"]),
    }),
  );
  assert.deepEqual(still.writes, []);
  const released = planNodeSlices(
    input({ networks: [net], nodes: ["n1"], stored: new Map([["net", partial]]), heldIn: holding() }),
  ).writes[0]!;
  assert.ok(released.kind === "update");
  assert.deepEqual(
    released.pool.allocations.map((a) => `${a.nodeName}@${a.sliceRange}`),
    ["n1@10.0.0.0/26", "@10.0.0.64/26", "@10.0.0.128/26", "@10.0.0.192/26"],
  );
  assert.deepEqual(released.retires, []);
});

test("without overlapping ranges a new NodeSlicePool leaves out the slices the whole-range pool holds addresses in", () => {
  const plan = planNodeSlices(
    input({
      networks: [network("a", "10.0.0.0/24", 26), network("b", "10.0.0.0/24", 26, { overlapping: false })],
      nodes: ["n1", "n2"],
      heldIn: holding(["net-10.0.0.0-24", "10.0.0.1"], ["net-10.0.0.0-24", "10.0.0.200"]),
    }),
  );
  const w = plan.writes[0]!;
  assert.ok(w.kind === "create");
  // One NAD of the network without the reservations is enough to withhold.
  assert.deepEqual(
    w.pool.allocations.map((a) => `${a.nodeName}@${a.sliceRange}`),
    ["n1@10.0.0.64/26", "n2@10.0.0.128/26"],
  );
  // Without an answer (the IPPools not known) every free slice is withheld.
  const unknown = planNodeSlices(
    input({ networks: [network("a", "10.0.0.0/24", 26, { overlapping: false })], nodes: ["n1"] }),
  ).writes[0]!;
  assert.ok(unknown.kind === "create");
  assert.deepEqual(unknown.pool.allocations, []);
});

test("a re-slice without overlapping ranges keeps out what the old slicing assigned for a while, whoever holds what", () => {
  const net = network("a", "10.0.0.0/24", 27, { overlapping: false });
  const plan = planNodeSlices(
    input({
      networks: [net],
      nodes: ["n1"],
      stored: new Map([["net", stored(["n1", "", "n2"])]]),
      heldIn: holding(),
    }),
  );
  const w = plan.writes[0]!;
  assert.ok(w.kind === "update");
  // n1 had .0/26, n2 .128/26 (n2 is gone: its slice was still assigned). Nothing is held, but an
  // ADD that read the old slicing may still write into them: every /27 inside is left out.
  assert.deepEqual(
    w.pool.allocations.map((a) => `${a.nodeName}@${a.sliceRange}`),
    ["n1@10.0.0.64/27", "@10.0.0.96/27", "@10.0.0.192/27", "@10.0.0.224/27"],
  );
  assert.deepEqual(
    w.replaces?.map((c) => `${c.address}/${c.prefix}`),
    [`${parseCidr("10.0.0.0/26")!.address}/26`, `${parseCidr("10.0.0.128/26")!.address}/26`],
  );
  const now = (replaced?: SlicePlanInput["replaced"]) =>
    planNodeSlices(
      input({
        networks: [net],
        nodes: ["n1"],
        stored: new Map([["net", { ...stored([]), sliceSize: "/27", allocations: w.pool.allocations }]]),
        heldIn: holding(),
        ...(replaced === undefined ? {} : { replaced }),
      }),
    );
  // The plans after it are told (replaced) until the grace is over.
  assert.deepEqual(now(() => w.replaces!).writes, []);
  const over = now().writes[0]!;
  assert.ok(over.kind === "update");
  assert.equal(over.pool.allocations.length, 8);
  assert.equal(over.replaces, undefined);
  // With the reservations on, nothing is kept out and nothing is remembered.
  const on = planNodeSlices(
    input({
      networks: [network("a", "10.0.0.0/24", 27)],
      nodes: ["n1"],
      stored: new Map([["net", stored(["n1", "", "n2"])]]),
    }),
  ).writes[0]!;
  assert.ok(on.kind === "update");
  assert.equal(on.pool.allocations.length, 8);
  assert.equal(on.replaces, undefined);
});

test("slice pools no NodeSlicePool names are found by name and range (an earlier leader's or Go's), nothing else", () => {
  const pools = [
    ["net-n1-10.0.0.0-26", "10.0.0.0/26"], // n1's live slice pool
    ["net-n2-10.0.0.64-26", "10.0.0.64/26"], // no longer n2's
    ["n3-10.0.0.128-26", "10.0.0.128/26"], // unprefixed (a network without network_name)
    ["net-n1-10.0.0.0-25", "10.0.0.0/25"], // a slicing before
    ["net-10.0.0.0-24", "10.0.0.0/24"], // the whole range: not a slice
    ["10.0.0.192-26", "10.0.0.192/26"], // no node in its name
    ["net-n9-10.1.0.0-26", "10.1.0.0/26"], // outside every NodeSlicePool's range
    ["net-n9-10.0.0.0-26", "10.0.0.64/26"], // its name is not its range
    ["broken", "not a range"],
    ["net-n4-10.0.0.192-26", "10.0.0.192/26"], // keeps release records
  ].map(([name, range]) => ({
    name: name!,
    range: range!,
    released: new Map(name === "net-n4-10.0.0.192-26" ? [["3", 1]] : []),
  }));
  assert.deepEqual(unnamedSlicePools([stored(["n1"])], pools), [
    "net-n2-10.0.0.64-26",
    "n3-10.0.0.128-26",
    "net-n1-10.0.0.0-25",
  ]);
  assert.deepEqual(unnamedSlicePools([], pools), []);
});
