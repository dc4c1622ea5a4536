import assert from "node:assert/strict";
import { test } from "node:test";
import { type Cidr, formatIP, parseCidr } from "../../ip/index.ts";
import type { PoolRef } from "../../ipam/pool-ref.ts";
import type { PoolSnapshot, Reservation } from "../../pool/allocation.ts";
import { parseGoRange } from "./go-etcd-layout.ts";
import { type PlanInput, planMigration, planTotals, unconfiguredPool } from "./plan.ts";

const cidr = (text: string) => parseCidr(text)!;

function input(parts: Partial<PlanInput> & Pick<PlanInput, "ranges">): PlanInput {
  return {
    locks: [],
    poolFor: (range: Cidr): PoolRef => unconfiguredPool(range, ""),
    pools: new Map(),
    reservations: [],
    overlapping: true,
    networkName: "",
    ...parts,
  };
}

function pool(name: string, range: string, entries: Record<string, string>): PoolSnapshot {
  const allocations = new Map(
    Object.entries(entries).map(([key, id]) => [key, { containerId: id, podRef: "", ifName: "" }]),
  );
  return { name, range, allocations, released: new Map(), version: "7" };
}

test('a new pool: every allocation becomes an entry at its offset with `podref: ""`, and its reservation', () => {
  const plan = planMigration(
    input({
      ranges: [
        parseGoRange(cidr("10.10.0.0/16"), "10.10.0.1 c1\n10.10.1.0 c2"),
        parseGoRange(cidr("fd00:10::/64"), "fd00:10::5 c1"),
      ],
    }),
  );
  assert.deepEqual(plan.problems, []);
  const [v4, v6] = plan.pools;
  assert.equal(v4?.pool.name, "10.10.0.0-16");
  assert.equal(v4?.rangeText, "10.10.0.0/16");
  assert.deepEqual(
    v4?.add.map((e) => [e.key, e.allocation, e.reserve?.name]),
    [
      ["1", { containerId: "c1", podRef: "", ifName: "" }, "10.10.0.1"],
      ["256", { containerId: "c2", podRef: "", ifName: "" }, "10.10.1.0"],
    ],
  );
  assert.deepEqual(v4?.add[0]?.reserve?.claim, { address: "10.10.0.1", networkName: "" });
  assert.equal(v6?.pool.name, "fd00-10---64");
  assert.deepEqual(
    v6?.add.map((e) => [e.key, e.reserve?.name]),
    [["5", "fd00-10--5"]],
  );
  assert.deepEqual(planTotals(plan), { source: 3, add: 3, reservations: 3, present: 0 });
});

test("the target's network_name names pools and reservations; without overlapping ranges no reservation", () => {
  const ranges = [parseGoRange(cidr("10.10.0.0/16"), "10.10.0.1 c1")];
  const named = planMigration(
    input({ ranges, networkName: "blue", poolFor: (r) => unconfiguredPool(r, "blue") }),
  );
  assert.equal(named.pools[0]?.pool.name, "blue-10.10.0.0-16");
  assert.equal(named.pools[0]?.add[0]?.reserve?.name, "blue-10.10.0.1");
  const plain = planMigration(input({ ranges, overlapping: false }));
  assert.equal(plain.pools[0]?.add[0]?.reserve, undefined);
  assert.equal(planTotals(plain).reservations, 0);
});

test("offsets count from the range stored in an existing pool (host bits kept)", () => {
  const plan = planMigration(
    input({
      ranges: [parseGoRange(cidr("10.10.0.0/24"), "10.10.0.9 c1")],
      pools: new Map([["10.10.0.0-24", pool("10.10.0.0-24", "10.10.0.4/24", {})]]),
    }),
  );
  assert.equal(plan.pools[0]?.add[0]?.key, "5");
  assert.equal(plan.pools[0]?.rangeText, "10.10.0.4/24");
});

test("what the target already holds: same container → left as it is; anyone else → a problem", () => {
  const held: Reservation[] = [
    { name: "10.10.0.2", podRef: "", ifName: "", containerId: "c2" },
    { name: "10.10.0.4", podRef: "ns/other", ifName: "net1", containerId: "x4" },
  ];
  const plan = planMigration(
    input({
      ranges: [
        parseGoRange(
          cidr("10.10.0.0/24"),
          "10.10.0.1 c1\n10.10.0.2 c2\n10.10.0.3 c3\n10.10.0.4 c4\n10.10.0.5 c5",
        ),
      ],
      // .1 held without its reservation (a run stopped between requests), .2 held with it, .3 by someone else.
      pools: new Map([
        ["10.10.0.0-24", pool("10.10.0.0-24", "10.10.0.0/24", { "1": "c1", "2": "c2", "3": "x3" })],
      ]),
      reservations: held,
    }),
  );
  const p = plan.pools[0]!;
  assert.deepEqual(
    p.present.map((e) => formatIP(e.address)),
    ["10.10.0.1", "10.10.0.2"],
  );
  assert.deepEqual(
    p.reserve.map((r) => [r.name, r.containerId]),
    [["10.10.0.1", "c1"]],
  );
  assert.deepEqual(
    p.add.map((e) => e.key),
    ["5"],
  );
  assert.deepEqual(
    plan.problems.map((x) => [x.kind, x.address, x.containerId]),
    [
      ["held", "10.10.0.3", "c3"],
      ["reserved", "10.10.0.4", "c4"],
    ],
  );
  assert.match(
    plan.problems[0]!.message,
    /10\.10\.0\.3 of container "c3" is held in pool 10\.10\.0\.0-24 by container "x3"/,
  );
  assert.match(plan.problems[1]!.message, /reservation 10\.10\.0\.4\) by container "x4" \(pod ns\/other\)/);
});

