import assert from "node:assert/strict";
import { test } from "node:test";
import { formatCidr, formatIP, type IP, parseCidr } from "../ip/index.ts";
import type { Allocation, PoolSnapshot } from "../pool/allocation.ts";
import { partOf } from "../store/part-of.ts";
import type { PoolPartQuery } from "../store/store.ts";
import { type AssignOptions, assign, type Claimant, type Decision, type RangeRule } from "./assign.ts";
import { addressSet } from "./interval-set.ts";
import { assignOnPart, firstPart, mergeParts, type PartRead } from "./part-view.ts";
import { viewPool } from "./pool-view.ts";
import { rule } from "./test-support.ts";

/** A small seeded generator (mulberry32), so a failing case can be replayed from its seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const big = (lo: bigint, hi: bigint) => lo + (BigInt(int(2 ** 30)) * (hi - lo + 1n)) / 2n ** 30n;
  return { next, int, big, chance: (p: number) => next() < p };
}

type Outcome = { decision: Decision } | { error: string };

function outcome(f: () => Decision): Outcome {
  try {
    return { decision: f() };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

/**
 * The decision taken part by part, each part cut from the whole pool as a store cuts it. `stingy`:
 * every scan stops at the first block with a free offset, as if fewer were asked for, so that the
 * decision must read on and merge parts far more often than it does with what it asks for.
 */
function byParts(
  r: RangeRule,
  base: IP,
  pool: PoolSnapshot,
  claimant: Claimant,
  options: AssignOptions,
  stingy: boolean,
  counted: { reads: number },
): Decision {
  const read = (query: PoolPartQuery) =>
    partOf(pool, stingy && query.scan !== undefined ? { ...query, scan: { ...query.scan, free: 1 } } : query);
  counted.reads = 1;
  let part: PartRead = read(firstPart(r, base, claimant, options));
  for (;;) {
    const d = assignOnPart(r, base, part, claimant, options);
    if (d.kind !== "more") return d;
    counted.reads++;
    assert.ok(counted.reads < 10_000, "the parts make progress");
    part = mergeParts(part, read({ podRef: claimant.podRef, ifName: claimant.ifName, scan: d.scan }));
  }
}

const me: Claimant = { containerId: "mine", podRef: "default/me", ifName: "eth0" };
const OWNER = "statefulset/default/web/0";
const other = (n: number, owner?: string): Allocation => ({
  containerId: `c${n}`,
  podRef: `default/p${n}`,
  ifName: "eth0",
  ...(owner === undefined ? {} : { owner }),
});

const SHAPES = [
  "10.0.0.0/28",
  "10.0.0.0/24",
  "10.0.0.0/22",
  "10.0.0.0/20",
  "fd00::/120",
  "fd00::/116",
  // Offsets beyond 2^64: a window high in a /62.
  "2001:db8::/62",
];

