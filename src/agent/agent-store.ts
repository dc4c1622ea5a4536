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
// A store that reads parts of pools (Store.parts: local, etcd) is not cached whole: a cached whole
// pool would make every ADD cost O(pool) again. Its parts get the changes in flight applied the
// same way, and commits are still grouped. Where the store's commits can check that an attachment
// holds no entry of the pool (PoolPart.checksAbsent: etcd), the last part read for an ADD's scan is
// cached too, and later ADDs of the pool are answered from it when they can verify it
// (PartReadOptions.verifiable): a part without their lookups, whose change then carries
// PoolChange.absent, so that an attachment that does hold an entry somewhere makes the commit
// lose a race instead of getting a second address.
import type { PoolSnapshot, Reservation } from "../pool/allocation.ts";
import {
  applied,
  type CallOptions,
  type CommitResult,
  checkChange,
  type NodeSliceStore,
  type Owner,
  type PartReadOptions,
  type PartScan,
  type PoolChange,
  type PoolPart,
  type PoolPartQuery,
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

/** The last part read for an ADD's scan of a pool, with this node's committed changes applied. */
interface CachedPart {
  part: PoolPart;
  /** The offsets its scan was asked for: it answers scans of exactly these. */
  readonly from: bigint;
  readonly to: bigint;
  readAt: number;
  contendedUntil: number;
}

/** A part read for the cache under way, and the changes committed meanwhile (applied to it after). */
interface PartRead {
  readonly scan: PartScan;
  readonly read: Promise<PoolPart>;
  readonly committed: PoolChange[];
}

export class AgentStore implements Store {
  readonly #inner: Store;
  readonly #batcher: CommitBatcher;
  readonly #pools = new Map<string, CachedPool>();
  readonly #reads = new Map<string, Promise<PoolSnapshot>>();
  readonly #parts = new Map<string, CachedPart>();
  readonly #partReads = new Map<string, Set<PartRead>>();
  /** Pools whose parts the store cannot let the agent cache (they exist without checksAbsent). */
  readonly #uncached = new Set<string>();
  /** Per pool, changes sent but not answered yet, in the order they were sent. */
  readonly #inFlight = new Map<string, Set<PoolChange>>();
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  readonly #nodeSlices: (NodeSliceStore & { close(): void }) | undefined;
  readonly stats: AgentStats;

  constructor(
    inner: Store,
    options: {
      maxAgeMs?: number;
      now?: () => number;
      stats?: AgentStats;
      /** The agent's NodeSlicePool view (node-slice-view.ts), instead of the store's own reads. */
      nodeSlices?: NodeSliceStore & { close(): void };
    } = {},
  ) {
    this.#inner = inner;
    this.#nodeSlices = options.nodeSlices;
    this.stats = options.stats ?? newAgentStats();
    this.#batcher = new CommitBatcher((change, options) => inner.commit(change, options), this.stats);
    this.#maxAgeMs = options.maxAgeMs ?? CACHE_MAX_AGE_MS;
    this.#now = options.now ?? Date.now;
  }

  get datastore() {
    return this.#inner.datastore;
  }

  /**
   * Parts of pools with this node's changes in flight applied: from the cached part when the
   * caller can verify one (cacheable), else read in the store itself.
   */
  get parts(): PoolPartReader | undefined {
    const inner = this.#inner.parts;
    if (inner === undefined) return undefined;
    return {
      getPoolPart: async (name, query, options) => {
        const verifiable = cacheable(query, options);
        if (verifiable === undefined)
          return this.#partView(name, await inner.getPoolPart(name, query, options), false);
        const scan = query.scan!;
        let cached = this.#freshPart(name, scan);
        while (cached === undefined) {
          // Concurrent ADDs share one read (found before any await): its lookups are another
          // attachment's, which a verifiable caller does not need. When it cannot be cached (a
          // pool that does not exist yet), one of them reads again, the others wait for that: the
          // pool's first ADDs do not each read it.
          const pending = this.#pendingRead(name, scan);
          if (pending === undefined)
            return this.#partView(name, await this.#readPart(inner, name, query, options, true), false);
          await pending.read.catch(() => undefined);
          cached = this.#freshPart(name, scan);
        }
        const view = this.#partView(name, cached.part, true);
        if (verifiable(view)) {
          this.stats.cachedReads++;
          return view;
        }
        return this.#partView(name, await this.#readPart(inner, name, query, options, false), false);
      },
    };
  }

  /** The cached part for `scan` when recent and not contended. */
  #freshPart(name: string, scan: PartScan): CachedPart | undefined {
    const cached = this.#parts.get(name);
    const now = this.#now();
    return cached !== undefined &&
      cached.from === scan.from &&
      cached.to === scan.to &&
      now - cached.readAt < this.#maxAgeMs &&
      now >= cached.contendedUntil
      ? cached
      : undefined;
  }

  /**
   * A read for the cache of `scan` under way, unless the pool is contended or cannot be cached
   * (then each caller reads: waiting would only serialise them).
   */
  #pendingRead(name: string, scan: PartScan): PartRead | undefined {
    if (this.#uncached.has(name) || (this.#parts.get(name)?.contendedUntil ?? 0) > this.#now())
      return undefined;
    for (const read of this.#partReads.get(name) ?? [])
      if (read.scan.from === scan.from && read.scan.to === scan.to) return read;
    return undefined;
  }

  /**
   * A part read in the store for an ADD's scan, kept as the pool's cached part when it may be;
   * `miss`: read for want of a cached part (counted in storeReads when it is kept), not for want
   * of one the caller can verify.
   */
  async #readPart(
    inner: PoolPartReader,
    name: string,
    query: PoolPartQuery,
    options: PartReadOptions | undefined,
    miss: boolean,
  ): Promise<PoolPart> {
    const scan = query.scan!;
    const pending: PartRead = { scan, read: inner.getPoolPart(name, query, options), committed: [] };
    const reads = this.#partReads.get(name) ?? new Set<PartRead>();
    reads.add(pending);
    this.#partReads.set(name, reads);
    let part: PoolPart;
    try {
      part = await pending.read;
    } finally {
      reads.delete(pending);
      if (reads.size === 0) this.#partReads.delete(name);
    }
    // Only where a commit can check that an attachment holds no entry (`absent`).
    if (part.checksAbsent !== true) {
      if (part.snapshot.version !== undefined) this.#uncached.add(name);
    } else {
      if (miss) this.stats.storeReads++;
      this.#uncached.delete(name);
      const cached = this.#parts.get(name);
      this.#parts.set(name, {
        // Changes of this node committed while it was read may be missing from it. One it did see
        // changes nothing when applied again, but for a removal of an entry another writer has made
        // again since: its offset looks free, and a choice of it loses at its commit.
        part: { ...part, snapshot: applied(part.snapshot, pending.committed) },
        from: scan.from,
        to: scan.to,
        readAt: this.#now(),
        contendedUntil: cached?.contendedUntil ?? 0,
      });
    }
    return part;
  }

  /** A part with the pool's changes in flight applied; `cached`: one without lookups. */
  #partView(name: string, part: PoolPart, cached: boolean): PoolPart {
    const flying = this.#inFlight.get(name);
    const snapshot =
      flying === undefined || flying.size === 0 ? part.snapshot : applied(part.snapshot, [...flying]);
    const view = snapshot === part.snapshot ? part : { ...part, snapshot };
    return cached ? { ...view, withoutLookups: true } : view;
  }

  /** NodeSlicePools: the agent's view when given, else the store's reads (a claim is a tested write either way). */
  get nodeSlices() {
    return this.#nodeSlices ?? this.#inner.nodeSlices;
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
    // change here already takes loses at once, without asking the store, and chooses again. (Not
    // by the cached part: only ADDs that use it refresh it, so an ADD that reads the store — a
    // requested address — would keep losing to an address the part shows taken since freed.)
    const taken = takenKey(pool?.base, flying, change);
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
    const part = this.#parts.get(change.pool);
    if (outcome === "committed") {
      if (pool !== undefined) pool.base = applied(pool.base, [change]);
      if (part !== undefined) part.part = { ...part.part, snapshot: applied(part.part.snapshot, [change]) };
      for (const read of this.#partReads.get(change.pool) ?? []) read.committed.push(change);
      return;
    }
    if (outcome === "lost" && (pool !== undefined || part !== undefined)) this.stats.lostRaces++;
    for (const cached of [pool, part]) {
      if (cached === undefined) continue;
      cached.readAt = Number.NEGATIVE_INFINITY;
      if (outcome === "lost") cached.contendedUntil = this.#now() + CONTENDED_MS;
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
    this.#parts.clear();
    this.#uncached.clear();
    this.#nodeSlices?.close();
    return this.#inner.close();
  }

  /** The cached pool with the changes in flight applied. */
  #view(pool: CachedPool): PoolSnapshot {
    return applied(pool.base, [...(this.#inFlight.get(pool.base.name) ?? [])]);
  }
}

/**
 * The caller's `verifiable` when the part it asks for may come from the cached part: an ADD's
 * first part (a scan), with no owner and no points, which a cached part does not know.
 */
function cacheable(
  query: PoolPartQuery,
  options: PartReadOptions | undefined,
): PartReadOptions["verifiable"] | undefined {
  if (query.scan === undefined || query.owner !== undefined || (query.points?.length ?? 0) > 0)
    return undefined;
  return options?.verifiable;
}

/** A key the change creates that the cached view or a change in flight already holds. */
function takenKey(
  cached: PoolSnapshot | undefined,
  inFlight: ReadonlySet<PoolChange>,
  change: PoolChange,
): string | undefined {
  for (const [key] of change.create) {
    if (cached?.allocations.has(key)) return key;
    for (const other of inFlight) if (other.create.some(([k]) => k === key)) return key;
  }
  return undefined;
}
