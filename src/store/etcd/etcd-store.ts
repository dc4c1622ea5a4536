// The etcd datastore (datastore "etcd"): one key per pool (its range), one key per allocated
// address and one per overlapping-range reservation, as JSON values under a key prefix (layout in
// documents.ts and docs/etcd.md). Every commit is one etcd transaction whose compares are exactly
// the change's preconditions, on the keys it touches: each new entry's key is free, each entry
// rewritten or removed still holds what was read, each reservation taken is free or as read. So
// concurrent writers need no lock, and two commits conflict only when they touch the same address.
// Uncontended, an ADD costs two calls (read the pool, one transaction), plus one to authenticate.
import { StoreSettingsError, StoreUnavailableError } from "../../errors/errors.ts";
import { fileReason, readConfigFile, settingsFileError } from "../../files/config-file.ts";
import { remainingMs } from "../../ipam/retry.ts";
import { createTransport, type TlsMaterial } from "../../net/http-transport.ts";
import {
  type Allocation,
  ownsReservation,
  type PoolSnapshot,
  type Reservation,
} from "../../pool/allocation.ts";
import type { EtcdSettings } from "../settings.ts";
import {
  type CallOptions,
  type CommitResult,
  checkChange,
  emptyPool,
  heldAsRecorded,
  type Owner,
  ownerOf,
  type PoolChange,
  type PoolPartReader,
  poolChange,
  type ReadOptions,
  type Store,
  sameAllocation,
  sameOwner,
} from "../store.ts";
import {
  decodeEntry,
  decodePools,
  decodeReservation,
  EtcdKeys,
  encodeEntry,
  encodeReleased,
  INDEXED_LAYOUT,
} from "./documents.ts";
import {
  type Compare,
  compareAbsent,
  compareMod,
  compareNoneUnder,
  compareValue,
  decode,
  deleteOp,
  encode,
  getOp,
  type KeyValue,
  prefixEnd,
  putOp,
  type RangeResponse,
  type RequestOp,
  type ResponseOp,
  type TxnResponse,
  txnOp,
} from "./etcd-api.ts";
import { EtcdClient, type EtcdKv, listUnder } from "./etcd-client.ts";
import {
  type FullBlock,
  type FullCandidate,
  fullMarks,
  MAX_TXN_OPS,
  marksFor,
  openedBlocks,
  poolWrites,
  txnNeed,
} from "./index-plan.ts";
import { rangedKvs, readPoolPart, wholePool } from "./part-read.ts";
import { type Drop, type Known, planReservations } from "./reservation-plan.ts";

export interface EtcdStoreOptions {
  /**
   * Budget of one request to etcd (fail-over and retries included), default 10 s; the caller's
   * deadline (CallOptions) cuts it shorter.
   */
  readonly timeoutMs?: number;
  /** Budget of one request to one member; default min(2 s, timeoutMs). */
  readonly attemptTimeoutMs?: number;
}

export const DEFAULT_ETCD_TIMEOUT_MS = 10_000;
const DEFAULT_ATTEMPT_TIMEOUT_MS = 2_000;
/** Transactions one commit sends at most, re-planning from what the last one read. */
const MAX_ROUNDS = 8;
/** How long a lost race's read of a part answers the next part read (#partLoser). */
const PART_LOSER_MS = 1_000;
/** Blocks kept per pool as candidates for a "full" marker. */
const MAX_CANDIDATES = 512;
/** Reservations dropped per transaction: etcd allows 128 operations per transaction (--max-txn-ops). */
const DROP_BATCH = 50;

/**
 * Opens the etcd store. Reads the TLS files now (code 7 or 5 when one cannot be read); makes no
 * request until the first call, so opening never blocks on the network.
 */
export async function openEtcdStore(
  config: EtcdSettings,
  options: EtcdStoreOptions = {},
): Promise<EtcdStore> {
  return new EtcdStore(connectEtcd(config, options), new EtcdKeys(config.prefix));
}

