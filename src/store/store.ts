// The datastore contract every backend implements (local sqlite, Kubernetes CRDs, etcd, and the
// in-memory store of the unit tests), and the node agent's caching wrapper over any of them.
// Optimistic concurrency at the granularity of one address: a change states what it expects of
// each entry it touches and commits only if that still holds. The rules below are the ones every
// backend keeps; where backends differ, each difference is named with the backends it concerns.
//
// Applying a commit. Local, etcd and memory apply a change in one transaction: whole or not at
// all, and no reader ever sees part of it. Kubernetes writes in steps (kubernetes-store.ts): the
// pool first (one request whose tests are the entry preconditions), then each reservation to
// take, then the drops; a reservation that turns out held makes it take back what it wrote (the
// reservations it created, then its pool write, each only if still as it wrote it) and report the
// conflict. Between the steps other readers see the pool written without its reservations. The
// agent (src/agent) may merge changes to one pool into one commit of the store underneath; a
// merged commit that does not succeed is sent again part by part, so each caller's answer is its
// own change's.
//
// After a thrown error. Local and memory: nothing was applied (memory, when a test scripts a write
// that lands and then fails: all of it was). etcd: all of the change or none (an answer lost after
// the transaction), except that reservations to drop the transaction found rewritten by their
// owner are dropped in a later transaction, which may not happen. Kubernetes: any part of it (a
// process killed between the steps too): entries without their reservation, reservations whose
// entry is gone or was never written. Callers therefore report nothing from a commit that threw,
// and leave what it may have written to the attachment's DEL (which drops every reservation of
// its owner, see `dropOwners`) or to the controller.
//
// Versions are opaque and only for diagnostics: no commit depends on one. A pool's version differs
// after every commit that writes its entries; it may change without them changing (local and
// memory: any commit to the pool; etcd: it is the store's revision, moved by any write; Kubernetes:
// a pool write that was taken back).
import type { IntervalSet } from "../allocator/interval-set.ts";
import type { Deadline } from "../ipam/retry.ts";
import {
  type Allocation,
  claimsAgree,
  ownsReservation,
  type PoolSnapshot,
  type Reservation,
} from "../pool/allocation.ts";
import type { NodeSlicePool } from "../pool/node-slices.ts";
import type { Datastore } from "./settings.ts";

/** An entry rewritten in place (a repeated ADD from a new container of the same pod). */
export interface EntryUpdate {
  readonly key: string;
  readonly from: Allocation;
  readonly to: Allocation;
}

/**
 * One attachment's change to one pool (or several attachments' changes merged by the agent).
 * Every part carries its own precondition, so concurrent changes that touch different addresses
 * never conflict (no pool-wide version check). A change names each entry key once (across create,
 * update and remove), each reservation name once (across reserve and unreserve) and each release
 * record key once (across release and forget; a key may be in both an entry part and a record
 * part): one that names any twice is a caller's bug, and every store throws a RangeError for it
 * before writing.
 */
