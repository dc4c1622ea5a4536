// The allocation decision on part of a pool (a store's getPoolPart, store.ts), taking exactly the
// decision assign() takes on the whole pool. A part knows the attachment's and its owner's
// entries, those at requested offsets, and the scanned offsets: there, what is taken is the
// entries returned and the blocks known full. Outside, nothing is known, so a new address is
// chosen only when every candidate of the window below it (and below the k-th one, with spread)
// lies in the scanned offsets, and "exhausted" is said only when no candidate lies outside them.
// Otherwise the decision is "read more": the next scan, from the first candidate past the scanned
// offsets, for as many free offsets as are still missing. Offsets are counted from `base`, the IP
// written in the pool's stored range; the caller reads parts only of pools whose base is the
// network of the configured range, so that offsets of the window never wrap.
import type { IP } from "../ip/index.ts";
import type { PoolSnapshot } from "../pool/allocation.ts";
import {
  type AssignOptions,
  assign,
  type Claimant,
  candidatesOf,
  type Decision,
  heldEntry,
  keepsHeld,
  type RangeRule,
  spreadIndex,
} from "./assign.ts";
import { lowestFree } from "./free-order.ts";
import { coveringEnd, type Interval, type IntervalSet, intervalSet, overlapCount } from "./interval-set.ts";
import { type PoolView, viewPool } from "./pool-view.ts";
import { candidateWindow } from "./window.ts";

/** A part as read (the shape of the store's PoolPart), offsets counted from the pool's base. */
export interface PartRead {
  readonly snapshot: PoolSnapshot;
  readonly scanned?: { readonly from: bigint; readonly through: bigint } | undefined;
  readonly full: IntervalSet;
}

/** A scan to read, in offsets (the store's PartScan). */
export interface ScanWant {
  readonly from: bigint;
  readonly to: bigint;
  readonly free: number;
}

/** What to read first (the store's PoolPartQuery). */
export interface PartWant {
  readonly podRef: string;
  readonly ifName: string;
  readonly owner?: string;
  readonly points: readonly bigint[];
  readonly scan?: ScanWant;
}

export type PartDecision = Decision | { readonly kind: "more"; readonly scan: ScanWant };

/** The part an ADD reads first: its lookups, the requested offset, or a scan from the first candidate. */
export function firstPart(rule: RangeRule, base: IP, claimant: Claimant, options: AssignOptions): PartWant {
  const lookups = {
    podRef: claimant.podRef,
    ifName: claimant.ifName,
    ...(claimant.owner === undefined ? {} : { owner: claimant.owner }),
  };
  // A requested address is judged on its own entry: nothing else of the window matters.
  if (claimant.requested !== undefined)
    return { ...lookups, points: [claimant.requested.value - base.value] };
  const window = candidateWindow(rule.range, rule.start, rule.end);
  const scan = scanFrom(rule, base, window.first, window.last, spreadIndex(options) + 1, options, []);
  return { ...lookups, points: [], ...(scan === undefined ? {} : { scan }) };
}

/**
 * assign()'s decision on `part` (the parts read so far, merged: mergeParts), or the next scan to
 * read when the part does not hold enough of the window to take it.
 */
export function assignOnPart(
  rule: RangeRule,
  base: IP,
  part: PartRead,
  claimant: Claimant,
  options: AssignOptions,
): PartDecision {
  const known = viewPart(part, base);
  // Rules 1 to 3 need no more than the lookups and the requested offset.
  if (claimant.requested !== undefined) return assign(rule, known, claimant, options);
  const window = candidateWindow(rule.range, rule.start, rule.end);
  const scanned = part.scanned === undefined ? undefined : shifted(part.scanned, base);
  const unknown = outside(window, scanned);
  // What is not scanned is blocked, so the order walks only known offsets.
  const blocked: PoolView = { ...known, taken: intervalSet([...known.taken.intervals, ...unknown]) };
  const held = heldEntry(known, claimant, options.skip);
  if (keepsHeld(held, claimant)) return assign(rule, blocked, claimant, options);
  const next = firstCandidate(rule, { lo: window.first, hi: window.last }, unknown, options);
  if (next === undefined) return assign(rule, blocked, claimant, options);
  if (scanned === undefined || next < scanned.lo)
    throw new RangeError("a part must be scanned from the first candidate of the window (firstPart)");
  // The never-released addresses come first with a cooldown, lowest first, as without one.
  const cooling = options.cooldown !== undefined && options.cooldown.seconds > 0;
  const wanted = spreadIndex(options) + 1;
  let seen = 0;
  for (const _ of lowestFree(candidatesOf(rule, blocked, options), cooling ? known.recorded : undefined))
    if (++seen >= wanted) return assign(rule, blocked, claimant, options);
  return {
    kind: "more",
    scan: scanFrom(rule, base, next, window.last, wanted - seen, options, known.releases)!,
  };
}