/**
 * A client for the etcd the settings name (endpoints, credentials, TLS files read now), for the
 * store and for tools that read other layouts in the same etcd (`thereabouts migrate`).
 */
export function connectEtcd(config: EtcdSettings, options: EtcdStoreOptions = {}): EtcdClient {
  const timeoutMs = options.timeoutMs ?? DEFAULT_ETCD_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0)
    throw new RangeError(`Cannot open etcd store as 'timeoutMs' must be a positive integer: ${timeoutMs}`);
  const tls = readTls(config);
  return new EtcdClient({
    endpoints: config.endpoints,
    username: config.username,
    password: config.password,
    timeoutMs,
    attemptTimeoutMs: Math.min(timeoutMs, options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS),
    transport: createTransport(tls),
    tls,
  });
}

export class EtcdStore implements Store {
  readonly datastore = "etcd" as const;
  readonly keys: EtcdKeys;
  readonly #client: EtcdKv;
  /**
   * The pool as the else-branch of a transaction that just lost a race read it. The next getPool
   * of that pool returns it instead of asking again: a retry after a conflict costs one call (the
   * transaction), not two. Used once; any later read goes to etcd.
   */
  readonly #loser = new Map<string, PoolSnapshot>();
  /**
   * Per indexed pool, the first transaction's reads of its last part read for an ADD (one with a
   * scan): a commit to the pool that loses a race reads them again in its else-branch
   * (#partLoser), since the caller's retry asks for the same part.
   */
  readonly #lastPartRead = new Map<
    string,
    { readonly success: readonly RequestOp[]; readonly text: string }
  >();
  /**
   * The part's first transaction as a lost race's else-branch read it: the next part read of that
   * pool, if it asks exactly those reads within PART_LOSER_MS, takes it instead of asking again
   * (used once), so a lost race costs one call (the transaction), not two, as #loser does for
   * whole reads. That next read is the retry of the ADD that lost (it retries at once) unless
   * another call of the pool read meanwhile; the time limit keeps anyone else from taking an answer
   * older than its own call.
   */
  readonly #partLoser = new Map<
    string,
    { readonly text: string; readonly reply: TxnResponse; readonly at: number }
  >();
  #closed = false;
  /**
   * Per pool, blocks that part reads saw (nearly) full without a "full" marker: the next commit of
   * the pool marks those it can prove full (index-plan.ts), at no extra request.
   */
  readonly #candidates = new Map<string, FullCandidate[]>();
  /** Parts of indexed pools (part-read.ts); pools created before the index keys are read whole. */
  readonly parts: PoolPartReader = {
    getPoolPart: async (name, query, options) => {
      const action = `read part of pool ${name} from`;
      const seen: FullCandidate[] = [];
      const part = await readPoolPart(
        {
          keys: this.keys,
          txn: (compare, success, failure) => {
            const text = JSON.stringify(success);
            if (query.scan !== undefined) this.#lastPartRead.set(name, { success, text });
            const ready = this.#partLoser.get(name);
            this.#partLoser.delete(name);
            if (ready?.text === text && Date.now() - ready.at < PART_LOSER_MS && !this.#closed)
              return Promise.resolve(ready.reply);
            return this.#txn(compare, success, failure, action, options);
          },
          range: (request) => this.#call<RangeResponse>("/v3/kv/range", request, action, options),
          whole: (pool) => this.getPool(pool, { deadline: options?.deadline }),
        },
        name,
        query,
        seen,
      );
      if (seen.length > 0) {
        // The latest read of a block wins; a few hundred blocks are plenty for the next commits.
        const known = new Map((this.#candidates.get(name) ?? []).map((c) => [c.block, c]));
        for (const c of seen) known.set(c.block, c);
        this.#candidates.set(name, [...known.values()].slice(-MAX_CANDIDATES));
      }
      return part;
    },
  };

  constructor(client: EtcdKv, keys: EtcdKeys) {
    this.#client = client;
    this.keys = keys;
  }

  /** HTTP requests sent to etcd so far (authentication and retries included). */
  get requests(): number {
    return this.#client.requests;
  }

  /** One transaction reading the pool's meta key, every entry and release record, at one revision. */
  async getPool(name: string, options?: ReadOptions): Promise<PoolSnapshot> {
    const fresh = this.#loser.get(name);
    if (fresh !== undefined && !this.#closed) {
      this.#loser.delete(name);
      return fresh;
    }
    const reply = await this.#txn([], wholePool(this.keys, name), [], `read pool ${name} from`, options);
    return this.#pool(name, rangedKvs(reply.responses), reply.header?.revision);
  }

  async listPools(options?: CallOptions): Promise<readonly PoolSnapshot[]> {
    const { kvs, revision } = await this.#list(this.keys.pools, "list pools in", options);
    return decodePools(this.keys, kvs, revision ?? "0");
  }

  async getReservation(name: string, options?: CallOptions): Promise<Reservation | undefined> {
    const key = this.keys.reservation(name);
    const reply = await this.#call<RangeResponse>(
      "/v3/kv/range",
      { key: encode(key) },
      `read reservation ${name} from`,
      options,
    );
    const kv = reply.kvs?.[0];
    return kv === undefined ? undefined : decodeReservation(name, key, decode(kv.value));
  }

  async listReservations(options?: CallOptions): Promise<readonly Reservation[]> {
    const { kvs } = await this.#list(this.keys.reservations, "list reservations in", options);
    return kvs.map((kv) => {
      const key = decode(kv.key);
      return decodeReservation(key.slice(this.keys.reservations.length), key, decode(kv.value));
    });
  }

  /**
   * Per batch: one transaction reads the reservations, a second deletes each one still held as
   * recorded at the revision read, reading back those that changed meanwhile (decided again).
   */
  async dropReservations(
    reservations: readonly Reservation[],
    options?: CallOptions,
  ): Promise<readonly Reservation[]> {
    const action = "drop reservations from";
    // etcd refuses a transaction that deletes one key twice: each name once.
    const named = [...new Map(reservations.map((r) => [r.name, r] as const)).values()];
    const dropped: Reservation[] = [];
    for (let i = 0; i < named.length; i += DROP_BATCH) {
      let batch = named.slice(i, i + DROP_BATCH);
      const read = await this.#txn(
        [],
        batch.map((r) => getOp(this.keys.reservation(r.name))),
        [],
        action,
        options,
      );
      let responses = read.responses ?? [];
      for (let round = 0; round < MAX_ROUNDS && batch.length > 0; round++) {
        const held = batch.flatMap((r, j) => {
          const known = this.#reservationRead(r.name, responses[j]);
          if (known.holder === undefined || !heldAsRecorded(known.holder, r)) return [];
          return [{ r, key: this.keys.reservation(r.name), modRevision: known.modRevision ?? "0" }];
        });
        if (held.length === 0) break;
        const reply = await this.#txn(
          [],
          held.map((h) => txnOp([compareMod(h.key, h.modRevision)], [deleteOp(h.key)], [getOp(h.key)])),
          [],
          action,
          options,
        );
        const nested = (reply.responses ?? []).map((response) => response.response_txn);
        dropped.push(...held.filter((_, j) => nested[j]?.succeeded === true).map((h) => h.r));
        batch = held.filter((_, j) => nested[j]?.succeeded !== true).map((h) => h.r);
        responses = nested.filter((n) => n?.succeeded !== true).map((n) => n?.responses?.[0] ?? {});
      }
    }
    return dropped;
  }

