// The node agent's view of a store: one warm handle shared by every CNI call on the node, pools
// cached in memory for reads that may be stale, and commits to one pool grouped (CommitBatcher).
//
// Why a stale pool is safe: every commit states what each entry it touches must hold, so an
// allocation decided on an old view can only lose a race, never hand out a held address. What a
// caller would do with a view without such a precondition (keep an address the attachment already
// holds, conclude that a DEL has nothing to release) it says by ReadOptions.verifiable: a cached
// view it cannot verify is not handed out, and the pool is read from the store instead.
//
// The cache is the stored pool as last read plus the changes in flight, applied optimistically so
// that concurrent ADDs on this node see each other's choices and pick different addresses.
//
// A store that reads parts of pools (Store.parts: local, etcd) is read through for them, not
// cached: a cached whole pool would make every ADD cost O(pool) again. Each part gets the changes
// in flight applied the same way, and commits are still grouped.
import type { PoolSnapshot, Reservation } from "../pool/allocation.ts";
import {
  applied,
  type CallOptions,
  type CommitResult,
  checkChange,
  type Owner,
  type PoolChange,
  type PoolPartReader,
  type ReadOptions,
  type Store,
} from "../store/store.ts";
import { type BatchStats, CommitBatcher } from "./commit-batcher.ts";

/** How long a pool read serves cached answers: other nodes' writes show up within this. */
export const CACHE_MAX_AGE_MS = 2_000;

/**
 * After a commit decided on the cached pool loses a race in the store, the pool is read from the
 * store for this long: when other nodes write the same pool all the time, a cached choice would
 * lose nearly every race (a failed commit and a read more than reading first).
 */
export const CONTENDED_MS = 5_000;

/** What the agent's stores did, summed over every store (the agent's metrics). */
export interface AgentStats extends BatchStats {
  /** Reads answered from the cache, and reads for the cache that went to the store. */
  cachedReads: number;
  storeReads: number;
  /** Commits decided on the cache that lost a race in the store. */
  lostRaces: number;
}

export function newAgentStats(): AgentStats {
  return { commits: 0, changes: 0, cachedReads: 0, storeReads: 0, lostRaces: 0 };
}

interface CachedPool {
  base: PoolSnapshot;
  readAt: number;
  /** Until when reads go to the store (CONTENDED_MS after a lost race). */
  contendedUntil: number;
}

export class AgentStore implements Store {
  readonly #inner: Store;
  readonly #batcher: CommitBatcher;
  readonly #pools = new Map<string, CachedPool>();
  readonly #reads = new Map<string, Promise<PoolSnapshot>>();
  /** Per pool, changes sent but not answered yet, in the order they were sent. */
  readonly #inFlight = new Map<string, Set<PoolChange>>();
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  readonly stats: AgentStats;

  constructor(inner: Store, options: { maxAgeMs?: number; now?: () => number; stats?: AgentStats } = {}) {
    this.#inner = inner;
    this.stats = options.stats ?? newAgentStats();
    this.#batcher = new CommitBatcher((change, options) => inner.commit(change, options), this.stats);
    this.#maxAgeMs = options.maxAgeMs ?? CACHE_MAX_AGE_MS;
    this.#now = options.now ?? Date.now;
  }

  get datastore() {
    return this.#inner.datastore;
  }

  /** Parts of pools, read in the store itself with this node's changes in flight applied. */
  get parts(): PoolPartReader | undefined {
    const inner = this.#inner.parts;
    if (inner === undefined) return undefined;
    return {
      getPoolPart: async (name, query, options) => {
        const part = await inner.getPoolPart(name, query, options);
        const flying = this.#inFlight.get(name);
        if (flying === undefined || flying.size === 0) return part;
        return { ...part, snapshot: applied(part.snapshot, [...flying]) };
      },
    };
  }

  /** NodeSlicePools are read and claimed in the store itself (a claim is a tested write). */
  get nodeSlices() {
    return this.#inner.nodeSlices;
  }