/** The parts read one after the other, `later` scanned from past `earlier`'s scanned offsets. */
export function mergeParts(earlier: PartRead, later: PartRead): PartRead {
  const a = earlier.scanned;
  const b = later.scanned;
  if (a === undefined || b === undefined || b.from <= a.through)
    throw new RangeError("merged parts must be scanned one after the other");
  const allocations = new Map(earlier.snapshot.allocations);
  for (const [key, allocation] of later.snapshot.allocations) allocations.set(key, allocation);
  return {
    // The later read's records, range and version: the latest known.
    snapshot: { ...later.snapshot, allocations },
    // Offsets between the two scans are non-candidates (firstCandidate skipped them).
    scanned: { from: a.from, through: b.through },
    full: intervalSet([...earlier.full.intervals, ...later.full.intervals]),
  };
}

/** The part's entries as a pool view, the blocks known full taken too. */
function viewPart(part: PartRead, base: IP): PoolView {
  const view = viewPool(part.snapshot, base, base.family);
  if (part.full.intervals.length === 0) return view;
  const full = part.full.intervals.map((iv) => shifted({ from: iv.lo, through: iv.hi }, base));
  return { ...view, taken: intervalSet([...view.taken.intervals, ...full]) };
}

function shifted(offsets: { from: bigint; through: bigint }, base: IP): Interval {
  return { lo: base.value + offsets.from, hi: base.value + offsets.through };
}

/** The window's addresses outside the scanned ones. */
function outside(window: { first: bigint; last: bigint }, scanned: Interval | undefined): Interval[] {
  if (scanned === undefined) return [{ lo: window.first, hi: window.last }];
  const out: Interval[] = [];
  if (scanned.lo > window.first) out.push({ lo: window.first, hi: scanned.lo - 1n });
  if (scanned.hi < window.last) out.push({ lo: scanned.hi + 1n, hi: window.last });
  return out;
}

/** The lowest address of `within` ∩ `among` that is not excluded, skipped or the gateway. */
function firstCandidate(
  rule: RangeRule,
  within: Interval,
  among: readonly Interval[],
  options: AssignOptions,
): bigint | undefined {
  const gateway = options.gateway?.family === rule.range.family ? options.gateway.value : undefined;
  const blockers = options.skip === undefined ? [rule.exclude] : [rule.exclude, options.skip];
  for (const iv of among) {
    const lo = iv.lo > within.lo ? iv.lo : within.lo;
    const hi = iv.hi < within.hi ? iv.hi : within.hi;
    if (lo > hi) continue;
    for (const value of lowestFree({ window: { first: lo, last: hi }, blockers, gateway })) return value;
  }
  return undefined;
}

/**
 * A scan from the first candidate at or after `first`, for `wanted` usable offsets: a store counts
 * every offset without an entry as free, so the gateway, skipped addresses and (cooling) recorded
 * ones ahead are asked for on top. Undefined when no candidate is left.
 */
function scanFrom(
  rule: RangeRule,
  base: IP,
  first: bigint,
  last: bigint,
  wanted: number,
  options: AssignOptions,
  releases: readonly { readonly value: bigint }[],
): ScanWant | undefined {
  const from = firstCandidate(rule, { lo: first, hi: last }, [{ lo: first, hi: last }], options);
  if (from === undefined) return undefined;
  const ahead = (value: bigint) => value >= from && value <= last;
  let extra = options.gateway !== undefined && ahead(options.gateway.value) ? 1 : 0;
  const skipped = options.skip?.intervals ?? [];
  extra += Number(overlapCount({ intervals: skipped }, { intervals: [{ lo: from, hi: last }] }));
  const cooling = options.cooldown !== undefined && options.cooldown.seconds > 0;
  if (cooling)
    for (const r of releases) if (ahead(r.value) && coveringEnd(rule.exclude, r.value) === undefined) extra++;
  return { from: from - base.value, to: last - base.value, free: wanted + extra };
}
