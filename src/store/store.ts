// The datastore contract every backend implements (local sqlite, Kubernetes CRDs, etcd).
// Optimistic concurrency: a pool is read with an opaque version, and a change commits only if
// that version is still current. Reservations (overlapping-range protection) travel in the same
// change so a backend applies pool entries and reservations together or not at all.
import type { Allocation, PoolSnapshot, Reservation } from "../pool/allocation.ts";

export const DATASTORES = ["local", "kubernetes", "etcd"] as const;
export type Datastore = (typeof DATASTORES)[number];

export interface PoolChange {
  readonly pool: string;
  /** spec.range written when the pool is created by this change. */
  readonly range: string;
  /** The version read; undefined means "the pool must not exist yet". */
  readonly expectedVersion: string | undefined;
  /** Entries to create or overwrite, by offset key. */
  readonly set: readonly (readonly [key: string, allocation: Allocation])[];
  /** Offset keys to delete (must exist at `expectedVersion`). */
  readonly remove: readonly string[];
  /** Reservations to hold: created, or accepted when already held by the same owner (podRef + ifName). */
  readonly reserve: readonly Reservation[];
  /** Reservations to drop, each only if still held by the owner given in it. */
  readonly unreserve: readonly Reservation[];
}

export type CommitResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly conflict: "pool" }
  | { readonly ok: false; readonly conflict: "reservation"; readonly holder: Reservation };

export interface Store {
  readonly datastore: Datastore;
  /** Reads one pool. A pool that does not exist reads as empty with version undefined. */
  getPool(name: string): Promise<PoolSnapshot>;
  listPools(): Promise<readonly PoolSnapshot[]>;
  getReservation(name: string): Promise<Reservation | undefined>;
  listReservations(): Promise<readonly Reservation[]>;
  /**
   * Applies the change atomically iff the pool is still at `expectedVersion` and every reservation
   * is free or held by the same owner. Otherwise applies nothing and reports the conflict.
   * Throws StoreUnavailableError when the store cannot be reached.
   */
  commit(change: PoolChange): Promise<CommitResult>;
  /** Resolves when the store can serve requests; throws StoreUnavailableError otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function emptyPool(name: string): PoolSnapshot {
  return { name, range: "", allocations: new Map(), version: undefined };
}
