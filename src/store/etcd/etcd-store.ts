// The etcd datastore (datastore "etcd"): pools and overlapping-range reservations as JSON values
// under a key prefix (layout in documents.ts and docs/etcd.md). A pool's version is its key's
// mod_revision, and every commit is one etcd transaction that compares the revisions (or values)
// it read, so concurrent writers need no lock: exactly one of two racing commits succeeds.
// Uncontended, an ADD costs two calls (read the pool, one transaction), plus one to authenticate.
import { readFileSync } from "node:fs";
import type { EtcdConfig } from "../../config/types.ts";
import { ConfigError, describe, StoreUnavailableError } from "../../errors/errors.ts";
import type { Allocation, PoolSnapshot, Reservation } from "../../pool/allocation.ts";
import { type CommitResult, emptyPool, type PoolChange, type Store } from "../store.ts";
import { decodePool, decodeReservation, EtcdKeys, encodePool } from "./documents.ts";
import {
  compareAbsent,
  compareMod,
  decode,
  encode,
  getOp,
  type KeyValue,
  prefixEnd,
  putOp,
  type RangeResponse,
  type TxnResponse,
} from "./etcd-api.ts";
import { EtcdClient, type EtcdKv } from "./etcd-client.ts";
import { type Observed, planReservations } from "./reservation-plan.ts";
import { createTransport, type TlsMaterial } from "./transport.ts";

export interface EtcdStoreOptions {
  /** Budget of one store call (fail-over and retries included); default 10 s. */
  readonly timeoutMs?: number;
  /** Budget of one request to one member; default min(2 s, timeoutMs). */
  readonly attemptTimeoutMs?: number;
}

export const DEFAULT_ETCD_TIMEOUT_MS = 10_000;
const DEFAULT_ATTEMPT_TIMEOUT_MS = 2_000;
/** Rounds of one commit spent re-reading reservations that changed under it before reporting a conflict. */
const MAX_RESERVATION_ROUNDS = 8;
const LIST_PAGE = 100;

/**
 * Opens the etcd store. Reads the TLS files now (ConfigError when one cannot be read); makes no
 * request until the first call, so opening never blocks on the network.
 */
export async function openEtcdStore(config: EtcdConfig, options: EtcdStoreOptions = {}): Promise<EtcdStore> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_ETCD_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0)
    throw new RangeError(`Cannot open etcd store as 'timeoutMs' must be a positive integer: ${timeoutMs}`);
  const tls = readTls(config);
  const client = new EtcdClient({
    endpoints: config.endpoints,
    username: config.username,
    password: config.password,
    timeoutMs,
    attemptTimeoutMs: Math.min(timeoutMs, options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS),
    transport: createTransport(tls),
    tls,
  });
  return new EtcdStore(client, new EtcdKeys(config.prefix));
}

export class EtcdStore implements Store {
  readonly datastore = "etcd" as const;
  readonly keys: EtcdKeys;
  readonly #client: EtcdKv;
  /** The last pool document read or written per pool: a commit at that version need not read it again. */
  readonly #seen = new Map<string, PoolSnapshot>();
  /**
   * The pool as the else-branch of a transaction that just lost a race read it. The next getPool
   * of that pool returns it instead of asking again: a retry after a conflict costs one call (the
   * transaction), not two. Used once; any later read goes to etcd.
   */
  readonly #loser = new Map<string, PoolSnapshot>();
  #closed = false;

  constructor(client: EtcdKv, keys: EtcdKeys) {
    this.#client = client;
    this.keys = keys;
  }

  /** HTTP requests sent to etcd so far (authentication and retries included). */
  get requests(): number {
    return this.#client.requests;
  }

  async getPool(name: string): Promise<PoolSnapshot> {
    const fresh = this.#loser.get(name);
    if (fresh !== undefined && !this.#closed) {
      this.#loser.delete(name);
      return fresh;
    }
    return this.#read(name);
  }