export interface PoolChange {
  readonly pool: string;
  /**
   * spec.range written when this change creates the pool. A missing pool comes to exist with the
   * first change that creates an entry in it; a change that creates none leaves it missing.
   */
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
   * both have one), which records the new container id and keeps the claim it has. One that names
   * `replaces` may also be held by exactly that owner (sameOwner): it is then rewritten to the new
   * holder (a VM's target pod taking over its source pod's address), keeping its claim when the
   * new one records none.
   */
  readonly reserve: readonly Takeover[];
  /**
   * Reservations to drop, each only if still held by the owner given in it (ownsReservation; the
   * container id may differ), else left alone: not a precondition, never a conflict.
   */
  readonly unreserve: readonly Reservation[];
  /**
   * DEL: owners (podRef, ifName and containerId all matching, sameOwner) whose reservations go
   * too, named in `unreserve` or not: a Kubernetes commit can be stopped between its requests and
   * leave a reservation no entry names. Local and memory drop every reservation of each owner;
   * etcd and Kubernetes only those named in `unreserve`: finding an owner's other reservations
   * there means reading them all (etcd never leaves an unnamed one; a Kubernetes one goes with
   * dropReservationsOf, called by a DEL that finds no entry, or with the controller).
   */
  readonly dropOwners?: readonly Owner[];
  /**
   * Release records to set (offset key → ms since the epoch), for the reuse cooldown. No
   * precondition: the last writer wins. The writer keeps the pool's records bounded and forgets a
   * key's record when it creates an entry there (releaseRecords); a store keeps what it is given.
   */
  readonly release?: readonly (readonly [key: string, atMs: number])[];
  /** Release records to drop (a key without one is no error). */
  readonly forget?: readonly string[];
  /**
   * The addresses the configuration of this pool's range hands out (handedOut), for stores that
   * record how full a pool is (Kubernetes: the IPPool status). Absent when the writer has no
   * configuration (the controller releasing by pool name).
   */
  readonly usable?: IntervalSet;
  /**
   * Attachments (podRef + ifName) that hold no entry of this pool when the change is applied
   * (before its own writes): a precondition like an entry's, reported as an entry conflict naming
   * an entry such an attachment holds. Set on a change decided on a part that did not look the
   * attachment up (PoolPart.withoutLookups). Only a store whose part of the pool said
   * `checksAbsent` is given it; one that cannot check it for the pool reports a conflict on the
   * change's first entry instead of applying it.
   */
  readonly absent?: readonly Attachment[];
}

/** One attachment of a pod: what ADD is idempotent by. */
export interface Attachment {
  readonly podRef: string;
  readonly ifName: string;
}

/** Who holds a reservation: exactly one attachment of one pod. */
export type Owner = Omit<Reservation, "name">;

/** The attachment that holds an entry (its Owner part, without the sticky fields). */
export function ownerOf(allocation: Allocation): Owner {
  return { containerId: allocation.containerId, podRef: allocation.podRef, ifName: allocation.ifName };
}

/** A reservation to hold, which may take over one held by the owner it `replaces`. */
export interface Takeover extends Reservation {
  readonly replaces?: Owner;
}

/**
 * The outcome of a commit that did not throw. Preconditions are checked entries first: when an
 * entry and a reservation both fail, the entry conflict is reported.
 */
export type CommitResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly conflict: "entry"; readonly key: string }
  | { readonly ok: false; readonly conflict: "reservation"; readonly holder: Reservation };

/**
 * The same entry: the same attachment (sameOwner) and the same sticky owner and parking, so that
 * parking, taking over or unparking an entry is a change another writer's precondition sees.
 */
export function sameAllocation(a: Allocation, b: Allocation): boolean {
  return sameOwner(a, b) && a.owner === b.owner && a.parkedAt === b.parkedAt;
}

/** The same attachment: podRef, ifName and containerId all equal (an Allocation is an Owner). */
export function sameOwner(a: Owner, b: Owner): boolean {
  return a.containerId === b.containerId && a.podRef === b.podRef && a.ifName === b.ifName;
}

/**
 * Whether `wanted` may be written over `holder`: held by the same owner (accepted, the new
 * container id recorded), or by exactly the owner it replaces (taken over). The one reading of
 * reserve's rule for every backend.
 */
export function mayReserve(holder: Reservation, wanted: Takeover): "same" | "takeover" | undefined {
  if (ownsReservation(holder, wanted)) return "same";
  if (wanted.replaces !== undefined && sameOwner(holder, wanted.replaces)) return "takeover";
  return undefined;
}

/** The reservation reserve stores for `wanted` over `holder` (mayReserve said it may). */
export function reserved(holder: Reservation | undefined, wanted: Takeover): Reservation {
  const { replaces: _, ...reservation } = wanted;
  if (holder === undefined) return reservation;
  if (ownsReservation(holder, wanted)) return { ...holder, containerId: wanted.containerId };
  const claim = wanted.claim ?? holder.claim;
  const { claim: __, ...rest } = reservation;
  return claim === undefined ? rest : { ...rest, claim };
}

