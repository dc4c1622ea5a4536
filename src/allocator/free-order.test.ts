// Rule 4 of assign(): the order free addresses are handed out in, with and without a reuse
// cooldown, checked against a brute-force reading of the rule on small random pools.
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatIP, parseIP } from "../ip/index.ts";
import type { Allocation } from "../pool/allocation.ts";
import { assign, type Decision, type RangeRule } from "./assign.ts";
import { addressSet } from "./interval-set.ts";
import { viewPool } from "./pool-view.ts";
import { rule, someone, view } from "./test-support.ts";

const me = { containerId: "c", podRef: "db/me", ifName: "eth0" };
const addr = (d: Decision) => formatIP(d.kind === "new" ? d.address : d.entry.address);
const NOW = Date.parse("2026-12-05T10:00:00.000Z");
const ago = (seconds: number) => NOW - seconds * 1000;
const cooldown = (seconds: number) => ({ cooldown: { nowMs: NOW, seconds } });

/** A small deterministic random source (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface Scene {
  readonly r: RangeRule;
  readonly held: Map<bigint, Allocation>;
  readonly released: Map<bigint, number>;
  readonly gateway: bigint;
  readonly skip: bigint[];
}

/** The rule read literally, one address at a time (small ranges only). */
function expectedOrder(s: Scene, seconds: number): bigint[] {
  const net = s.r.range.address;
  const free: bigint[] = [];
  for (let v = net + 1n; v < net + 31n; v++) {
    const excluded = s.r.exclude.intervals.some((iv) => iv.lo <= v && v <= iv.hi);
    if (!excluded && !s.held.has(v) && v !== s.gateway && !s.skip.includes(v)) free.push(v);
  }
  if (seconds === 0) return free;
  const unrecorded = free.filter((v) => !s.released.has(v));
  const recorded = free
    .filter((v) => s.released.has(v) && NOW - s.released.get(v)! >= seconds * 1000)
    .sort((a, b) => s.released.get(a)! - s.released.get(b)! || (a < b ? -1 : 1));
  return [...unrecorded, ...recorded];
}

function sceneView(s: Scene) {
  const base = s.r.range.address;
  return viewPool(
    {
      name: "p",
      range: "",
      allocations: new Map([...s.held].map(([v, a]) => [String(v - base), a])),
      released: new Map([...s.released].map(([v, at]) => [String(v - base), at])),
      version: "1",
    },
    { family: 4, value: base },
  );
}

function randomScene(next: () => number): Scene {
  const exclude = next() < 0.5 ? [] : [`10.0.0.${4 * Math.floor(next() * 7)}/30`];
  const r = rule("10.0.0.0/27", { exclude });
  const net = r.range.address;
  const held = new Map<bigint, Allocation>();
  const released = new Map<bigint, number>();
  const density = next(); // from empty to full: some scenes run out
  for (let v = net + 1n; v < net + 31n; v++) {
    if (next() < density) held.set(v, someone(Number(v - net)));
    // Release times in whole seconds, few distinct ones, so ties happen.
    if (next() < 0.5) released.set(v, ago(Math.floor(next() * 6) * 20));
  }
  const skip = next() < 0.3 ? [net + BigInt(1 + Math.floor(next() * 30))] : [];
  return { r, held, released, gateway: net + BigInt(1 + Math.floor(next() * 30)), skip };
}

test("with cooldown 0 (or none) the order is Whereabouts' lowest free, whatever is recorded (property)", () => {
  const next = random(12);
  for (let i = 0; i < 300; i++) {
    const s = randomScene(next);
    const v = sceneView(s);
    const want = expectedOrder(s, 0);
    const among = 1 + Math.floor(next() * 8);
    const rnd = next();
    const k = Math.min(Math.floor(rnd * among), want.length - 1);
    const options = { gateway: { family: 4 as const, value: s.gateway }, skip: addressSet(s.skip) };
    for (const extra of [{}, cooldown(0)]) {
      if (want.length === 0) {
        assert.throws(() => assign(s.r, v, me, { ...options, ...extra }), {
          code: 100,
          message: /^Could not allocate IP in range: .*\]$/,
        });
        continue;
      }
      const d = assign(s.r, v, me, { ...options, ...extra, spread: { among, random: rnd } });
      assert.equal(d.kind === "new" && d.address.value, want[k], `scene ${i}`);
    }
  }
});

