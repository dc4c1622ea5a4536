// Rules 1 and 2 of assign(): the attachment's own entry, then its sticky owner's.
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatIP, parseIP } from "../ip/index.ts";
import type { Allocation } from "../pool/allocation.ts";
import { assign, type Decision } from "./assign.ts";
import { addressSet } from "./interval-set.ts";
import { rule, someone, view } from "./test-support.ts";

const r = rule("10.1.2.0/24");
const addr = (d: Decision) => formatIP(d.kind === "new" ? d.address : d.entry.address);
const vm = "vm/db/a";
const source: Allocation = {
  containerId: "c-src",
  podRef: "db/virt-launcher-a-src",
  ifName: "net1",
  owner: vm,
};
const target = { containerId: "c-tgt", podRef: "db/virt-launcher-a-tgt", ifName: "net1", owner: vm };

test("rule 1: the attachment's parked entry comes back to it, unparked, with the new container id", () => {
  const parked: Allocation = {
    containerId: "old",
    podRef: "db/web-0",
    ifName: "eth0",
    owner: "statefulset/db/web/0",
    parkedAt: 1_700_000_000_000,
  };
  const me = { containerId: "new", podRef: "db/web-0", ifName: "eth0", owner: "statefulset/db/web/0" };
  const d = assign(
    r,
    view(r, [
      ["10.1.2.1", someone(1)],
      ["10.1.2.9", parked],
    ]),
    me,
  );
  assert.equal(d.kind, "existing");
  assert.equal(addr(d), "10.1.2.9");
  assert.deepEqual(d.kind === "existing" && [d.updated, d.takenOver], [me, false]);
  // Parked with the same container id: still rewritten, to clear parkedAt.
  const again = assign(r, view(r, [["10.1.2.9", { ...parked, containerId: "new" }]]), me);
  assert.deepEqual(again.kind === "existing" && again.updated, me);
});

test("rule 1: an entry needing no change is kept as it is; owners are added, never dropped", () => {
  const me = { containerId: "c", podRef: "db/web-0", ifName: "eth0", owner: "statefulset/db/web/0" };
  const d = assign(r, view(r, [["10.1.2.4", me]]), me);
  assert.deepEqual(d.kind === "existing" && [d.updated, d.takenOver], [undefined, false]);
  // An entry from before sticky_addresses was on gets the owner.
  const plain = { containerId: "c", podRef: "db/web-0", ifName: "eth0" };
  const gained = assign(r, view(r, [["10.1.2.4", plain]]), me);
  assert.deepEqual(gained.kind === "existing" && gained.updated, me);
  // sticky_addresses turned off: the entry keeps its owner (the controller decides when it goes).
  const kept = assign(r, view(r, [["10.1.2.4", me]]), plain);
  assert.deepEqual(kept.kind === "existing" && kept.updated, undefined);
  const moved = assign(r, view(r, [["10.1.2.4", me]]), { ...plain, containerId: "c2" });
  assert.deepEqual(moved.kind === "existing" && moved.updated, { ...me, containerId: "c2" });
});

test("rule 2: a VM's other pod takes over its address and reservation (live migration, restart)", () => {
  const held = view(r, [
    ["10.1.2.1", someone(1)],
    ["10.1.2.7", source],
  ]);
  const d = assign(r, held, target);
  assert.equal(d.kind, "existing");
  assert.equal(addr(d), "10.1.2.7");
  assert.ok(d.kind === "existing");
  assert.equal(d.takenOver, true);
  assert.deepEqual(d.updated, target);
  assert.deepEqual(d.entry.allocation, source, "the old holder, whose reservation is replaced");
  // A parked entry (the VM stopped, its pod deleted) is taken over and unparked alike.
  const parked = view(r, [["10.1.2.7", { ...source, parkedAt: 5 }]]);
  const back = assign(r, parked, target);
  assert.deepEqual(back.kind === "existing" && [addr(back), back.updated, back.takenOver], [
    "10.1.2.7",
    target,
    true,
  ]);
});

test("rule 2 matches the owner and the interface exactly; rule 1 comes first", () => {
  const held = view(r, [["10.1.2.7", source]]);
  // Another interface of the VM, another VM, a pod without owner: a new address.
  for (const other of [
    { ...target, ifName: "net2" },
    { ...target, owner: "vm/db/b" },
    { ...target, owner: undefined },
  ]) {
    const d = assign(r, held, other);
    assert.equal(d.kind, "new");
    assert.equal(addr(d), "10.1.2.1");
  }
  // A StatefulSet slot's owner text is not a VM's, even for the same name.
  const sts = view(r, [["10.1.2.7", { ...source, owner: "statefulset/db/a/0" }]]);
  assert.equal(assign(r, sts, target).kind, "new");
  // The pod's own entry wins over its owner's (two entries: one from before the owner was known).
  const both = view(r, [
    ["10.1.2.7", source],
    ["10.1.2.8", { containerId: "x", podRef: target.podRef, ifName: "net1" }],
  ]);
  const d = assign(r, both, target);
  assert.deepEqual(d.kind === "existing" && [addr(d), d.takenOver], ["10.1.2.8", false]);
});

test("new entries carry the claimant's owner; a slot's entry reserved by another range is given up", () => {
  const fresh = assign(r, view(r), target);
  assert.deepEqual(fresh.kind === "new" && [addr(fresh), fresh.allocation, fresh.givesUp], [
    "10.1.2.1",
    target,
    undefined,
  ]);
  const plain = assign(r, view(r), { containerId: "c", podRef: "p/q", ifName: "eth0" });
  assert.deepEqual(plain.kind === "new" && plain.allocation, {
    containerId: "c",
    podRef: "p/q",
    ifName: "eth0",
  });
  const held = view(r, [["10.1.2.1", source]]);
  const d = assign(r, held, target, { skip: addressSet([parseIP("10.1.2.1")!.value]) });
  assert.equal(d.kind, "new");
  assert.equal(addr(d), "10.1.2.2");
  assert.deepEqual(d.kind === "new" && [d.allocation, d.givesUp?.key], [target, "1"]);
});