  /**
   * With `verifiable`: the cached pool (changes in flight applied) when it is recent, not
   * contended, and verifiable; else the pool as the store has it. Without: the store's answer.
   */
  async getPool(name: string, options?: ReadOptions): Promise<PoolSnapshot> {
    const verifiable = options?.verifiable;
    if (verifiable === undefined) return this.#inner.getPool(name, options);
    const cached = this.#pools.get(name);
    const now = this.#now();
    if (cached !== undefined && now - cached.readAt < this.#maxAgeMs && now >= cached.contendedUntil) {
      const snapshot = this.#view(cached);
      if (!verifiable(snapshot)) return this.#inner.getPool(name, options);
      this.stats.cachedReads++;
      return snapshot;
    }
    const base = await this.#read(name, options);
    const pool = this.#pools.get(name) ?? { base, readAt: 0, contendedUntil: 0 };
    pool.base = base;
    pool.readAt = this.#now();
    this.#pools.set(name, pool);
    if ((this.#inFlight.get(name)?.size ?? 0) === 0) return base;
    const snapshot = this.#view(pool);
    return verifiable(snapshot) ? snapshot : this.#inner.getPool(name, options);
  }

  /** One read per pool at a time: concurrent misses share it (and the first one's deadline). */
  #read(name: string, options: CallOptions | undefined): Promise<PoolSnapshot> {
    const pending = this.#reads.get(name);
    if (pending !== undefined) return pending;
    this.stats.storeReads++;
    const read = this.#inner.getPool(name, options).finally(() => this.#reads.delete(name));
    this.#reads.set(name, read);
    return read;
  }

  async commit(change: PoolChange, options?: CallOptions): Promise<CommitResult> {
    checkChange(change);
    const pool = this.#pools.get(change.pool);
    const flying = this.#inFlight.get(change.pool) ?? new Set<PoolChange>();
    // Calls that read the pool at the same moment choose alike; the one whose address another
    // change here already takes loses at once, without asking the store, and chooses again.
    const taken = takenKey(pool, flying, change);
    if (taken !== undefined) return { ok: false, conflict: "entry", key: taken };
    flying.add(change);
    this.#inFlight.set(change.pool, flying);
    let result: CommitResult;
    try {
      result = await this.#batcher.commit(change, options?.deadline);
    } catch (error) {
      this.#settle(change, "failed");
      throw error;
    }
    this.#settle(change, result.ok ? "committed" : result.conflict === "entry" ? "lost" : "failed");
    return result;
  }

  /**
   * A committed change joins the cached pool. Otherwise the cache may be wrong: read again; and a
   * race lost to another writer of the entries means the pool is contended: stop trusting the cache
   * for a while.
   */
  #settle(change: PoolChange, outcome: "committed" | "lost" | "failed"): void {
    const flying = this.#inFlight.get(change.pool);
    flying?.delete(change);
    if (flying?.size === 0) this.#inFlight.delete(change.pool);
    const pool = this.#pools.get(change.pool);
    if (pool === undefined) return;
    if (outcome === "committed") {
      pool.base = applied(pool.base, [change]);
      return;
    }
    pool.readAt = Number.NEGATIVE_INFINITY;
    if (outcome === "lost") {
      pool.contendedUntil = this.#now() + CONTENDED_MS;
      this.stats.lostRaces++;
    }
  }

  listPools(options?: CallOptions): Promise<readonly PoolSnapshot[]> {
    return this.#inner.listPools(options);
  }

  getReservation(name: string, options?: CallOptions): Promise<Reservation | undefined> {
    return this.#inner.getReservation(name, options);
  }

  listReservations(options?: CallOptions): Promise<readonly Reservation[]> {
    return this.#inner.listReservations(options);
  }

  dropReservations(
    reservations: readonly Reservation[],
    options?: CallOptions,
  ): Promise<readonly Reservation[]> {
    return this.#inner.dropReservations(reservations, options);
  }

  dropReservationsOf(owner: Owner, options?: CallOptions): Promise<number> {
    return this.#inner.dropReservationsOf(owner, options);
  }

  ping(options?: CallOptions): Promise<void> {
    return this.#inner.ping(options);
  }

  close(): Promise<void> {
    this.#pools.clear();
    return this.#inner.close();
  }

  /** The cached pool with the changes in flight applied. */
  #view(pool: CachedPool): PoolSnapshot {
    return applied(pool.base, [...(this.#inFlight.get(pool.base.name) ?? [])]);
  }
}

/** A key the change creates that the cached pool or a change in flight already holds. */
function takenKey(
  pool: CachedPool | undefined,
  inFlight: ReadonlySet<PoolChange>,
  change: PoolChange,
): string | undefined {
  for (const [key] of change.create) {
    if (pool?.base.allocations.has(key)) return key;
    for (const other of inFlight) if (other.create.some(([k]) => k === key)) return key;
  }
  return undefined;
}