test("with a cooldown: unrecorded lowest first, then the oldest release out of cooldown (property)", () => {
  const next = random(34);
  let cooled = 0;
  for (let i = 0; i < 300; i++) {
    const s = randomScene(next);
    const v = sceneView(s);
    const seconds = [1, 30, 60, 90][Math.floor(next() * 4)]!;
    const want = expectedOrder(s, seconds);
    const options = {
      gateway: { family: 4 as const, value: s.gateway },
      skip: addressSet(s.skip),
      ...cooldown(seconds),
    };
    if (want.length === 0) {
      // Free addresses all cooling: the message says so; none free at all: Go's text alone.
      const why = expectedOrder(s, 0).length > 0 ? /ago; the first is handed out again in/ : /\]$/;
      assert.throws(() => assign(s.r, v, me, options), { code: 100, message: why });
      if (expectedOrder(s, 0).length > 0) cooled++;
      continue;
    }
    for (let k = 0; k < want.length; k++) {
      const d = assign(s.r, v, me, {
        ...options,
        spread: { among: want.length, random: (k + 0.5) / want.length },
      });
      assert.equal(d.kind === "new" && d.address.value, want[k], `scene ${i}, k ${k}`);
    }
  }
  assert.ok(cooled > 0, "some scenes must have every free address cooling");
});

test("a cooldown orders reuse: never-released first, then oldest release, ties by address", () => {
  const r = rule("192.168.0.0/29"); // .1–.6
  const held: [string, Allocation][] = [
    ["192.168.0.1", someone(1)],
    ["192.168.0.5", someone(5)],
  ];
  const released: [string, number][] = [
    ["192.168.0.2", ago(100)],
    ["192.168.0.3", ago(300)],
    ["192.168.0.4", ago(300)],
    ["192.168.0.5", ago(999)], // held again: its record means nothing
  ];
  const v = view(r, held, released);
  assert.equal(addr(assign(r, v, me, cooldown(60))), "192.168.0.6");
  assert.equal(addr(assign(r, v, me)), "192.168.0.2", "no cooldown: lowest free");
  const full = view(r, [...held, ["192.168.0.6", someone(6)]], released);
  assert.equal(addr(assign(r, full, me, cooldown(60))), "192.168.0.3");
  // .2 cools for 100 s more under a 200 s cooldown; .3 and .4 (300 s ago) are out of it.
  const order = [0, 1, 2].map((k) =>
    addr(assign(r, full, me, { ...cooldown(200), spread: { among: 3, random: (k + 0.5) / 3 } })),
  );
  assert.deepEqual(order, ["192.168.0.3", "192.168.0.4", "192.168.0.4"]);
  // Exactly the cooldown ago: out of it.
  assert.equal(
    addr(
      assign(r, view(r, held, [["192.168.0.2", ago(60)]]), me, {
        ...cooldown(60),
        skip: addressSet([3n, 4n, 6n].map((x) => x + r.range.address)),
      }),
    ),
    "192.168.0.2",
  );
});