  async dropReservationsOf(owner: Owner, options?: CallOptions): Promise<number> {
    const action = `drop reservations of ${owner.podRef} from`;
    const { kvs } = await this.#list(this.keys.reservations, action, options);
    let count = 0;
    for (const kv of kvs) {
      const key = decode(kv.key);
      const text = decode(kv.value);
      const r = decodeReservation(key.slice(this.keys.reservations.length), key, text);
      if (!sameOwner(r, owner)) continue;
      // Deleted only while it still holds what was read: a new owner's reservation stays.
      const reply = await this.#txn([compareValue(key, text)], [deleteOp(key)], [], action, options);
      if (reply.succeeded === true) count++;
    }
    return count;
  }

  /**
   * One transaction: IF every entry precondition holds AND every reservation to take is as
   * guessed THEN write the entries (and the pool's meta key if absent) and the reservations, and
   * drop each reservation to drop that its owner still holds ELSE read the pool and the
   * reservations back. From what the else-branch read: a failed entry precondition is an entry
   * conflict; a reservation held by another owner is a reservation conflict; a reservation held by
   * the same owner (or an entry that holds the expected allocation in another encoding) makes the
   * transaction be sent again, guarded by the revisions read.
   */
  async commit(change: PoolChange, options?: CallOptions): Promise<CommitResult> {
    checkChange(change);
    const action = `commit pool ${change.pool} to`;
    this.#loser.delete(change.pool);
    this.#partLoser.delete(change.pool);
    const partRead = this.#lastPartRead.get(change.pool);
    const checks = entryChecks(change);
    const entryWrites = checks.map((c) => c.write(this.keys.entry(change.pool, c.offset)));
    // The pool comes to exist with its first entry, indexed; a meta key already there is left as
    // it is, and the index keys are kept iff the pool is indexed (index-plan.ts).
    const meta = this.keys.meta(change.pool);
    entryWrites.push(...poolWrites(this.keys, change));
    // Release records: no precondition (the last writer wins), and only on a pool that exists.
    // Nested compares see the store as it was before the transaction: when this change creates
    // the pool they would see no meta key, so its records are written unguarded.
    const records = [
      ...(change.forget ?? []).map((offset) => deleteOp(this.keys.released(change.pool, offset))),
      ...(change.release ?? []).map(([offset, at]) =>
        putOp(this.keys.released(change.pool, offset), encodeReleased(at)),
      ),
    ];
    if (records.length > 0)
      if (change.create.length > 0) entryWrites.push(...records);
      else entryWrites.push(txnOp([compareAbsent(meta)], [], records));
    // When the transaction fails: an indexed pool's keys the change touches (its meta and entries;
    // reading 60,000 entries to learn about one would make every lost race cost the whole pool),
    // any other pool whole, to answer the next getPool.
    // Attachments that must hold no entry (a change decided on the node agent's cached part): none
    // of their index keys, in a pool that keeps them. Read back (one key each) when that fails.
    const absent = (change.absent ?? []).map((a) => this.keys.attachedTo(change.pool, a.podRef, a.ifName));
    const absentCompares =
      absent.length === 0
        ? []
        : [compareValue(this.keys.layout(change.pool), INDEXED_LAYOUT), ...absent.map(compareNoneUnder)];
    const conflictRead = txnOp(
      [compareValue(this.keys.layout(change.pool), INDEXED_LAYOUT)],
      [
        getOp(meta),
        ...checks.map((c) => getOp(this.keys.entry(change.pool, c.offset))),
        ...absent.map((prefix) => ({
          request_range: { key: encode(prefix), range_end: prefixEnd(prefix), limit: 1 },
        })),
        // Last: the reads of the pool's last part read, for the retry's (#partLoser).
        ...(partRead?.success ?? []),
      ],
      wholePool(this.keys, change.pool),
    );
    // Blocks a part read of this store saw full, or full but for offsets this change creates.
    const marks = marksFor(change, this.#candidates.get(change.pool) ?? []);
    /** Compares that replace the default one of an entry (the revision read, see below). */
    const guards = new Map<string, Compare>();
    const known = guessReservations(change);
    /** The pool as the last failed round read it: kept for the next getPool if the commit fails. */
    let lost: PoolSnapshot | undefined;
    let lostPart: TxnResponse | undefined;
    const conflict = (result: CommitResult): CommitResult => {
      if (lost !== undefined) this.#loser.set(change.pool, lost);
      if (lostPart !== undefined && partRead !== undefined)
        this.#partLoser.set(change.pool, { text: partRead.text, reply: lostPart, at: Date.now() });
      return result;
    };
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const plan = planReservations(change.reserve, change.unreserve, known, (n) => this.keys.reservation(n));
      if (!plan.ok) return conflict({ ok: false, conflict: "reservation", holder: plan.holder });
      const entryCompares = checks.map((c) => {
        const key = this.keys.entry(change.pool, c.offset);
        return (
          guards.get(c.offset) ??
          (c.expected === undefined ? compareAbsent(key) : compareValue(key, encodeEntry(c.expected)))
        );
      });
      const compares = [...entryCompares, ...absentCompares, ...plan.compares];
      const writes = [...entryWrites, ...plan.writes];
      const failure = [conflictRead, ...plan.reads.map((n) => getOp(this.keys.reservation(n)))];
      const drops = plan.drops.map((d) => d.op);
      // Markers go in as far as etcd's limit on operations leaves room (the drops' answers come last).
      let markOps = fullMarks(this.keys, change.pool, marks);
      while (
        markOps.length > 0 &&
        txnNeed(compares, [...writes, ...markOps, ...drops], failure) > MAX_TXN_OPS
      )
        markOps = markOps.slice(0, -1);
      const reply = await this.#txn(compares, [...writes, ...markOps, ...drops], failure, action, options);
      if (reply.succeeded === true) {
        this.#marked(change, marks.slice(0, markOps.length));
        const responses = reply.responses ?? [];
        const drops = responses.slice(responses.length - plan.drops.length);
        await this.#finishDrops(plan.drops, drops, action, options);
        await this.#markLeft(change, marks.slice(markOps.length), action, options);
        return { ok: true };
      }
      const reads = reply.responses ?? [];
      const poolRead = reads[0]?.response_txn;
      const poolKvs = rangedKvs(poolRead?.responses);
      // An indexed pool's else-branch read only the keys the change touches: nothing to keep.
      lost =
        poolRead?.succeeded === true ? undefined : this.#pool(change.pool, poolKvs, reply.header?.revision);
      // The part read's answers, as its own transaction would have given them at this revision.
      lostPart =
        poolRead?.succeeded === true && partRead !== undefined
          ? {
              ...(reply.header === undefined ? {} : { header: reply.header }),
              succeeded: true,
              responses: (poolRead.responses ?? []).slice(1 + checks.length + absent.length),
            }
          : undefined;
      const stored = new Map<string, KeyValue>();
      for (const kv of poolKvs) {
        const where = this.keys.parsePoolKey(decode(kv.key));
        if (where?.kind === "entry") stored.set(where.offset, kv);
      }
      for (const check of checks) {
        const kv = stored.get(check.offset);
        if (check.expected === undefined ? kv === undefined : kv !== undefined && holds(kv, check.expected))
          continue;
        if (kv !== undefined && check.expected !== undefined && kv.mod_revision !== undefined) {
          const key = this.keys.entry(change.pool, check.offset);
          if (sameAllocation(decodeEntry(key, decode(kv.value)), check.expected)) {
            // The expected allocation in another encoding (not written by this store): guard by revision.
            guards.set(check.offset, compareMod(key, kv.mod_revision));
            continue;
          }
        }
        return conflict({ ok: false, conflict: "entry", key: check.offset });
      }
      if (absent.length > 0) {
        // Not indexed (nor missing: the change came from a part that said checksAbsent): unchecked.
        if (poolRead?.succeeded !== true)
          return conflict({ ok: false, conflict: "entry", key: checks[0]?.offset ?? "" });
        const held = poolKvs.find((kv) => absent.some((prefix) => decode(kv.key).startsWith(prefix)));
        const where = held === undefined ? undefined : this.keys.parsePoolKey(decode(held.key));
        if (where?.kind === "index") return conflict({ ok: false, conflict: "entry", key: where.offset });
      }
      for (const [i, name] of plan.reads.entries())
        known.set(name, this.#reservationRead(name, reads[i + 1]));
    }
    // The same keys kept changing under us (other writers for the same owner): let the caller retry.
    throw new StoreUnavailableError(
      `Cannot ${action} etcd: the reservations it touches changed under ${MAX_ROUNDS} attempts in a row`,
    );
  }

  /** A linearizable read of one key under the prefix: proves a quorum answers and we may read. */
  async ping(options?: CallOptions): Promise<void> {
    await this.#call(
      "/v3/kv/range",
      { key: encode(this.keys.pools), range_end: prefixEnd(this.keys.pools), limit: 1, count_only: true },
      "reach",
      options,
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.close();
  }

  /**
   * Markers the commit had no room for (many blocks read full at once, as after a bulk import):
   * one more transaction, still guarded by each marker as read (a delete since opens it; the
   * commit's own creates only made the tails true). Best effort: a failure leaves them to later.
   */
  async #markLeft(
    change: PoolChange,
    left: readonly FullBlock[],
    action: string,
    options: CallOptions | undefined,
  ): Promise<void> {
    if (left.length === 0) return;
    const marks = left.slice(0, MAX_TXN_OPS - 1);
    try {
      await this.#txn([], fullMarks(this.keys, change.pool, marks), [], action, options);
      this.#marked(poolChange(change.pool, change.range), marks);
    } catch {
      // Only an optimisation: the commit stands, and later reads see the blocks again.
    }
  }

