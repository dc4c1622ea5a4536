// A part of a pool (Store.parts) cut from the whole pool as read: the contract's answer in its
// plainest form, for a store that holds pools whole (the memory store) and as the reference the
// allocator's part-based decision is tested against. Pure; O(entries) per call.
import { coveringEnd, type Interval, intervalSet } from "../allocator/interval-set.ts";
import type { Allocation, PoolSnapshot } from "../pool/allocation.ts";
import { BLOCK_SIZE, baseOfRange, blockOf, blockWithin, offsetOfKey } from "../pool/blocks.ts";
import type { PoolPart, PoolPartQuery } from "./store.ts";

export function partOf(pool: PoolSnapshot, query: PoolPartQuery): PoolPart {
  const base = pool.version === undefined ? undefined : baseOfRange(pool.range);
  const scan = query.scan;
  if (base === undefined) {
    // Nothing to count offsets from: a missing pool (empty), or a range that is no CIDR (the
    // whole pool, for the caller to refuse as it refuses it on a whole read).
    const scanned = scan === undefined ? undefined : { from: scan.from, through: scan.to };
    return { snapshot: pool, ...(scanned === undefined ? {} : { scanned }), full: { intervals: [] } };
  }
  const offsets = new Map<string, bigint>();
  const byBlock = new Map<bigint, Set<bigint>>();
  for (const key of pool.allocations.keys()) {
    const offset = offsetOfKey(base, key);
    if (offset === undefined) continue;
    offsets.set(key, offset);
    const block = blockOf(offset);
    const held = byBlock.get(block) ?? new Set<bigint>();
    byBlock.set(block, held.add(offset));
  }
  const points = new Set(query.points ?? []);
  const looked = (a: Allocation) =>
    a.ifName === query.ifName &&
    (a.podRef === query.podRef || (query.owner !== undefined && a.owner === query.owner));
  const wanted = new Set<string>();
  for (const [key, allocation] of pool.allocations) {
    const offset = offsets.get(key);
    if (looked(allocation) || (offset !== undefined && points.has(offset))) wanted.add(key);
  }
  let scanned: { from: bigint; through: bigint } | undefined;
  const full: Interval[] = [];
  if (scan !== undefined) {
    const read: Interval[] = [];
    let free = 0n;
    let through = scan.from - 1n;
    for (let block = blockOf(scan.from); through < scan.to && free < BigInt(scan.free); block++) {
      const { lo, hi } = blockWithin(block, scan.from, scan.to);
      const held = byBlock.get(block) ?? new Set<bigint>();
      if (BigInt(held.size) === BLOCK_SIZE) full.push({ lo, hi });
      else {
        read.push({ lo, hi });
        let inside = 0n;
        for (const offset of held) if (offset >= lo && offset <= hi) inside++;
        free += hi - lo + 1n - inside;
      }
      through = hi;
    }
    scanned = { from: scan.from, through };
    const inRead = intervalSet(read);
    for (const [key, offset] of offsets) if (coveringEnd(inRead, offset) !== undefined) wanted.add(key);
  }
  const allocations = new Map([...pool.allocations].filter(([key]) => wanted.has(key)));
  return {
    snapshot: { ...pool, allocations },
    ...(scanned === undefined ? {} : { scanned }),
    full: intervalSet(full),
  };
}
