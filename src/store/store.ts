// The datastore contract every backend implements (local sqlite, Kubernetes CRDs, etcd).
// Optimistic concurrency at the granularity of one address: a change states what it expects of
// each entry it touches and commits only if that still holds. Reservations (overlapping-range protection) travel in the same
// change so a backend applies pool entries and reservations together or not at all.
import type { Allocation, PoolSnapshot, Reservation } from "../pool/allocation.ts";
import type { Datastore } from "./settings.ts";

/** An entry rewritten in place (a repeated ADD from a new container of the same pod). */
export interface EntryUpdate {
  readonly key: string;
  readonly from: Allocation;
  readonly to: Allocation;
}

/**
 * One attachment's change to one pool. Every part carries its own precondition, so concurrent
 * changes that touch different addresses never conflict (no pool-wide version check): a backend
 * applies the whole change iff every precondition holds at commit time, else nothing.
 */
export interface PoolChange {
  readonly pool: string;
  /** spec.range written when this change creates the pool (a create on a missing pool). */
  readonly range: string;
  /** Entries to add; each key must be free. */
  readonly create: readonly (readonly [key: string, allocation: Allocation])[];
  /** Entries to rewrite; each key must still hold `from`. */
  readonly update: readonly EntryUpdate[];
  /** Entries to delete; each key must still hold the allocation given. */
  readonly remove: readonly (readonly [key: string, allocation: Allocation])[];
  /**
   * Reservations to hold: created (with their claim, where the backend records one), or accepted
   * when already held by the same owner (ownsReservation: podRef + ifName, and the claim where
   * both have one; an accepted reservation keeps the claim it has).
   */
  readonly reserve: readonly Reservation[];
  /** Reservations to drop, each only if still held by the owner given in it (else left alone). */
  readonly unreserve: readonly Reservation[];
  /**
   * DEL: owners (podRef, ifName and containerId all matching) whose every reservation goes, named
   * in `unreserve` or not: a backend whose commit is several requests (Kubernetes) can be stopped
   * between them and leave a reservation no entry names. Backends that commit in one transaction
   * never leave one, since they write a reservation only together with the entry that names it;
   * they drop what the owner holds by the same rule (local) or only what `unreserve` names (etcd,
   * where finding an owner's reservations means reading all of them).
   */
  readonly dropOwners?: readonly Owner[];
}

/** Who holds a reservation: exactly one attachment of one pod. */
export type Owner = Omit<Reservation, "name">;

export type CommitResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly conflict: "entry"; readonly key: string }
  | { readonly ok: false; readonly conflict: "reservation"; readonly holder: Reservation };

export function sameAllocation(a: Allocation, b: Allocation): boolean {
  return a.containerId === b.containerId && a.podRef === b.podRef && a.ifName === b.ifName;
}

/** A change with nothing in it, to spread parts into. */
export function poolChange(pool: string, range: string, parts: Partial<PoolChange> = {}): PoolChange {
  return { pool, range, create: [], update: [], remove: [], reserve: [], unreserve: [], ...parts };
}

/** How a pool may be read. Backends always read the store; a caching wrapper (the node agent) uses
 * it to answer from memory where a stale answer can only cost a conflict, never a duplicate. */
export interface ReadOptions {
  /** The caller verifies what it relies on by commit preconditions, or re-reads when `fromCache`. */
  readonly mayBeStale?: boolean;
}

export interface Store {
  readonly datastore: Datastore;
  /** Reads one pool. A pool that does not exist reads as empty with version undefined. The version is
   * an opaque revision for diagnostics: commits do not depend on it. */
  getPool(name: string, options?: ReadOptions): Promise<PoolSnapshot>;
  listPools(): Promise<readonly PoolSnapshot[]>;
  getReservation(name: string): Promise<Reservation | undefined>;
  listReservations(): Promise<readonly Reservation[]>;
  /**
   * Applies the change iff every entry precondition holds and every reservation is free or held by
   * the same owner. Otherwise applies nothing and reports the first conflict found. Throws
   * StoreUnavailableError when the store cannot be reached. Local and etcd apply a change in one
   * transaction. Kubernetes writes the pool first, then the reservations, then drops reservations,
   * and undoes its pool write and created reservations when a reservation turns out held; a
   * process killed in between leaves entries without their reservation (never the reverse), and
   * a thrown error may leave the change applied in part: the caller reports nothing, and the
   * attachment's DEL removes what is left.
   */
  commit(change: PoolChange): Promise<CommitResult>;
  /**
   * Drops every reservation held by exactly this attachment (podRef, ifName and containerId all
   * match) and returns how many: what a failed ADD can leave behind with no pool entry to find it
   * by, when its clean-up could not reach the store. Reservations of anyone else stay.
   */
  dropReservationsOf(owner: Owner): Promise<number>;
  /** Resolves when the store can serve requests; throws StoreUnavailableError otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function emptyPool(name: string): PoolSnapshot {
  return { name, range: "", allocations: new Map(), version: undefined };
}
