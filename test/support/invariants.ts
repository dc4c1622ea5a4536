// The invariant every concurrency test checks, whatever the store: no address is held by two
// live attachments, every reported address is recorded for the pod it was reported to, and
// (after DEL) nothing is left behind.
import assert from "node:assert/strict";
import { viewPool } from "../../src/allocator/pool-view.ts";
import { formatIP, parseCidr } from "../../src/ip/index.ts";
import type { Store } from "../../src/store/store.ts";

export interface Holding {
  readonly address: string; // ip text, no prefix
  readonly podRef: string;
}

/** Every stored entry as (address, podRef), across all pools of the store. */
export async function storedHoldings(store: Store): Promise<Holding[]> {
  const out: Holding[] = [];
  for (const pool of await store.listPools()) {
    const range = parseCidr(pool.range);
    assert.ok(range, `pool ${pool.name} has a readable range`);
    const view = viewPool(pool, { family: range.family, value: range.address });
    assert.deepEqual(view.unreadableKeys, [], `pool ${pool.name} has only readable keys`);
    for (const e of view.entries) out.push({ address: formatIP(e.address), podRef: e.allocation.podRef });
  }
  return out;
}

export async function assertNoDuplicates(store: Store, reported: readonly Holding[]): Promise<void> {
  const seen = new Map<string, string>();
  for (const r of reported) {
    const other = seen.get(r.address);
    assert.equal(other, undefined, `${r.address} reported to both ${other} and ${r.podRef}`);
    seen.set(r.address, r.podRef);
  }
  const stored = await storedHoldings(store);
  const byAddress = new Map<string, string>();
  const byPod = new Map<string, string>();
  for (const s of stored) {
    assert.equal(byAddress.get(s.address), undefined, `${s.address} stored twice`);
    byAddress.set(s.address, s.podRef);
    const prior = byPod.get(s.podRef);
    assert.equal(prior, undefined, `${s.podRef} holds both ${prior} and ${s.address}`);
    byPod.set(s.podRef, s.address);
  }
  for (const r of reported) {
    assert.equal(
      byAddress.get(r.address),
      r.podRef,
      `${r.address} reported to ${r.podRef} is recorded for it`,
    );
  }
}

export async function assertEmpty(store: Store): Promise<void> {
  assert.deepEqual(await storedHoldings(store), [], "no allocations left");
  assert.deepEqual(await store.listReservations(), [], "no reservations left");
}
