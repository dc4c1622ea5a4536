// Rule 3 of assign() (a requested address) and which range takes each requested address.
import assert from "node:assert/strict";
import { test } from "node:test";
import { assertCniError } from "../config/test-support.ts";
import { formatIP, type IP, parseIP } from "../ip/index.ts";
import type { Allocation } from "../pool/allocation.ts";
import { assign, type Claimant, type Decision } from "./assign.ts";
import { addressSet } from "./interval-set.ts";
import { requestedPerRange } from "./requested.ts";
import { rule, someone, view } from "./test-support.ts";

const ip = (text: string) => parseIP(text)!;
const addr = (d: Decision) => formatIP(d.kind === "new" ? d.address : d.entry.address);
const me = (requested: string, over: Partial<Claimant> = {}): Claimant => ({
  containerId: "c",
  podRef: "db/me",
  ifName: "eth0",
  requested: ip(requested),
  ...over,
});
const r = rule("10.1.2.0/24", { start: "10.1.2.10", end: "10.1.2.200", exclude: ["10.1.2.64/30"] });
const gateway = ip("10.1.2.100");

test("rule 3: a free requested address is allocated and recorded as a new entry, cooldown or not", () => {
  const d = assign(r, view(r, [["10.1.2.10", someone(1)]]), me("10.1.2.50"), { gateway });
  assert.deepEqual(d.kind === "new" && [addr(d), d.allocation, d.givesUp], [
    "10.1.2.50",
    { containerId: "c", podRef: "db/me", ifName: "eth0" },
    undefined,
  ]);
  // Released a second ago under a one-hour cooldown: asked for by name, so handed out.
  const cooling = view(r, [], [["10.1.2.50", 1_000_000]]);
  const asked = assign(r, cooling, me("10.1.2.50"), { cooldown: { nowMs: 1_001_000, seconds: 3600 } });
  assert.equal(addr(asked), "10.1.2.50");
  // Window edges are fine; the owner goes on the entry.
  assert.equal(addr(assign(r, view(r), me("10.1.2.10"))), "10.1.2.10");
  const edge = assign(r, view(r), me("10.1.2.200", { owner: "statefulset/db/web/0" }));
  assert.deepEqual(edge.kind === "new" && [addr(edge), edge.allocation.owner], [
    "10.1.2.200",
    "statefulset/db/web/0",
  ]);
});

test("rule 3: an address the attachment (or its owner) already holds is kept; another one moves it", () => {
  const mine: Allocation = { containerId: "old", podRef: "db/me", ifName: "eth0" };
  const d = assign(r, view(r, [["10.1.2.50", mine]]), me("10.1.2.50"));
  assert.deepEqual(d.kind === "existing" && [addr(d), d.updated?.containerId], ["10.1.2.50", "c"]);
  // The request changed (a new pod of a StatefulSet slot, say): the new address, the old one given up.
  const moved = assign(r, view(r, [["10.1.2.50", mine]]), me("10.1.2.51"));
  assert.deepEqual(moved.kind === "new" && [addr(moved), moved.givesUp?.key], ["10.1.2.51", "50"]);
  // The owner's entry at the requested address: taken over (rule 2).
  const slot: Allocation = {
    containerId: "x",
    podRef: "db/web-0",
    ifName: "eth0",
    owner: "vm/db/a",
    parkedAt: 1,
  };
  const over = assign(r, view(r, [["10.1.2.50", slot]]), me("10.1.2.50", { owner: "vm/db/a" }));
  assert.deepEqual(over.kind === "existing" && [addr(over), over.takenOver], ["10.1.2.50", true]);
  const elsewhere = assign(r, view(r, [["10.1.2.50", slot]]), me("10.1.2.60", { owner: "vm/db/a" }));
  assert.deepEqual(elsewhere.kind === "new" && [addr(elsewhere), elsewhere.givesUp?.key], [
    "10.1.2.60",
    "50",
  ]);
});