/**
 * Whether `stored` is still held as `recorded` says: the same owner (sameOwner) and claims that
 * agree. What dropReservations checks before it drops one.
 */
export function heldAsRecorded(stored: Reservation, recorded: Reservation): boolean {
  return sameOwner(stored, recorded) && claimsAgree(stored.claim, recorded.claim);
}

/** A change with nothing in it, to spread parts into. */
export function poolChange(pool: string, range: string, parts: Partial<PoolChange> = {}): PoolChange {
  return { pool, range, create: [], update: [], remove: [], reserve: [], unreserve: [], ...parts };
}

/** Throws RangeError when the change names an entry key or a reservation name twice. */
export function checkChange(change: PoolChange): void {
  const twice = (kind: string, names: readonly string[]) => {
    const seen = new Set<string>();
    for (const name of names) {
      if (seen.has(name))
        throw new RangeError(`Cannot commit pool ${change.pool}: the change names ${kind} ${name} twice`);
      seen.add(name);
    }
  };
  twice("entry", [
    ...change.create.map(([key]) => key),
    ...change.update.map((u) => u.key),
    ...change.remove.map(([key]) => key),
  ]);
  twice(
    "reservation",
    [...change.reserve, ...change.unreserve].map((r) => r.name),
  );
  twice("release record", [...(change.release ?? []).map(([key]) => key), ...(change.forget ?? [])]);
  twice(
    "absent attachment",
    (change.absent ?? []).map((a) => attachmentKey(a)),
  );
}

/** An attachment as one string (podRef and ifName cannot be told apart once joined otherwise). */
export function attachmentKey(a: Attachment): string {
  return JSON.stringify([a.podRef, a.ifName]);
}

/**
 * What every store call may be given: the caller's deadline. A store never works past it (one
 * exception: the Kubernetes store's undo of a half-written commit takes up to 2 s more, so that
 * it does not leave what it wrote); a call whose deadline has passed, or that cannot finish
 * before it, throws StoreUnavailableError (code 11). A backend's own budget per call stays as a
 * cap below the deadline, so one slow request fails over in time.
 */
export interface CallOptions {
  readonly deadline?: Deadline | undefined;
}

export interface ReadOptions extends CallOptions {
  /**
   * Which views of the pool the caller can use without reading the store: true when everything it
   * would do with this view is verified by its commit's preconditions, so that a view that is out
   * of date can only make it lose a race. A store that keeps a cache (the node agent's) answers
   * from it only when this holds of the cached view; other stores ignore it. It must not throw.
   */
  readonly verifiable?: (view: PoolSnapshot) => boolean;
}

/**
 * An optional capability (the Kubernetes store, the memory store of the tests, and the node agent's
 * store over either): the NodeSlicePools of node-slice networks (docs/node-slices.md). The value
 * is the NodeSlicePool as Go v0.9 writes it.
 */
export interface NodeSliceStore {
  /** The NodeSlicePool `name`, or undefined when it does not exist. */
  getNodeSlicePool(name: string, options?: CallOptions): Promise<NodeSlicePool | undefined>;
  /**
   * Assigns the slice at `index` of status.allocations to `nodeName` iff that element still holds
   * `sliceRange` and no node (another node claiming it, or the controller re-slicing, makes this
   * fail): true when this call assigned it. Nothing else of the object is written.
   */
  claimNodeSlice(
    name: string,
    index: number,
    sliceRange: string,
    nodeName: string,
    options?: CallOptions,
  ): Promise<boolean>;
}

/** The offsets a part scans (PoolPartQuery.scan), counted from the pool's base (pool/blocks.ts). */
export interface PartScan {
  /** The first offset scanned. */
  readonly from: bigint;
  /** The last offset the scan may reach, ≥ from. */
  readonly to: bigint;
  /**
   * How many offsets without an entry the caller wants to see (≥ 1): the scan may stop at the end
   * of the block in which the offsets of [from, …] without an entry reach this many.
   */
  readonly free: number;
}