test("a reservation recorded for another address or network (a name collision) is never taken over", () => {
  const plan = planMigration(
    input({
      ranges: [parseGoRange(cidr("1::/64"), "1::5 c1")],
      networkName: "x-fd00",
      poolFor: (r) => unconfiguredPool(r, "x-fd00"),
      reservations: [
        {
          name: "x-fd00-1--5",
          podRef: "",
          ifName: "",
          containerId: "c1",
          claim: { address: "fd00:1::5", networkName: "x" },
        },
      ],
    }),
  );
  assert.deepEqual(
    plan.problems.map((x) => x.kind),
    ["reserved"],
  );
  assert.match(plan.problems[0]!.message, /for fd00:1::5 of network_name "x"/);
});

test("two v0.5.4 ranges holding one address (no overlap protection in v0.5.4): the second is a problem", () => {
  const plan = planMigration(
    input({
      ranges: [
        parseGoRange(cidr("10.10.0.0/16"), "10.10.0.5 a"),
        parseGoRange(cidr("10.10.0.0/24"), "10.10.0.5 b\n10.10.0.6 a"),
      ],
    }),
  );
  assert.deepEqual(
    plan.problems.map((x) => [x.kind, x.range, x.address]),
    [["reserved", "10.10.0.0/24", "10.10.0.5"]],
  );
  // The same container in both ranges shares the reservation: written once.
  const shared = planMigration(
    input({
      ranges: [
        parseGoRange(cidr("10.10.0.0/16"), "10.10.0.5 a"),
        parseGoRange(cidr("10.10.0.0/24"), "10.10.0.5 a"),
      ],
    }),
  );
  assert.deepEqual(shared.problems, []);
  assert.deepEqual(
    shared.pools.map((p) => p.add.map((e) => e.reserve?.name)),
    [["10.10.0.5"], [undefined]],
  );
});

test("source trouble: a held lock, unreadable lines and one address listed for two containers", () => {
  const plan = planMigration(
    input({
      ranges: [parseGoRange(cidr("10.10.0.0/24"), "10.10.0.1 a\n10.10.0.1 b\nnonsense\n10.10.0.2 c")],
      locks: [
        { range: cidr("10.10.0.0/24"), lease: "694d" },
        { range: cidr("10.99.0.0/24"), lease: "1" },
      ],
    }),
  );
  assert.deepEqual(
    plan.problems.map((x) => [x.kind, x.address, x.containerId]),
    [
      ["locked", undefined, undefined],
      ["unreadable", undefined, undefined],
      ["duplicate", "10.10.0.1", undefined],
    ],
    "only the lock of a range being migrated counts",
  );
  assert.match(
    plan.problems[0]!.message,
    /etcd key \/whereabouts\/10\.10\.0\.0\/24\/694d\): stop every v0\.5\.4 plugin/,
  );
  assert.match(
    plan.problems[1]!.message,
    /etcd key \/whereabouts\/10\.10\.0\.0\/24, line 3: not `<ip> <container id>`/,
  );
  assert.match(plan.problems[2]!.message, /lists 10\.10\.0\.1 for containers "a" and "b": delete the lines/);
  assert.deepEqual(
    plan.pools[0]?.add.map((e) => e.key),
    ["2"],
    "the rest is still planned (and shown)",
  );
});

test("pool trouble: a stored range that is not the range, and a range the target does not configure", () => {
  const plan = planMigration(
    input({
      ranges: [
        parseGoRange(cidr("10.10.0.0/24"), "10.10.0.1 a"),
        parseGoRange(cidr("10.20.0.0/24"), "10.20.0.1 a"),
      ],
      poolFor: (r) => (r.address === cidr("10.10.0.0/24").address ? unconfiguredPool(r, "") : undefined),
      pools: new Map([["10.10.0.0-24", pool("10.10.0.0-24", "10.10.1.0/24", {})]]),
    }),
  );
  assert.deepEqual(
    plan.problems.map((x) => x.kind),
    ["pool", "unconfigured"],
  );
  assert.match(plan.problems[0]!.message, /pool 10\.10\.0\.0-24 holds range 10\.10\.1\.0\/24/);
  assert.match(plan.problems[1]!.message, /the --to network does not configure range 10\.20\.0\.0\/24/);
  assert.deepEqual(plan.pools, []);
});
