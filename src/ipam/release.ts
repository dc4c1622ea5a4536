// Releasing entries from one pool: the shared path of DEL, GC, rollback and the controller.
// Entries are chosen by a predicate over the current snapshot and removed with their reservations
// in one commit whose preconditions are the entries as read; a concurrent change to one of them
// means a fresh read and another try, until the deadline. DEL and GC park a sticky entry (one with
// an owner) instead: it keeps its address and reservation for the owner's next pod.
import { type Entry, viewPool } from "../allocator/pool-view.ts";
import { StoreUnavailableError } from "../errors/errors.ts";
import type { PoolSnapshot } from "../pool/allocation.ts";
import { reservationOf } from "../pool/naming.ts";
import { releaseRecords } from "../pool/release-records.ts";
import { ownerOf, poolChange, type Store } from "../store/store.ts";
import type { RetryObserver } from "./observer.ts";
import { type PoolRef, storedRange } from "./pool-ref.ts";
import { type Deadline, expired, pause } from "./retry.ts";
import { oncePerView, verifiableBy } from "./view-decision.ts";

export interface ReleaseOptions {
  readonly overlapping: boolean;
  readonly networkName: string;
  readonly deadline: Deadline;
  /**
   * DEL: what `select` picks is one attachment's, which holds one entry per pool; so a view of the
   * pool that shows an entry to release shows all there is to release, and the removal's
   * preconditions verify it. A view that shows none proves nothing (the entry may have been
   * written where that view did not see it).
   */
  readonly onePerPool?: boolean;
  /** DEL: every reservation of a released entry's owner goes too, named by an entry or not. */
  readonly dropOwners?: boolean;
  /**
   * DEL: the attachment `select` picks entries of (CNI_ARGS' pod and the interface). A store that
   * reads parts of pools (Store.parts) looks its entries up instead of reading the whole pool, so a
   * DEL costs the same in an empty pool and a full one; only when the lookup finds nothing of its
   * is the whole pool read (entries `select` also takes: without an interface name, or written
   * for no pod by `migrate`, or a DEL repeated after the entry went).
   */
  readonly attachment?: { readonly podRef: string; readonly ifName: string };
  /** Hears of every race a commit lost (the node agent's metrics). */
  readonly observer?: RetryObserver;
  /**
   * DEL and GC: when (ms since the epoch) the holder let go. Entries with an owner are parked at
   * this time (kept, with their reservations; one already parked stays as it is) instead of
   * removed; and with `recordRelease`, the removed ones get a release record at this time.
   */
  readonly letGoAt?: number;
  /** The network has a reuse cooldown: record when each removed address was released. */
  readonly recordRelease?: boolean;
}

/** What `select` sees of an entry: releases are chosen by key and allocation. */
export type Selectable = Pick<Entry, "key" | "allocation">;

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
 * transaction, and there each entry may take up to six: itself, its reservation, three index keys
 * and its block's marker; docs/etcd.md), so large releases go in batches.
 */
export const RELEASE_BATCH = 20;

/**
 * Removes every entry matching `select` (parks it instead: `letGoAt`, an entry with an owner);
 * returns what was removed or parked, as it was read ([] when nothing matched).
 * `pool` is a configured range's pool (its stored range is checked) or, for the controller, a
 * pool name alone.
 */