/** What a part holds besides the release records: see PoolPartReader. */
export interface PoolPartQuery {
  /** The attachment: every entry with exactly this podRef and ifName, wherever it is. */
  readonly podRef: string;
  readonly ifName: string;
  /** A sticky owner (pool/owner.ts): every entry with exactly this owner and `ifName`, wherever it is. */
  readonly owner?: string;
  /** Offsets whose entry is wanted, wherever they are (requested addresses). */
  readonly points?: readonly bigint[];
  readonly scan?: PartScan;
}

/** One consistent read of part of a pool (PoolPartReader.getPoolPart). */
export interface PoolPart {
  /**
   * name, range, version and released (every release record) exactly as getPool would read them
   * at the same moment; allocations: the entries the query asks for (in getPool's order where a
   * backend has one), and possibly others. A missing pool reads as getPool reads it.
   */
  readonly snapshot: PoolSnapshot;
  /**
   * With a scan: the offsets it covered, [scan.from, through] with through ≤ scan.to, and at least
   * up to the end of scan.from's block (or scan.to, when that comes first). Every entry at an offset
   * in it is in `allocations`, except at offsets in `full`.
   */
  readonly scanned?: { readonly from: bigint; readonly through: bigint };
  /**
   * Offsets inside `scanned` that each hold an entry (whole blocks the store knows are full),
   * whose entries were not returned. Empty without a scan.
   */
  readonly full: IntervalSet;
  /**
   * Commits to this pool check PoolChange.absent (etcd: a pool that keeps index keys). Said by a
   * store's own read; the node agent answers later parts of the pool from its cache only then.
   */
  readonly checksAbsent?: true;
  /**
   * The part did not look up the attachment or its owner, nor read the points (the node agent's
   * cached part): its entries are those of the scan, as last read and changed by this node since.
   * Only handed to a caller whose PartReadOptions.verifiable accepts it; a change decided on it
   * that creates an entry states in `absent` that the attachment holds none.
   */
  readonly withoutLookups?: true;
}

export interface PartReadOptions extends CallOptions {
  /**
   * Whether the caller can act on a part without lookups (PoolPart.withoutLookups): true when
   * everything it would do with it is verified by its commit's preconditions (PoolChange.absent
   * included), so that a part out of date can only make it lose a race. A store that keeps a
   * cache (the node agent's) answers from it only when this holds; other stores ignore it. It
   * must not throw.
   */
  readonly verifiable?: (part: PoolPart) => boolean;
}

/**
 * An optional capability (local, etcd, memory, and the node agent's store over any of them): reads
 * of part of a pool, so that an ADD costs the same in an empty pool and in one with 60,000 entries
 * (the allocator decides on a part: allocator/part-view.ts). What every backend guarantees:
 * - a part is one consistent read (one transaction, one revision), as getPool is;
 * - `released` is the pool's every release record (a pool keeps at most MAX_RELEASE_RECORDS);
 * - the attachment's and the owner's entries, and the entries at `points`, are all returned;
 * - a scan returns, for each block from scan.from's on, every entry at an offset in
 *   [scan.from, scan.to] of that block, or, for a block the store knows to be full (each of its 256
 *   offsets holds an entry), nothing but the block in `full`; it goes on to the next block until
 *   the offsets seen without an entry reach scan.free, or scan.to is reached. "Full" is never said
 *   of a block with an offset free: two keys of one offset ("5" and the legacy "005") count once;
 * - a scan never returns an entry whose key has no offset (offsetOfKey is undefined: getPool still
 *   reads it, and the allocator ignores it either way); the lookups and points may.
 * A backend may answer with more than asked (a pool it cannot read in parts, e.g. an etcd pool
 * written before its index keys: the whole pool, scanned = [scan.from, scan.to], `full` empty).
 * Offsets are counted from the base written in the pool's stored spec.range, which the caller does
 * not know before the read: a caller that finds it is not the one it counted from reads again.
 * A part marked withoutLookups (the node agent's cache, only where the caller's `verifiable`
 * admits it) keeps none of these but the scan's, and that as of an earlier read.
 */