  /** After a commit: its marked blocks, and those it deleted in, are no candidates any more. */
  #marked(change: PoolChange, marked: readonly FullBlock[]): void {
    const candidates = this.#candidates.get(change.pool);
    if (candidates === undefined) return;
    const gone = new Set([...marked.map((m) => m.block), ...openedBlocks(change)]);
    const left = candidates.filter((c) => !gone.has(c.block));
    if (left.length > 0) this.#candidates.set(change.pool, left);
    else this.#candidates.delete(change.pool);
  }

  /**
   * Drops whose nested delete did not happen because the key held a value other than the one
   * expected: when that value is still the owner's (another container id, say), delete it at the
   * revision read, in another transaction. Anything else (absent, another owner) stays.
   */
  async #finishDrops(
    drops: readonly Drop[],
    responses: readonly ResponseOp[],
    action: string,
    options: CallOptions | undefined,
  ): Promise<void> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const known = new Map<string, Known>();
      const owners: Reservation[] = [];
      drops.forEach((drop, i) => {
        const nested = responses[i]?.response_txn;
        if (nested?.succeeded === true) return;
        const read = this.#reservationRead(drop.name, nested?.responses?.[0]);
        if (read.holder === undefined || !ownsReservation(read.holder, drop.owner)) return;
        known.set(drop.name, read);
        owners.push(drop.owner);
      });
      if (owners.length === 0) return;
      const plan = planReservations([], owners, known, (n) => this.keys.reservation(n));
      if (!plan.ok) return;
      drops = plan.drops;
      const reply = await this.#txn(
        [],
        plan.drops.map((d) => d.op),
        [],
        action,
        options,
      );
      responses = reply.responses ?? [];
    }
  }

  #reservationRead(name: string, response: ResponseOp | undefined): Known {
    const kv = response?.response_range?.kvs?.[0];
    if (kv === undefined) return { holder: undefined };
    return {
      holder: decodeReservation(name, this.keys.reservation(name), decode(kv.value)),
      modRevision: kv.mod_revision,
    };
  }

  #pool(name: string, kvs: readonly KeyValue[] | undefined, revision: string | undefined): PoolSnapshot {
    return decodePools(this.keys, kvs ?? [], revision ?? "0")[0] ?? emptyPool(name);
  }

  #txn(
    compare: readonly Compare[],
    success: readonly RequestOp[],
    failure: readonly RequestOp[],
    action: string,
    options: CallOptions | undefined,
  ): Promise<TxnResponse> {
    return this.#call<TxnResponse>("/v3/kv/txn", { compare, success, failure }, action, options);
  }

  /** Every key under `prefix`, in pages, all at the revision of the first page. */
  #list(
    prefix: string,
    action: string,
    options: CallOptions | undefined,
  ): Promise<{ kvs: KeyValue[]; revision: string | undefined }> {
    return listUnder((body) => this.#call<RangeResponse>("/v3/kv/range", body, action, options), prefix);
  }

  /** One request, bounded by the client's budget and the caller's deadline. */
  #call<T>(path: string, body: unknown, action: string, options: CallOptions | undefined): Promise<T> {
    if (this.#closed)
      return Promise.reject(new StoreUnavailableError(`Cannot ${action} etcd: the store is closed`));
    const deadline = options?.deadline;
    return this.#client.call<T>(
      path,
      body,
      action,
      deadline === undefined ? undefined : Date.now() + remainingMs(deadline),
    );
  }
}