test("every free address cooling: exhausted (code 100), saying how many and when the first frees", () => {
  const r = rule("192.168.0.0/29", { exclude: ["192.168.0.4/30"] }); // .1–.3 usable
  const v = view(
    r,
    [["192.168.0.1", someone(1)]],
    [
      ["192.168.0.2", ago(10)],
      ["192.168.0.3", ago(45)],
    ],
  );
  const go =
    "Could not allocate IP in range: ip: 192.168.0.1 / - 192.168.0.6 / range: 192.168.0.0/29 / excludeRanges: [192.168.0.4/30]";
  assert.throws(() => assign(r, v, me, cooldown(60)), {
    code: 100,
    message: `${go}: 2 free addresses were released less than reuse_cooldown_seconds (60) ago; the first is handed out again in 15 s (at 2026-12-05T10:00:15.000Z)`,
  });
  const one = view(
    r,
    [
      ["192.168.0.1", someone(1)],
      ["192.168.0.2", someone(2)],
    ],
    [["192.168.0.3", ago(0.5)]],
  );
  assert.throws(() => assign(r, one, me, cooldown(1)), {
    message: `${go}: 1 free address was released less than reuse_cooldown_seconds (1) ago; the first is handed out again in 1 s (at 2026-12-05T10:00:00.500Z)`,
  });
  // Nothing free at all: Go's text alone, cooldown or not.
  const taken = view(
    r,
    [1, 2, 3].map((n) => [`192.168.0.${n}`, someone(n)] as [string, Allocation]),
    [["192.168.0.2", ago(1)]],
  );
  assert.throws(() => assign(r, taken, me, cooldown(60)), { code: 100, message: go });
  // A record from a clock ahead of ours cools until its own time plus the cooldown.
  const ahead = view(
    r,
    [
      ["192.168.0.1", someone(1)],
      ["192.168.0.2", someone(2)],
    ],
    [["192.168.0.3", NOW + 30_000]],
  );
  assert.throws(() => assign(r, ahead, me, cooldown(60)), { message: /handed out again in 90 s/ });
});

test("a sequence of ADDs and DELs under a cooldown never hands out an address twice or too soon (property)", () => {
  const next = random(56);
  const r = rule("10.0.0.0/27");
  const base = r.range.address;
  const seconds = 30;
  const held = new Map<bigint, Allocation>();
  const released = new Map<bigint, number>();
  const releasedAt = new Map<bigint, number>();
  let now = NOW;
  let exhausted = 0;
  for (let step = 0; step < 2000; step++) {
    now += Math.floor(next() * 4000);
    if (held.size > 0 && next() < 0.45) {
      const victims = [...held.keys()];
      const v = victims[Math.floor(next() * victims.length)]!;
      held.delete(v);
      released.set(v, now);
      releasedAt.set(v, now);
      continue;
    }
    const pool = viewPool(
      {
        name: "p",
        range: "",
        allocations: new Map([...held].map(([v, a]) => [String(v - base), a])),
        released: new Map([...released].map(([v, at]) => [String(v - base), at])),
        version: "1",
      },
      { family: 4, value: base },
    );
    let d: Decision;
    try {
      d = assign(r, pool, { ...me, podRef: `db/p${step}` }, { cooldown: { nowMs: now, seconds } });
    } catch (error) {
      assert.match(String(error), /^ExhaustedError: Could not allocate IP in range/);
      exhausted++;
      continue;
    }
    assert.equal(d.kind, "new");
    const value = d.kind === "new" ? d.address.value : 0n;
    assert.ok(
      !held.has(value),
      `step ${step}: ${formatIP(d.kind === "new" ? d.address : parseIP("0.0.0.0")!)} handed out twice`,
    );
    const last = releasedAt.get(value);
    assert.ok(
      last === undefined || now - last >= seconds * 1000,
      `step ${step}: reused after ${now - last!} ms`,
    );
    held.set(value, someone(step));
    released.delete(value); // the writer forgets a record when it creates an entry there
  }
  assert.ok(exhausted > 0 && exhausted < 1000, `exhausted ${exhausted} times`);
});

test("assign() with a cooldown stays fast: a /8 with 100k entries and 1,024 release records", () => {
  const r8 = rule("10.0.0.0/8");
  const base = r8.range.address;
  const held = new Map<string, Allocation>();
  for (let i = 1; i <= 100_000; i++) held.set(String(i), someone(i));
  const released = new Map<string, number>();
  for (let i = 0; i < 1024; i++) released.set(String(200_000 + i), ago(10));
  const big = viewPool(
    { name: "big", range: "", allocations: held, released, version: "1" },
    { family: 4, value: base },
  );
  const t0 = performance.now();
  for (let i = 0; i < 100; i++) assign(r8, big, me, cooldown(60));
  const perDecision = (performance.now() - t0) / 100;
  assert.equal(addr(assign(r8, big, me, cooldown(60))), "10.1.134.161");
  assert.ok(perDecision < 0.5, `${perDecision} ms per decision`);
});
