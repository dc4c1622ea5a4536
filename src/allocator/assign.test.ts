import assert from "node:assert/strict";
import { test } from "node:test";
import { formatIP, parseIP } from "../ip/index.ts";
import { assign, type Decision } from "./assign.ts";
import { addressSet } from "./interval-set.ts";
import { viewPool } from "./pool-view.ts";
import { rule, someone, view } from "./test-support.ts";

const me = { containerId: "abc", podRef: "default/me", ifName: "eth0" };
const addr = (d: Decision) => formatIP(d.kind === "new" ? d.address : d.entry.address);
const taken = (...ips: string[]) =>
  ips.map((ip, i) => [ip, someone(i)] as [string, ReturnType<typeof someone>]);

test("assign() picks the lowest free address (A.2)", async (t) => {
  const rows: [string, Parameters<typeof rule>[1], string[], string][] = [
    ["192.168.1.0/24", {}, [], "192.168.1.1"], // A1
    ["caa5::/112", {}, [], "caa5::1"], // A2
    ["::/126", {}, [], "::1"], // A3
    ["fd::/116", {}, [], "fd::1"], // A4
    ["100::2:0/126", {}, [], "100::2:1"], // A5
    ["192.168.0.0/29", { exclude: ["192.168.0.0/30"] }, [], "192.168.0.4"], // A6
    ["192.168.0.0/29", { exclude: ["192.168.0.1"] }, [], "192.168.0.2"], // A7
    ["100::2:0/125", { exclude: ["100::2:1/126"] }, [], "100::2:4"], // A9
    ["100::2:0/125", { exclude: ["100::2:1"] }, [], "100::2:2"], // A10
    ["2001:db8::/30", { exclude: ["2001:db8::/32"] }, [], "2001:db9::"], // A12: an x::0 host is allocatable
    [
      "192.168.0.0/28",
      { exclude: ["192.168.0.0/30", "192.168.0.6/31", "192.168.0.8/31", "192.168.0.4/30"] },
      [],
      "192.168.0.10",
    ], // A13
    [
      "192.168.0.0/28",
      {
        exclude: ["192.168.0.0/30", "192.168.0.6/31", "192.168.0.8/31", "192.168.0.4/30", "192.168.0.14/31"],
      },
      [],
      "192.168.0.10",
    ],
    ["192.168.0.0/29", { start: "192.168.0.0" }, [], "192.168.0.1"], // A17
    ["192.168.0.0/29", { start: "192.168.0.0", end: "192.168.0.8" }, [], "192.168.0.1"], // A18
    ["192.168.0.0/28", { start: "192.168.0.1", end: "192.168.0.6" }, [], "192.168.0.1"], // A20
    [
      "192.168.0.0/28",
      { start: "192.168.0.1", end: "192.168.0.6" },
      ["192.168.0.1", "192.168.0.2", "192.168.0.3"],
      "192.168.0.4",
    ], // A21
    [
      "192.168.0.0/28",
      { start: "192.168.0.1", end: "192.168.0.6" },
      ["192.168.0.1", "192.168.0.2", "192.168.0.5"],
      "192.168.0.3",
    ], // A22
    ["192.168.1.0/24", { exclude: ["192.168.1.0/28", "192.168.1.16/28"] }, [], "192.168.1.32"], // E8
    ["2001::1/116", { exclude: ["2001::0/128", "2001::1/128", "2001::2/128"] }, [], "2001::3"], // E9
    ["caa5::0/112", { exclude: ["caa5::0/113"] }, [], "caa5::8000"], // E10
    ["192.168.1.0/24", { start: "192.168.1.5" }, [], "192.168.1.5"], // E16
  ];
  for (const [range, options, held, want] of rows) {
    await t.test(`${range} ${JSON.stringify(options)} taken=${held.length}`, () => {
      const r = rule(range, options);
      assert.equal(addr(assign(r, view(r, taken(...held)), me)), want);
    });
  }
});

test("assign() reports exhaustion with Go's AssignmentError text (A.2 A14–A16, A19)", async (t) => {
  const rows: [string, Parameters<typeof rule>[1], string[]][] = [
    ["192.168.0.0/29", { exclude: ["192.168.0.0/30"] }, ["192.168.0.4", "192.168.0.5", "192.168.0.6"]],
    ["192.168.0.0/29", { exclude: ["192.168.0.4/30"] }, ["192.168.0.1", "192.168.0.2", "192.168.0.3"]],
    ["100::2:0/125", { exclude: ["100::2:4/126"] }, ["100::2:1", "100::2:2", "100::2:3"]],
    [
      "192.168.0.0/28",
      { start: "192.168.0.1", end: "192.168.0.6", exclude: ["192.168.0.4/30"] },
      ["192.168.0.1", "192.168.0.2", "192.168.0.3"],
    ],
  ];
  for (const [range, options, held] of rows) {
    await t.test(range, () => {
      const r = rule(range, options);
      assert.throws(
        () => assign(r, view(r, taken(...held)), me),
        (e: Error & { code?: number }) => {
          assert.match(
            e.message,
            /^Could not allocate IP in range: ip: \S+ \/ - \S+ \/ range: \S+ \/ excludeRanges: \[.*\]$/,
          );
          assert.equal(e.code, 100);
          return true;
        },
      );
    });
  }
  const r = rule("192.168.0.0/29", { exclude: ["192.168.0.4/30"] });
  assert.throws(() => assign(r, view(r, taken("192.168.0.1", "192.168.0.2", "192.168.0.3")), me), {
    message:
      "Could not allocate IP in range: ip: 192.168.0.1 / - 192.168.0.6 / range: 192.168.0.0/29 / excludeRanges: [192.168.0.4/30]",
  });
});

