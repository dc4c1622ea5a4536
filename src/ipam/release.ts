// Releasing entries from one pool: the shared path of DEL, GC and rollback (and later the
// controller). Entries are chosen by a predicate over the current snapshot and removed with
// their reservations in one commit whose preconditions are the entries as read; a concurrent
// change to one of them means a fresh read and another try, until the deadline.
import { type Entry, viewPool } from "../allocator/pool-view.ts";
import { StoreUnavailableError } from "../errors/errors.ts";
import type { PoolSnapshot } from "../pool/allocation.ts";
import { reservationOf } from "../pool/naming.ts";
import { poolChange, type Store } from "../store/store.ts";
import { type PoolRef, storedRange } from "./pool-ref.ts";
import { type Deadline, expired, pause } from "./retry.ts";

export interface ReleaseOptions {
  readonly overlapping: boolean;
  readonly networkName: string;
  readonly deadline: Deadline;
  /**
   * May start from a cached pool (node agent): for DEL, whose attachment holds one entry per pool,
   * written through the same agent or found by the fresh read that follows an empty cached one.
   */
  readonly mayBeStale?: boolean;
  /** DEL: every reservation of a released entry's owner goes too, named by an entry or not. */
  readonly dropOwners?: boolean;
}

/**
 * The entries of a stored pool with decoded addresses (offsets relative to its spec.range). With
 * `configured` (every CNI call and `status`), the stored range must be the configured one
 * (StoredDataError otherwise); without it (the controller, which has no network configuration),
 * offsets count from whatever range is stored.
 */
export function storedEntries(snapshot: PoolSnapshot, configured?: PoolRef): readonly Entry[] {
  const stored = storedRange(snapshot, configured);
  if (stored === undefined) return [];
  return viewPool(snapshot, { family: stored.family, value: stored.address }).entries;
}

/**
 * Entries released per commit: backends bound one atomic change (etcd allows 128 operations per
 * transaction, and each entry may carry a reservation), so large releases go in batches.
 */
export const RELEASE_BATCH = 50;

/**
 * Removes every entry matching `select`; returns what was removed ([] when nothing matched).
 * `pool` is a configured range's pool (its stored range is checked) or, for the controller, a
 * pool name alone.
 */
export async function releaseEntries(
  store: Store,
  pool: PoolRef | string,
  select: (entry: Entry) => boolean,
  options: ReleaseOptions,
): Promise<readonly Entry[]> {
  const name = typeof pool === "string" ? pool : pool.name;
  const configured = typeof pool === "string" ? undefined : pool;
  const released: Entry[] = [];
  let fresh = options.mayBeStale !== true;
  for (let attempt = 0; ; attempt++) {
    // A cached pool (node agent) may show entries already gone (the removal's preconditions catch
    // that) or miss some written elsewhere: "nothing to release" is only believed from the store.
    const snapshot = await store.getPool(name, { mayBeStale: !fresh });
    const chosen = storedEntries(snapshot, configured).filter(select).slice(0, RELEASE_BATCH);
    if (chosen.length === 0 && snapshot.fromCache === true) {
      fresh = true;
      attempt--;
      continue;
    }
    if (chosen.length === 0) return released;
    const result = await store.commit(
      poolChange(name, snapshot.range, {
        remove: chosen.map((e) => [e.key, e.allocation] as const),
        unreserve: options.overlapping
          ? chosen.map((e) => reservationOf(e.address, options.networkName, e.allocation))
          : [],
        ...(options.overlapping && options.dropOwners === true
          ? { dropOwners: chosen.map((e) => e.allocation) }
          : {}),
      }),
    );
    if (result.ok) {
      released.push(...chosen);
      // A short batch was everything that matched: no need to read the pool again.
      if (chosen.length < RELEASE_BATCH) return released;
      attempt = -1;
      continue;
    }
    if (expired(options.deadline)) {
      throw new StoreUnavailableError(
        `gave up releasing from pool ${name} after ${attempt + 1} conflicting writes`,
      );
    }
    await pause(options.deadline, attempt);
  }
}