export interface PoolPartReader {
  getPoolPart(name: string, query: PoolPartQuery, options?: PartReadOptions): Promise<PoolPart>;
}

export interface Store {
  readonly datastore: Datastore;
  /** Present when the store holds NodeSlicePools (the Kubernetes store). */
  readonly nodeSlices?: NodeSliceStore;
  /** Present when the store reads parts of pools (local, etcd, memory; not Kubernetes: one IPPool object). */
  readonly parts?: PoolPartReader;
  /** Reads one pool. A pool that does not exist reads as empty with version undefined. */
  getPool(name: string, options?: ReadOptions): Promise<PoolSnapshot>;
  listPools(options?: CallOptions): Promise<readonly PoolSnapshot[]>;
  getReservation(name: string, options?: CallOptions): Promise<Reservation | undefined>;
  listReservations(options?: CallOptions): Promise<readonly Reservation[]>;
  /**
   * Applies the change iff every entry precondition holds and every reservation to take is free or
   * held by the same owner (see the header for how each backend applies it, and what a thrown
   * error may leave). Otherwise reports the first conflict (CommitResult) and applies nothing;
   * Kubernetes, whose pool write has landed by then, takes it back as far as it can (not an entry
   * another writer changed since, nor when the API cannot be reached: what stays was reported to
   * nobody, and the attachment's DEL removes it). Throws RangeError for a change that names a key
   * twice, StoreUnavailableError when the store cannot be reached in time.
   */
  commit(change: PoolChange, options?: CallOptions): Promise<CommitResult>;
  /**
   * Drops each reservation given only while it is still held as it records (heldAsRecorded: the
   * same podRef, ifName and containerId, and claims that agree), and returns those it dropped: a
   * reservation rewritten since it was read (a successor's ADD, another owner) stays, and one
   * that is gone is no error. Nothing else is touched. For reservations that no entry goes with
   * (the controller's leftovers); each is dropped on its own (not one transaction).
   */
  dropReservations(
    reservations: readonly Reservation[],
    options?: CallOptions,
  ): Promise<readonly Reservation[]>;
  /**
   * Drops every reservation held by exactly this attachment (sameOwner) and returns how many:
   * what a failed ADD can leave behind with no pool entry to find it by, when its clean-up could
   * not reach the store. Reservations of anyone else stay.
   */
  dropReservationsOf(owner: Owner, options?: CallOptions): Promise<number>;
  /** Resolves when the store can serve requests; throws StoreUnavailableError otherwise. */
  ping(options?: CallOptions): Promise<void>;
  close(): Promise<void>;
}

export function emptyPool(name: string): PoolSnapshot {
  return { name, range: "", allocations: new Map(), released: new Map(), version: undefined };
}

/** The pool as it is once `changes` are committed, in order (one copy of the entries). */
export function applied(snapshot: PoolSnapshot, changes: readonly PoolChange[]): PoolSnapshot {
  if (changes.length === 0) return snapshot;
  const allocations = new Map<string, Allocation>(snapshot.allocations);
  const released = new Map<string, number>(snapshot.released);
  let { range, version } = snapshot;
  for (const change of changes) {
    for (const [key] of change.remove) allocations.delete(key);
    for (const u of change.update) allocations.set(u.key, u.to);
    for (const [key, allocation] of change.create) allocations.set(key, allocation);
    recordReleases(released, change);
    // A pool that did not exist comes to exist with its first entry, with the change's range.
    if (version === undefined && change.create.length > 0) {
      range = change.range;
      version = "cached";
    }
  }
  return { ...snapshot, range, version, allocations, released };
}

/** Applies a change's release records to `records` in place (forget, then set). */
export function recordReleases(records: Map<string, number>, change: PoolChange): void {
  for (const key of change.forget ?? []) records.delete(key);
  for (const [key, atMs] of change.release ?? []) records.set(key, atMs);
}
