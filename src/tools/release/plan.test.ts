// The release plan on hand-built pools and reservations.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatIP, parseIP } from "../../ip/index.ts";
import type { Allocation, PoolSnapshot, Reservation } from "../../pool/allocation.ts";
import { modelOf } from "../check/model.ts";
import { planRelease, type ReleasePlan } from "./plan.ts";

const a = (podRef: string): Allocation => ({ containerId: `c-${podRef}`, podRef, ifName: "net1" });
const pool = (name: string, range: string, entries: Record<string, Allocation>): PoolSnapshot => ({
  name,
  range,
  allocations: new Map(Object.entries(entries)),
  released: new Map(),
  version: "1",
});
const r = (
  name: string,
  owner: Allocation,
  claim?: { address: string; networkName: string },
): Reservation => ({
  name,
  ...owner,
  ...(claim === undefined ? {} : { claim }),
});

const model = modelOf(
  [
    pool("blue-10.0.0.0-24", "10.0.0.0/24", { "5": a("ns/p1"), "6": a("ns/p2") }),
    pool("blue-10.0.0.0-25", "10.0.0.0/25", { "5": a("ns/p3") }),
    pool("red-10.0.0.0-24", "10.0.0.0/24", { "5": a("ns/p4"), "7": a("ns/p1") }),
  ],
  [
    r("blue-10.0.0.5", a("ns/p1")),
    r("red-10.0.0.5", a("ns/p4"), { address: "10.0.0.5", networkName: "red" }),
    // no entry goes with these: one claimed, one as Go writes them
    r("blue-10.0.0.9", a("ns/p1"), { address: "10.0.0.9", networkName: "blue" }),
    r("red-10.0.0.8", a("ns/p2")),
  ],
);

function summary(plan: ReleasePlan): string[] {
  return [
    ...plan.entries.flatMap((g) =>
      g.entries.map(
        (e) => `${g.pool} ${formatIP(e.address)} ${e.allocation.podRef} ${g.reservedUnder ?? "-"}`,
      ),
    ),
    ...plan.reservations.map((x) => `reservation ${x.name}`),
  ];
}

const ip = (text: string) => parseIP(text)!;
const blue = {
  pool: (p: { network: string | undefined }) => p.network === "blue",
  network: (n: string) => n === "blue",
};

describe("planRelease", () => {
  it("an address: every holder in every network (the command refuses more than one network)", () => {
    const plan = planRelease(model, { address: ip("10.0.0.5") }, undefined);
    assert.deepEqual(summary(plan), [
      "blue-10.0.0.0-24 10.0.0.5 ns/p1 blue",
      "blue-10.0.0.0-25 10.0.0.5 ns/p3 -",
      "red-10.0.0.0-24 10.0.0.5 ns/p4 red",
    ]);
    assert.deepEqual([...plan.networks].sort(), ["blue", "red"]);
    assert.deepEqual(summary(planRelease(model, { address: ip("10.0.0.5") }, blue)), [
      "blue-10.0.0.0-24 10.0.0.5 ns/p1 blue",
      "blue-10.0.0.0-25 10.0.0.5 ns/p3 -",
    ]);
  });

  it("an address and a pod: only that holder", () => {
    assert.deepEqual(summary(planRelease(model, { address: ip("10.0.0.5"), podRef: "ns/p3" }, undefined)), [
      "blue-10.0.0.0-25 10.0.0.5 ns/p3 -",
    ]);
  });

  it("a pod: its entries everywhere, and its reservations without entries", () => {
    assert.deepEqual(summary(planRelease(model, { podRef: "ns/p1" }, undefined)), [
      "blue-10.0.0.0-24 10.0.0.5 ns/p1 blue",
      "red-10.0.0.0-24 10.0.0.7 ns/p1 -",
      "reservation blue-10.0.0.9",
    ]);
    assert.deepEqual(summary(planRelease(model, { podRef: "ns/p2" }, undefined)), [
      "blue-10.0.0.0-24 10.0.0.6 ns/p2 -",
      "reservation red-10.0.0.8",
    ]);
    // within a network, a reservation that records none is not known to be of it
    assert.deepEqual(summary(planRelease(model, { podRef: "ns/p2" }, blue)), [
      "blue-10.0.0.0-24 10.0.0.6 ns/p2 -",
    ]);
  });

  it("reservations of an address without entries: by their claim, or by the name the address has in a network", () => {
    assert.deepEqual(summary(planRelease(model, { address: ip("10.0.0.9") }, undefined)), [
      "reservation blue-10.0.0.9",
    ]);
    assert.deepEqual(summary(planRelease(model, { address: ip("10.0.0.8") }, undefined)), [
      "reservation red-10.0.0.8",
    ]);
    assert.deepEqual(summary(planRelease(model, { address: ip("10.0.0.8") }, blue)), []);
  });
});
