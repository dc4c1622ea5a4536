// Builders shared by allocator tests: a pool view from addresses, a rule from text.
import { broadcastOf, type Cidr, masked, networkOf, parseCidr, parseIP } from "../ip/index.ts";
import type { Allocation } from "../pool/allocation.ts";
import type { RangeRule } from "./assign.ts";
import { intervalSet } from "./interval-set.ts";
import { type PoolView, viewPool } from "./pool-view.ts";

export function rule(
  range: string,
  options: { start?: string; end?: string; exclude?: string[] } = {},
): RangeRule {
  const cidr = masked(parseCidr(range)!);
  const exclude = (options.exclude ?? []).map((e) => {
    const c: Cidr = parseCidr(e.includes("/") ? e : `${e}/${cidr.family === 4 ? 32 : 128}`)!;
    return { lo: networkOf(c), hi: broadcastOf(c) };
  });
  return {
    range: cidr,
    ...(options.start === undefined ? {} : { start: parseIP(options.start)!.value }),
    ...(options.end === undefined ? {} : { end: parseIP(options.end)!.value }),
    exclude: intervalSet(exclude),
    excludeText: options.exclude ?? [],
  };
}

/** A pool view of `held` entries and `released` records (address → ms since the epoch). */
export function view(
  r: RangeRule,
  held: readonly [address: string, allocation: Allocation][] = [],
  released: readonly [address: string, atMs: number][] = [],
): PoolView {
  const base = r.range.address;
  const key = (a: string) => String(parseIP(a)!.value - base);
  const allocations = new Map(held.map(([a, alloc]) => [key(a), alloc]));
  return viewPool(
    {
      name: "test",
      range: "",
      allocations,
      released: new Map(released.map(([a, at]) => [key(a), at])),
      version: "1",
    },
    { family: r.range.family, value: base },
  );
}

export const someone = (n: number): Allocation => ({
  containerId: `c${n}`,
  podRef: `default/pod${n}`,
  ifName: "eth0",
});
