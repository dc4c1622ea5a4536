import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCidr } from "../ip/index.ts";
import type { Allocation, PoolSnapshot } from "../pool/allocation.ts";
import { HeldAddresses } from "./held-addresses.ts";

const entry: Allocation = { containerId: "c", podRef: "ns/p", ifName: "net1" };

function pool(name: string, range: string, keys: string[]): PoolSnapshot {
  return {
    name,
    range,
    allocations: new Map(keys.map((k) => [k, entry])),
    released: new Map(),
    version: "1",
  };
}

const slice = (text: string) => parseCidr(text)!;

test("finds the pool holding an address in a slice, offsets counted from the address spec.range writes", () => {
  let reads = 0;
  const held = new HeldAddresses(() => {
    reads++;
    return [
      // Offsets from 10.0.0.5 as written (Go computes them from the literal IP).
      pool("blue-10.0.0.5-24", "10.0.0.5/24", ["2", "0070"]),
      pool("blue-n1-10.0.1.0-26", "10.0.1.0/26", ["63"]),
      pool("blue-empty", "10.0.2.0/24", []),
      pool("red-10.0.3.0-24", "10.0.3.0/24", ["1"]),
      pool("blue-broken", "not a range", ["1"]),
      pool("blue-v6", "fd00::/120", ["1"]),
    ];
  });
  assert.equal(held.in("blue", slice("10.0.0.0/29")), "blue-10.0.0.5-24"); // 10.0.0.7
  assert.equal(held.in("blue", slice("10.0.0.0/30")), undefined); // .0–.3
  assert.equal(held.in("blue", slice("10.0.0.72/29")), "blue-10.0.0.5-24"); // 10.0.0.75
  assert.equal(held.in("blue", slice("10.0.0.64/29")), undefined);
  assert.equal(held.in("blue", slice("10.0.1.32/27")), "blue-n1-10.0.1.0-26"); // 10.0.1.63, the last
  assert.equal(held.in("blue", slice("10.0.1.64/26")), undefined);
  assert.equal(held.in("blue", slice("10.0.2.0/24")), undefined); // empty pool
  assert.equal(held.in("blue", slice("10.0.3.0/24")), undefined); // another network_name's pool
  assert.equal(held.in("blue", slice("fd00::/126")), "blue-v6");
  assert.equal(held.in("blue", slice("0.0.0.0/0")), "blue-10.0.0.5-24");
  // Without a network_name every pool counts.
  assert.equal(held.in("", slice("10.0.3.0/24")), "red-10.0.3.0-24");
  // Built once per network name.
  held.in("blue", slice("10.9.0.0/16"));
  assert.equal(reads, 2);
});

test("a live slice pool whose range is its slice is not read; one whose range is not is", () => {
  const held = new HeldAddresses(
    () => [
      pool("blue-n1-10.0.1.0-26", "10.0.1.0/26", ["5"]),
      // Its range written otherwise (host bits), the same slice: not read either.
      pool("blue-n3-10.0.1.128-26", "10.0.1.130/26", ["1"]),
      // Named as n2's slice 10.0.1.64/26, but its range says otherwise: read.
      pool("blue-n2-10.0.1.64-26", "10.0.1.0/24", ["70"]),
    ],
    () =>
      new Map([
        ["blue-n1-10.0.1.0-26", "10.0.1.0/26"],
        ["blue-n2-10.0.1.64-26", "10.0.1.64/26"],
        ["blue-n3-10.0.1.128-26", "10.0.1.128/26"],
      ]),
  );
  assert.equal(held.in("blue", slice("10.0.1.0/26")), undefined);
  assert.equal(held.in("blue", slice("10.0.1.64/26")), "blue-n2-10.0.1.64-26");
  assert.equal(held.in("blue", slice("10.0.1.128/26")), undefined);
});