/** One entry the change touches: what it must hold before (undefined = free) and what is written. */
interface EntryCheck {
  readonly offset: string;
  readonly expected: Allocation | undefined;
  readonly write: (key: string) => RequestOp;
}

/** The change's entries in contract order (create, update, remove); checkChange saw each offset once. */
function entryChecks(change: PoolChange): EntryCheck[] {
  return [
    ...change.create.map(([offset, a]) => ({
      offset,
      expected: undefined,
      write: (k: string) => putOp(k, encodeEntry(a)),
    })),
    ...change.update.map((u) => ({
      offset: u.key,
      expected: u.from,
      write: (k: string) => putOp(k, encodeEntry(u.to)),
    })),
    ...change.remove.map(([offset, a]) => ({ offset, expected: a, write: deleteOp })),
  ];
}

/**
 * What each reservation to take most likely holds now, so the first transaction usually holds:
 * the entry's old allocation when the change rewrites an entry for this owner (a repeated ADD from
 * a new container); the reservation itself when the change touches no entry (an ADD repeated
 * as is); otherwise nothing (a new address).
 */
function guessReservations(change: PoolChange): Map<string, Known> {
  const known = new Map<string, Known>();
  for (const r of change.reserve) {
    if (known.has(r.name)) continue;
    const rewritten = change.update.find((u) => sameOwner(u.to, r));
    // Recorded by this store with the same claim (the address and network do not change).
    const claim = r.claim === undefined ? {} : { claim: r.claim };
    if (r.replaces !== undefined)
      known.set(r.name, { holder: { name: r.name, ...ownerOf(r.replaces), ...claim } });
    else if (rewritten !== undefined)
      known.set(r.name, { holder: { name: r.name, ...ownerOf(rewritten.from), ...claim } });
    else if (change.create.length === 0 && change.update.length === 0 && change.remove.length === 0)
      known.set(r.name, { holder: r });
  }
  return known;
}

function holds(kv: KeyValue, expected: Allocation): boolean {
  return decode(kv.value) === encodeEntry(expected);
}

function readTls(config: EtcdSettings): TlsMaterial | undefined {
  const read = (label: string, path: string | undefined): string | undefined => {
    if (path === undefined || path === "") return undefined;
    try {
      return readConfigFile(path);
    } catch (error) {
      throw settingsFileError(error, `cannot read ${label} ${path}: ${fileReason(error)}`);
    }
  };
  const ca = read("etcd_ca_cert_file", config.caCertFile);
  const cert = read("etcd_cert_file", config.certFile);
  const key = read("etcd_key_file", config.keyFile);
  if ((cert === undefined) !== (key === undefined))
    throw new StoreSettingsError("etcd_cert_file and etcd_key_file must be given together");
  if (ca === undefined && cert === undefined) return undefined;
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}