export async function releaseEntries(
  store: Store,
  pool: PoolRef | string,
  select: (entry: Selectable) => boolean,
  options: ReleaseOptions,
): Promise<readonly Entry[]> {
  const name = typeof pool === "string" ? pool : pool.name;
  const configured = typeof pool === "string" ? undefined : pool;
  const { deadline } = options;
  const released: Entry[] = [];
  for (let attempt = 0; ; attempt++) {
    const choose = oncePerView((snapshot) => {
      const matched = storedEntries(snapshot, configured).filter(select);
      // Parked already (a repeated DEL): nothing to write, reported once the rest is done.
      const parked = (e: Entry) => options.letGoAt !== undefined && e.allocation.parkedAt !== undefined;
      return {
        ...batchOf(
          matched.filter((e) => !parked(e)),
          options,
        ),
        settled: matched.filter(parked),
      };
    });
    const snapshot =
      (await lookedUp(store, name, options, choose)) ??
      (await store.getPool(name, {
        deadline,
        ...(options.onePerPool === true
          ? { verifiable: verifiableBy(choose, (b) => b.chosen.length > 0) }
          : {}),
      }));
    const { chosen, rest, settled } = choose(snapshot);
    if (chosen.length === 0) return [...released, ...settled];
    const parkAt = options.letGoAt;
    const parking = parkAt === undefined ? [] : chosen.filter((e) => e.allocation.owner !== undefined);
    const removing = chosen.filter((e) => !parking.includes(e));
    // An attachment with a sticky entry keeps every reservation it holds: none of its is dropped
    // by owner (that would take the parked entries' reservations too).
    const keeping = new Set(parking.map((e) => ownerKey(e.allocation)));
    const dropping = removing.filter((e) => !keeping.has(ownerKey(e.allocation)));
    const records =
      options.recordRelease === true && parkAt !== undefined && removing.length > 0
        ? releaseRecords(
            snapshot.released,
            removing.map((e) => e.key),
            parkAt,
            [],
          )
        : undefined;
    const result = await store.commit(
      poolChange(name, snapshot.range, {
        remove: removing.map((e) => [e.key, e.allocation] as const),
        update:
          parkAt === undefined
            ? []
            : parking.map((e) => ({
                key: e.key,
                from: e.allocation,
                to: { ...e.allocation, parkedAt: parkAt },
              })),
        unreserve: options.overlapping
          ? removing.map((e) => reservationOf(e.address, options.networkName, e.allocation))
          : [],
        ...(options.overlapping && options.dropOwners === true && dropping.length > 0
          ? { dropOwners: dropping.map((e) => ownerOf(e.allocation)) }
          : {}),
        ...(records === undefined ? {} : records),
        ...(configured === undefined ? {} : { usable: configured.usable }),
      }),
      { deadline },
    );
    if (result.ok) {
      released.push(...chosen);
      // The batch was everything that matched: no need to read the pool again.
      if (!rest) return [...released, ...settled];
      attempt = -1;
      continue;
    }
    options.observer?.lostRace("release");
    await pause(deadline, attempt);
    if (expired(deadline)) {
      throw new StoreUnavailableError(
        `gave up releasing from pool ${name} after ${attempt + 1} conflicting writes`,
      );
    }
  }
}

/**
 * The part of the pool holding the attachment's entries, when the store reads parts and it shows
 * one `select` picks (released or parked already): one attachment holds one entry per pool, and
 * the commit's preconditions verify the part as they verify a whole read. Undefined otherwise.
 */
async function lookedUp(
  store: Store,
  name: string,
  options: ReleaseOptions,
  choose: (snapshot: PoolSnapshot) => { chosen: readonly Entry[]; settled: readonly Entry[] },
): Promise<PoolSnapshot | undefined> {
  const { attachment } = options;
  if (attachment === undefined || options.onePerPool !== true || store.parts === undefined) return undefined;
  const part = await store.parts.getPoolPart(name, attachment, { deadline: options.deadline });
  const { chosen, settled } = choose(part.snapshot);
  return chosen.length + settled.length > 0 ? part.snapshot : undefined;
}

function ownerKey(a: { containerId: string; podRef: string; ifName: string }): string {
  return `${a.podRef}\0${a.ifName}\0${a.containerId}`;
}

/**
 * The entries one commit releases, at most RELEASE_BATCH, and whether any are left for the next.
 * Each reservation is named once per change, and two keys of one pool can decode to one address
 * (`5` and `+5`, written by other tools): such a second entry waits for the next batch.
 */
function batchOf(matched: readonly Entry[], options: ReleaseOptions): { chosen: Entry[]; rest: boolean } {
  const chosen: Entry[] = [];
  const names = new Set<string>();
  for (const e of matched) {
    if (chosen.length === RELEASE_BATCH) return { chosen, rest: true };
    const name = options.overlapping
      ? reservationOf(e.address, options.networkName, e.allocation).name
      : e.key;
    if (names.has(name)) continue;
    names.add(name);
    chosen.push(e);
  }
  return { chosen, rest: chosen.length < matched.length };
}