test("assign() never hands out the gateway", () => {
  const r = rule("192.168.1.0/24");
  const d = assign(r, view(r), me, { gateway: parseIP("192.168.1.1")! });
  assert.equal(addr(d), "192.168.1.2");
  const v6 = rule("2001:db8::/64");
  assert.equal(addr(assign(v6, view(v6), me, { gateway: parseIP("192.168.1.1")! })), "2001:db8::1");
});

test("assign() returns the held address for the same podRef and interface (idempotency)", () => {
  const r = rule("192.168.1.0/24");
  const v = view(r, [["192.168.1.7", { containerId: "old", podRef: "default/me", ifName: "eth0" }]]);
  const d = assign(r, v, me);
  assert.equal(d.kind, "existing");
  assert.equal(addr(d), "192.168.1.7");
  assert.deepEqual(d.kind === "existing" && d.updated, {
    containerId: "abc",
    podRef: "default/me",
    ifName: "eth0",
  });
  // Another interface of the same pod, or a legacy entry without ifname, is not a match.
  assert.equal(addr(assign(r, v, { ...me, ifName: "net1" })), "192.168.1.1");
  const legacy = view(r, [["192.168.1.7", { containerId: "abc", podRef: "default/me", ifName: "" }]]);
  assert.equal(assign(r, legacy, me).kind, "new");
});

test("assign() skips addresses reserved elsewhere and gives up a held one that is", () => {
  const r = rule("192.168.1.0/24");
  assert.equal(
    addr(assign(r, view(r), me, { skip: addressSet([parseIP("192.168.1.1")!.value]) })),
    "192.168.1.2",
  );
  const v = view(r, [["192.168.1.1", { containerId: "abc", podRef: "default/me", ifName: "eth0" }]]);
  const d = assign(r, v, me, { skip: addressSet([parseIP("192.168.1.1")!.value]) });
  assert.equal(d.kind, "new");
  assert.equal(addr(d), "192.168.1.2");
});

test("assign() reaches every address of a /64, also past the first /65", () => {
  const r = rule("2001:db8::/64", { start: "2001:db8::ffff:ffff:ffff:fff0" });
  assert.equal(addr(assign(r, view(r), me)), "2001:db8::ffff:ffff:ffff:fff0");
  const excluded = rule("2001:db8::/64", { exclude: ["2001:db8::/65"] });
  assert.equal(addr(assign(excluded, view(excluded), me)), "2001:db8:0:0:8000::");
  const wide = rule("2001:db8::/32", { start: "2001:db8:ffff:ffff:ffff:ffff:ffff:fff0" });
  assert.equal(addr(assign(wide, view(wide), me)), "2001:db8:ffff:ffff:ffff:ffff:ffff:fff0");
});

test("assign() cost does not grow with range or excluded size", () => {
  // A /8 with 100k allocations (one contiguous block plus scattered holes filled), and a /64
  // with a /65 excluded: each decision must stay well under a millisecond.
  const r8 = rule("10.0.0.0/8");
  const base = r8.range.address;
  const held = new Map<string, ReturnType<typeof someone>>();
  for (let i = 1; i <= 100_000; i++) held.set(String(i), someone(i));
  const big = viewPool(
    { name: "big", range: "", allocations: held, released: new Map(), version: "1" },
    { family: 4, value: base },
  );
  const timeIt = (fn: () => unknown) => {
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) fn();
    return (performance.now() - t0) / 100;
  };
  const perDecision8 = timeIt(() => assign(r8, big, me));
  assert.equal(addr(assign(r8, big, me)), "10.1.134.161");
  const r64 = rule("2001:db8::/64", { exclude: ["2001:db8::/65"] });
  const v64 = view(r64);
  const perDecision64 = timeIt(() => assign(r64, v64, me));
  assert.ok(perDecision8 < 0.5, `/8 with 100k allocations took ${perDecision8} ms per decision`);
  assert.ok(perDecision64 < 0.5, `/64 with a /65 excluded took ${perDecision64} ms per decision`);
});

test("assign() fans out over the lowest free addresses after a lost race", () => {
  const r = rule("192.168.1.0/24");
  const v = view(r, taken("192.168.1.2"));
  const pick = (random: number, among: number) => addr(assign(r, v, me, { spread: { among, random } }));
  assert.equal(pick(0, 4), "192.168.1.1");
  assert.equal(pick(0.3, 4), "192.168.1.3"); // k = 1: .2 is taken, so the second free one
  assert.equal(pick(0.99, 4), "192.168.1.5"); // k = 3
  const tiny = rule("192.168.1.0/29", { exclude: ["192.168.1.4/30"] });
  // Only .1–.3 are free: a spread past the end takes the highest free address.
  assert.equal(addr(assign(tiny, view(tiny), me, { spread: { among: 64, random: 0.99 } })), "192.168.1.3");
});