function randomCase(seed: number) {
  const g = rng(seed);
  const range = parseCidr(SHAPES[g.int(SHAPES.length)]!)!;
  const bits = range.family === 4 ? 32 : 128;
  const size = 1n << BigInt(bits - range.prefix);
  const base: IP = { family: range.family, value: range.address };
  const huge = size > 1n << 20n;
  // Where the action is: the whole range when small, else a stretch of a few thousand offsets.
  const lo = huge ? g.big(1n, size - 5000n) : 1n;
  const hi = huge ? lo + 3000n : size - 2n;
  const at = (offset: bigint): IP => ({ family: range.family, value: base.value + offset });
  const text = (offset: bigint) => formatIP(at(offset));
  const options: Parameters<typeof rule>[1] = {};
  if (huge || g.chance(0.3)) options.start = text(huge ? lo : g.big(lo, hi));
  if (huge || g.chance(0.3)) options.end = text(huge ? hi : g.big(lo, hi));
  // A run from the window's start (blocks full, or full but for holes), then a sprinkle.
  const holes = g.chance(0.4) ? 0 : [0.01, 0.05, 0.2][g.int(3)]!;
  const run = BigInt(holes > 0 ? 3000 : g.int(g.chance(0.6) ? 3000 : 300));
  const runFrom = g.chance(0.3) ? lo - (lo % 256n) : lo;
  // Excludes anywhere, or over the run, where they hide its holes: free offsets a store counts
  // that the allocator cannot use, so that it reads on.
  const exclude: string[] = [];
  for (let i = g.int(4) + (holes > 0 ? g.int(6) : 0); i > 0; i--) {
    const prefix = bits - g.int(Math.min(9, bits - range.prefix));
    const where = g.chance(0.5) ? g.big(runFrom, runFrom + run) : g.big(lo, hi);
    exclude.push(formatCidr({ family: range.family, address: at(where).value, prefix }));
  }
  if (exclude.length > 0) options.exclude = exclude;
  const r = rule(formatCidr(range), options);

  const allocations = new Map<string, Allocation>();
  const put = (offset: bigint, a: Allocation, key = String(offset)) => {
    if (offset >= 0n && offset < size) allocations.set(key, a);
  };
  let n = 0;
  for (let o = runFrom; o < runFrom + run; o++) if (!g.chance(holes)) put(o, other(n++));
  for (let i = g.int(40); i > 0; i--) put(g.big(lo, hi), other(n++));
  // Legacy keys: two keys of one offset ("005" beside "5"), and keys that denote no address.
  for (let i = g.int(4); i > 0; i--) {
    const o = g.big(lo, hi);
    if (g.chance(0.5)) put(o, other(n++));
    put(o, other(n++), `00${o}`);
  }
  if (g.chance(0.3)) allocations.set("x1", other(n++));
  // The attachment's own entry, and its sticky owner's (another pod's).
  if (g.chance(0.2)) put(g.big(lo, hi), { ...me, containerId: "old" });
  const owner = g.chance(0.3) ? OWNER : undefined;
  if (owner !== undefined && g.chance(0.5)) put(g.big(lo, hi), other(n++, OWNER));

  const released = new Map<string, number>();
  const now = 1_000_000;
  const cooling = g.chance(0.3);
  if (cooling || g.chance(0.2))
    for (let i = g.int(60); i > 0; i--) released.set(String(g.big(lo, hi)), now - g.int(20_000));

  const claimant: Claimant = {
    ...me,
    ...(owner === undefined ? {} : { owner }),
    ...(g.chance(0.15) ? { requested: at(g.chance(0.8) ? g.big(lo, hi) : g.big(0n, size - 1n)) } : {}),
  };
  const skipped: bigint[] = [];
  for (let i = g.chance(0.3) ? g.int(5) : 0; i > 0; i--) skipped.push(at(g.big(lo, hi)).value);
  const assignOptions: AssignOptions = {
    ...(g.chance(0.3) ? { gateway: at(g.big(lo, hi)) } : {}),
    ...(skipped.length > 0 ? { skip: addressSet(skipped) } : {}),
    ...(g.chance(0.5) ? { spread: { among: [8, 32, 64][g.int(3)]!, random: g.next() } } : {}),
    ...(cooling ? { cooldown: { nowMs: now, seconds: 10 } } : {}),
  };
  const pool: PoolSnapshot = { name: "p", range: formatCidr(range), allocations, released, version: "1" };
  return { r, base, pool, claimant, assignOptions };
}

test("the part-based decision is the whole-pool decision (random pools, windows, excludes, gateway, skip, spread, requested, owners, cooldown)", () => {
  let parts = 0;
  let exhausted = 0;
  for (let seed = 1; seed <= 3000; seed++) {
    const { r, base, pool, claimant, assignOptions } = randomCase(seed);
    const whole = outcome(() => assign(r, viewPool(pool, base), claimant, assignOptions));
    const counted = { reads: 0 };
    const part = outcome(() => byParts(r, base, pool, claimant, assignOptions, seed % 2 === 0, counted));
    const { reads } = counted;
    assert.deepEqual(part, whole, `seed ${seed}`);
    if (reads > 1) parts++;
    if ("error" in whole && whole.error.includes("Could not allocate")) exhausted++;
  }
  // The cases reach both paths: reading further parts, and exhaustion.
  assert.ok(parts > 60, `${parts} cases read more than one part`);
  assert.ok(exhausted > 0, `${exhausted} cases exhausted`);
});

test("a part of a pool full from the window's start reads the full blocks as known, not their entries", () => {
  const r = rule("10.0.0.0/16");
  const base: IP = { family: 4, value: r.range.address };
  const allocations = new Map<string, Allocation>();
  for (let o = 0; o < 60_000; o++) allocations.set(String(o), other(o));
  const pool: PoolSnapshot = {
    name: "p",
    range: "10.0.0.0/16",
    allocations,
    released: new Map(),
    version: "1",
  };
  const first = partOf(pool, firstPart(r, base, me, {}));
  assert.ok(first.snapshot.allocations.size <= 256, `${first.snapshot.allocations.size} entries read`);
  const d = assignOnPart(r, base, first, me, {});
  assert.equal(d.kind, "new");
  assert.equal(d.kind === "new" && formatIP(d.address), "10.0.234.96");
  // One read up to the end of the first block with a free offset, however many blocks are full.
  assert.equal(first.scanned?.through, 235n * 256n - 1n);
  assert.deepEqual(first.full.intervals, [{ lo: 1n, hi: 234n * 256n - 1n }]);
});

test("an excluded stretch is jumped, not scanned block by block", () => {
  const r = rule("fd00::/64", { exclude: ["fd00::/72"] });
  const base: IP = { family: 6, value: r.range.address };
  const want = firstPart(r, base, me, {});
  assert.equal(want.scan?.from, 1n << 56n);
  const pool: PoolSnapshot = {
    name: "p",
    range: "fd00::/64",
    allocations: new Map(),
    released: new Map(),
    version: "1",
  };
  const d = assignOnPart(r, base, partOf(pool, want), me, {});
  assert.equal(d.kind === "new" && formatIP(d.address), "fd00::100:0:0:0");
});
