// What an in-memory store holds, with the Store contract's rules for changing it: every change
// applied whole or not at all (as local and etcd do), preconditions checked entries first, the
// reservations of owners in `dropOwners` all dropped (as local does). Synchronous, so a test's
// "concurrent writer" can change it between any two steps of the code under test.
import {
  type Allocation,
  ownsReservation,
  type PoolSnapshot,
  type Reservation,
} from "../../pool/allocation.ts";
import type { NodeSlicePool } from "../../pool/node-slices.ts";
import {
  type CommitResult,
  checkChange,
  emptyPool,
  heldAsRecorded,
  mayReserve,
  type Owner,
  type PoolChange,
  recordReleases,
  reserved,
  sameAllocation,
  sameOwner,
} from "../store.ts";

interface StoredPool {
  readonly range: string;
  /** Replaced, never changed in place: a snapshot handed out stays as it was read. */
  readonly entries: ReadonlyMap<string, Allocation>;
  readonly released: ReadonlyMap<string, number>;
  readonly version: string;
}

const byName = <T extends { readonly name: string }>(a: T, b: T) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

export class MemoryData {
  #pools = new Map<string, StoredPool>();
  #reservations = new Map<string, Reservation>();
  #nodeSlicePools = new Map<string, NodeSlicePool>();
  /** Bumped by every write, like a store revision: each pool write gets a version never seen before. */
  #revision = 0;

  pool(name: string): PoolSnapshot {
    const pool = this.#pools.get(name);
    if (pool === undefined) return emptyPool(name);
    return {
      name,
      range: pool.range,
      allocations: pool.entries,
      released: pool.released,
      version: pool.version,
    };
  }

  pools(): PoolSnapshot[] {
    return [...this.#pools.keys()].map((name) => this.pool(name)).sort(byName);
  }

  reservation(name: string): Reservation | undefined {
    return this.#reservations.get(name);
  }

  reservations(): Reservation[] {
    return [...this.#reservations.values()].sort(byName);
  }

  commit(change: PoolChange): CommitResult {
    checkChange(change);
    const pool = this.#pools.get(change.pool);
    const entries = new Map(pool?.entries);
    for (const [key, allocation] of change.create) {
      if (entries.has(key)) return { ok: false, conflict: "entry", key };
      entries.set(key, allocation);
    }
    for (const { key, from, to } of change.update) {
      if (!holds(entries, key, from)) return { ok: false, conflict: "entry", key };
      entries.set(key, to);
    }
    for (const [key, allocation] of change.remove) {
      if (!holds(entries, key, allocation)) return { ok: false, conflict: "entry", key };
      entries.delete(key);
    }
    const reservations = new Map(this.#reservations);
    for (const wanted of change.reserve) {
      const holder = reservations.get(wanted.name);
      if (holder !== undefined && mayReserve(holder, wanted) === undefined)
        return { ok: false, conflict: "reservation", holder };
      reservations.set(wanted.name, reserved(holder, wanted));
    }
    for (const owner of change.unreserve) {
      const holder = reservations.get(owner.name);
      if (holder !== undefined && ownsReservation(holder, owner)) reservations.delete(owner.name);
    }
    for (const owner of change.dropOwners ?? [])
      for (const [name, r] of reservations) if (sameOwner(r, owner)) reservations.delete(name);
    this.#reservations = reservations;
    const released = new Map(pool?.released);
    recordReleases(released, change);
    if (pool !== undefined || change.create.length > 0)
      this.#pools.set(change.pool, {
        range: pool?.range ?? change.range,
        entries,
        released,
        version: String(++this.#revision),
      });
    return { ok: true };
  }

  /** What a controller would write: the NodeSlicePool as given (replacing one of that name). */
  putNodeSlicePool(pool: NodeSlicePool): void {
    this.#nodeSlicePools.set(pool.name, pool);
  }

  deleteNodeSlicePool(name: string): void {
    this.#nodeSlicePools.delete(name);
  }

  nodeSlicePool(name: string): NodeSlicePool | undefined {
    return this.#nodeSlicePools.get(name);
  }

  /** As the Kubernetes store's tested patch: only a free element still holding `sliceRange`. */
  claimNodeSlice(name: string, index: number, sliceRange: string, nodeName: string): boolean {
    const pool = this.#nodeSlicePools.get(name);
    const slice = pool?.allocations[index];
    if (pool === undefined || slice === undefined || slice.sliceRange !== sliceRange || slice.nodeName !== "")
      return false;
    const allocations = pool.allocations.map((a, i) => (i === index ? { nodeName, sliceRange } : a));
    this.#nodeSlicePools.set(name, { ...pool, allocations });
    return true;
  }

  dropReservations(reservations: readonly Reservation[]): Reservation[] {
    const dropped: Reservation[] = [];
    for (const r of reservations) {
      const holder = this.#reservations.get(r.name);
      if (holder === undefined || !heldAsRecorded(holder, r)) continue;
      this.#reservations.delete(r.name);
      dropped.push(r);
    }
    return dropped;
  }

  dropReservationsOf(owner: Owner): number {
    let count = 0;
    for (const [name, r] of this.#reservations) {
      if (!sameOwner(r, owner)) continue;
      this.#reservations.delete(name);
      count++;
    }
    return count;
  }
}

function holds(entries: ReadonlyMap<string, Allocation>, key: string, expected: Allocation): boolean {
  const held = entries.get(key);
  return held !== undefined && sameAllocation(held, expected);
}
