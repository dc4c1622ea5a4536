// A set of addresses as sorted, disjoint, non-adjacent closed intervals. Lookups are binary
// searches, so cost depends on the number of intervals, never on how many addresses they span
// (a /65 exclude inside a /64 costs the same as a /32 exclude).

export interface Interval {
  readonly lo: bigint;
  readonly hi: bigint;
}

export interface IntervalSet {
  readonly intervals: readonly Interval[];
}

/** Builds the canonical set from intervals in any order, overlapping or adjacent. */
export function intervalSet(input: Iterable<Interval>): IntervalSet {
  const sorted = [...input].sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  const out: Interval[] = [];
  for (const next of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && next.lo <= last.hi + 1n) {
      if (next.hi > last.hi) out[out.length - 1] = { lo: last.lo, hi: next.hi };
    } else {
      out.push(next);
    }
  }
  return { intervals: out };
}

/** Builds a set of single addresses; cheap when `values` is already sorted (as stores return it). */
export function addressSet(values: readonly bigint[]): IntervalSet {
  let sorted = true;
  for (let i = 1; i < values.length && sorted; i++) sorted = values[i - 1]! < values[i]!;
  const ordered = sorted ? values : [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: Interval[] = [];
  for (const v of ordered) {
    const last = out[out.length - 1];
    if (last !== undefined && v <= last.hi + 1n) {
      if (v > last.hi) out[out.length - 1] = { lo: last.lo, hi: v };
    } else {
      out.push({ lo: v, hi: v });
    }
  }
  return { intervals: out };
}

/** The last address of the interval containing `value`, or undefined when `value` is not in the set. */
export function coveringEnd(set: IntervalSet, value: bigint): bigint | undefined {
  const list = set.intervals;
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const iv = list[mid]!;
    if (value < iv.lo) hi = mid - 1;
    else if (value > iv.hi) lo = mid + 1;
    else return iv.hi;
  }
  return undefined;
}

/** How many addresses the set holds (a bigint: an IPv6 set can hold 2^128). */
export function countOf(set: IntervalSet): bigint {
  let n = 0n;
  for (const iv of set.intervals) n += iv.hi - iv.lo + 1n;
  return n;
}

/** The addresses of `set` that are not in `removed`; one pass over both sorted lists. */
export function without(set: IntervalSet, removed: IntervalSet): IntervalSet {
  const out: Interval[] = [];
  const cuts = removed.intervals;
  let j = 0;
  for (const iv of set.intervals) {
    let lo = iv.lo;
    while (j < cuts.length && cuts[j]!.hi < lo) j++;
    for (let k = j; k < cuts.length && cuts[k]!.lo <= iv.hi && lo <= iv.hi; k++) {
      const cut = cuts[k]!;
      if (cut.lo > lo) out.push({ lo, hi: cut.lo - 1n });
      lo = cut.hi + 1n;
    }
    if (lo <= iv.hi) out.push({ lo, hi: iv.hi });
  }
  return { intervals: out };
}

/** How many addresses both sets hold; one pass over both sorted lists. */
export function overlapCount(a: IntervalSet, b: IntervalSet): bigint {
  let n = 0n;
  let i = 0;
  let j = 0;
  const x = a.intervals;
  const y = b.intervals;
  while (i < x.length && j < y.length) {
    const lo = x[i]!.lo > y[j]!.lo ? x[i]!.lo : y[j]!.lo;
    const hi = x[i]!.hi < y[j]!.hi ? x[i]!.hi : y[j]!.hi;
    if (lo <= hi) n += hi - lo + 1n;
    if (x[i]!.hi < y[j]!.hi) i++;
    else j++;
  }
  return n;
}