  async #read(name: string): Promise<PoolSnapshot> {
    const key = this.keys.pool(name);
    const reply = await this.#call<RangeResponse>(
      "/v3/kv/range",
      { key: encode(key) },
      `read pool ${name} from`,
    );
    return this.#remember(name, reply.kvs?.[0]);
  }

  async listPools(): Promise<readonly PoolSnapshot[]> {
    const kvs = await this.#list(this.keys.pools, "list pools in");
    return kvs.map((kv) => {
      const key = decode(kv.key);
      return decodePool(key.slice(this.keys.pools.length), key, decode(kv.value), kv.mod_revision ?? "0");
    });
  }

  async getReservation(name: string): Promise<Reservation | undefined> {
    const key = this.keys.reservation(name);
    const reply = await this.#call<RangeResponse>(
      "/v3/kv/range",
      { key: encode(key) },
      `read reservation ${name} from`,
    );
    const kv = reply.kvs?.[0];
    return kv === undefined ? undefined : decodeReservation(name, key, decode(kv.value));
  }

  async listReservations(): Promise<readonly Reservation[]> {
    const kvs = await this.#list(this.keys.reservations, "list reservations in");
    return kvs.map((kv) => {
      const key = decode(kv.key);
      return decodeReservation(key.slice(this.keys.reservations.length), key, decode(kv.value));
    });
  }

  /**
   * One transaction: IF the pool key is at `expectedVersion` (absent when undefined) AND every
   * reservation key is as planned THEN write the pool and reservations ELSE read them all back.
   * A failed compare on the pool is a pool conflict; on a reservation, the plan is redone from
   * what the else-branch read (a reservation held by the same owner is accepted) and tried again.
   */
  async commit(change: PoolChange): Promise<CommitResult> {
    const action = `commit pool ${change.pool} to`;
    this.#loser.delete(change.pool);
    const base = await this.#base(change);
    if (base === undefined) return { ok: false, conflict: "pool" };
    const poolKey = this.keys.pool(change.pool);
    const allocations = new Map<string, Allocation>(base.allocations);
    for (const key of change.remove) allocations.delete(key);
    for (const [key, allocation] of change.set) allocations.set(key, allocation);
    const range = base.version === undefined ? change.range : base.range;
    const poolText = encodePool(range, allocations);
    const poolGuard = base.version === undefined ? compareAbsent(poolKey) : compareMod(poolKey, base.version);

    const observed = new Map<string, Observed>();
    for (let round = 0; round < MAX_RESERVATION_ROUNDS; round++) {
      const plan = planReservations(change.reserve, change.unreserve, observed, (n) =>
        this.keys.reservation(n),
      );
      if (!plan.ok) return { ok: false, conflict: "reservation", holder: plan.holder };
      const reply = await this.#call<TxnResponse>(
        "/v3/kv/txn",
        {
          compare: [poolGuard, ...plan.compares],
          success: [putOp(poolKey, poolText), ...plan.writes],
          failure: [getOp(poolKey), ...plan.names.map((n) => getOp(this.keys.reservation(n)))],
        },
        action,
      );
      if (reply.succeeded === true) {
        const version = reply.header?.revision;
        if (version !== undefined)
          this.#seen.set(change.pool, { name: change.pool, range, allocations, version });
        return { ok: true };
      }
      const reads = (reply.responses ?? []).map((r) => r.response_range?.kvs?.[0]);
      const pool = this.#remember(change.pool, reads[0]);
      if (pool.version !== base.version) {
        this.#loser.set(change.pool, pool);
        return { ok: false, conflict: "pool" };
      }
      plan.names.forEach((name, i) => {
        const kv = reads[i + 1];
        const key = this.keys.reservation(name);
        observed.set(name, {
          holder: kv === undefined ? undefined : decodeReservation(name, key, decode(kv.value)),
          modRevision: kv?.mod_revision,
        });
      });
    }
    // Reservations kept changing under us (other writers on the same addresses): let the caller retry.
    return { ok: false, conflict: "pool" };
  }

  /** A linearizable read of one key under the prefix: proves a quorum answers and we may read. */
  async ping(): Promise<void> {
    await this.#call(
      "/v3/kv/range",
      { key: encode(this.keys.pools), range_end: prefixEnd(this.keys.pools), limit: 1, count_only: true },
      "reach",
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.close();
  }

  /** The pool at `expectedVersion`: remembered from the last read, else read now; undefined if it moved on. */
  async #base(change: PoolChange): Promise<PoolSnapshot | undefined> {
    if (change.expectedVersion === undefined) return emptyPool(change.pool);
    let pool = this.#seen.get(change.pool);
    // Revisions only grow: a version older than one already seen is stale without asking.
    if (pool?.version !== undefined && olderThan(change.expectedVersion, pool.version)) return undefined;
    if (pool?.version !== change.expectedVersion) {
      pool = await this.#read(change.pool);
      if (pool.version !== change.expectedVersion) {
        this.#loser.set(change.pool, pool);
        return undefined;
      }
    }
    return pool;
  }

  #remember(name: string, kv: KeyValue | undefined): PoolSnapshot {
    if (kv === undefined) {
      this.#seen.delete(name);
      return emptyPool(name);
    }
    const pool = decodePool(name, this.keys.pool(name), decode(kv.value), kv.mod_revision ?? "0");
    this.#seen.set(name, pool);
    return pool;
  }

  /** Every key under `prefix`, in pages, all at the revision of the first page. */
  async #list(prefix: string, action: string): Promise<KeyValue[]> {
    const all: KeyValue[] = [];
    const end = prefixEnd(prefix);
    let from = encode(prefix);
    let revision: string | undefined;
    for (;;) {
      const request = { key: from, range_end: end, limit: LIST_PAGE, ...(revision ? { revision } : {}) };
      const reply = await this.#call<RangeResponse>("/v3/kv/range", request, action);
      revision ??= reply.header?.revision;
      const kvs = reply.kvs ?? [];
      all.push(...kvs);
      if (reply.more !== true || kvs.length === 0) return all;
      // Continue just after the last key: append a zero byte.
      from = Buffer.concat([Buffer.from(kvs.at(-1)!.key, "base64"), Buffer.from([0])]).toString("base64");
    }
  }

  #call<T>(path: string, body: unknown, action: string): Promise<T> {
    if (this.#closed)
      return Promise.reject(new StoreUnavailableError(`Cannot ${action} etcd: the store is closed`));
    return this.#client.call<T>(path, body, action);
  }
}

function olderThan(a: string, b: string): boolean {
  return /^\d+$/.test(a) && /^\d+$/.test(b) && BigInt(a) < BigInt(b);
}

function readTls(config: EtcdConfig): TlsMaterial | undefined {
  const read = (label: string, path: string | undefined): string | undefined => {
    if (path === undefined || path === "") return undefined;
    try {
      return readFileSync(path, "utf8");
    } catch (error) {
      throw new ConfigError(`cannot read ${label} ${path}: ${describe(error)}`);
    }
  };
  const ca = read("etcd_ca_cert_file", config.caCertFile);
  const cert = read("etcd_cert_file", config.certFile);
  const key = read("etcd_key_file", config.keyFile);
  if ((cert === undefined) !== (key === undefined))
    throw new ConfigError("etcd_cert_file and etcd_key_file must be given together");
  if (ca === undefined && cert === undefined) return undefined;
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}