test("rule 3 refuses what the range cannot hand out, with code 7 and what to do", async (t) => {
  const held = view(r, [
    ["10.1.2.30", { containerId: "c1", podRef: "db/other", ifName: "net1" }],
    [
      "10.1.2.31",
      { containerId: "c2", podRef: "db/web-1", ifName: "eth0", owner: "statefulset/db/web/1", parkedAt: 9 },
    ],
    ["10.1.2.32", { containerId: "c3", podRef: "db/web-2", ifName: "eth0", owner: "statefulset/db/web/2" }],
    ["10.1.2.33", { containerId: "c4", podRef: "db/legacy", ifName: "" }],
  ]);
  const outside =
    "is outside the addresses range 10.1.2.0/24 hands out (10.1.2.10 to 10.1.2.200): request one of those, or widen range_start/range_end";
  const free =
    "in range 10.1.2.0/24: request another address, or free it first (delete that pod, or thereabouts release)";
  const rows: [string, string][] = [
    ["10.1.2.9", `requested address 10.1.2.9 ${outside}`],
    ["10.1.2.201", `requested address 10.1.2.201 ${outside}`],
    ["10.1.2.0", `requested address 10.1.2.0 ${outside}`],
    ["10.1.2.255", `requested address 10.1.2.255 ${outside}`],
    [
      "10.1.2.66",
      "requested address 10.1.2.66 is excluded in range 10.1.2.0/24 (exclude: [10.1.2.64/30]): request another address, or take it out of exclude",
    ],
    ["10.1.2.100", "requested address 10.1.2.100 is the gateway of this network: request another address"],
    ["10.1.2.30", `requested address 10.1.2.30 is held by db/other (net1) ${free}`],
    [
      "10.1.2.31",
      `requested address 10.1.2.31 is held by db/web-1 (eth0), parked for statefulset/db/web/1 ${free}`,
    ],
    [
      "10.1.2.32",
      `requested address 10.1.2.32 is held by db/web-2 (eth0), kept for statefulset/db/web/2 ${free}`,
    ],
    ["10.1.2.33", `requested address 10.1.2.33 is held by db/legacy ${free}`],
    [
      "10.1.2.40",
      "requested address 10.1.2.40 is reserved through an overlapping range of another network: request another address, or free it there first",
    ],
  ];
  for (const [requested, msg] of rows) {
    await t.test(requested, () =>
      assertCniError(
        () => assign(r, held, me(requested), { gateway, skip: addressSet([ip("10.1.2.40").value]) }),
        7,
        msg,
      ),
    );
  }
  await t.test("an address of the other family", () =>
    assertCniError(
      () => assign(r, held, me("fd00::1")),
      7,
      /^requested address fd00::1 is outside the addresses range 10\.1\.2\.0\/24 hands out/,
    ),
  );
  await t.test("held by the same pod on another interface", () =>
    assertCniError(
      () => assign(r, held, me("10.1.2.30", { podRef: "db/other" })),
      7,
      /is held by db\/other \(net1\)/,
    ),
  );
});

test("requestedPerRange() gives each range at most one requested address, the first range holding it", () => {
  const dual = [rule("10.1.2.0/24"), rule("fd00::/64")];
  const fmt = (xs: (IP | undefined)[]) => xs.map((x) => (x === undefined ? undefined : formatIP(x)));
  assert.deepEqual(fmt(requestedPerRange(dual, [ip("fd00::3"), ip("10.1.2.3")], "runtimeConfig ips")), [
    "10.1.2.3",
    "fd00::3",
  ]);
  assert.deepEqual(fmt(requestedPerRange(dual, [ip("fd00::3")], "x")), [undefined, "fd00::3"]);
  assert.deepEqual(fmt(requestedPerRange(dual, [], "x")), [undefined, undefined]);
  // Two ranges over one prefix (say, two windows): one address each, in range order.
  const twice = [rule("10.1.2.0/24", { end: "10.1.2.99" }), rule("10.1.2.0/24", { start: "10.1.2.100" })];
  assert.deepEqual(fmt(requestedPerRange(twice, [ip("10.1.2.150"), ip("10.1.2.5")], "x")), [
    "10.1.2.150",
    "10.1.2.5",
  ]);
});

test("requestedPerRange() refuses an address outside every range and two in one range (code 7)", () => {
  const dual = [rule("10.1.2.0/24"), rule("fd00::/64")];
  assertCniError(
    () => requestedPerRange(dual, [ip("10.9.9.9")], "runtimeConfig ips"),
    7,
    "requested address 10.9.9.9 (runtimeConfig ips) is outside every range of this network (10.1.2.0/24, fd00::/64): request an address inside one of them",
  );
  assertCniError(
    () => requestedPerRange([], [ip("10.9.9.9")], "pod annotation thereabouts.io/ips"),
    7,
    "requested address 10.9.9.9 (pod annotation thereabouts.io/ips) is outside every range of this network (it has none): request an address inside one of them",
  );
  assertCniError(
    () => requestedPerRange(dual, [ip("10.1.2.3"), ip("fd00::1"), ip("10.1.2.4")], "runtimeConfig ips"),
    7,
    "requested addresses 10.1.2.3 and 10.1.2.4 (runtimeConfig ips) are both in range 10.1.2.0/24: one address is allocated per range, so request at most one per range",
  );
});

test("rule 3: the attachment's own address, found reserved by another range, is refused as such", () => {
  const mine: Allocation = { containerId: "c", podRef: "db/me", ifName: "eth0" };
  assertCniError(
    () =>
      assign(r, view(r, [["10.1.2.50", mine]]), me("10.1.2.50"), {
        skip: addressSet([ip("10.1.2.50").value]),
      }),
    7,
    "requested address 10.1.2.50 is reserved through an overlapping range of another network: request another address, or free it there first",
  );
});
