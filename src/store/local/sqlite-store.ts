// The embedded store of one host (datastore "local"): a SQLite file shared by every plugin process
// on the node. Each commit is one BEGIN IMMEDIATE transaction, so SQLite's write lock serialises
// writers across processes, and the per-entry checks inside it give callers the same optimistic
// concurrency as the cluster backends. A process killed mid-write leaves nothing behind: SQLite
// discards an uncommitted transaction, and the OS drops the dead process's locks.
import { StoreUnavailableError } from "../../errors/errors.ts";
import { capped, type Deadline, deadlineIn, expired, pause } from "../../ipam/retry.ts";
import {
  type Allocation,
  ownsReservation,
  type PoolSnapshot,
  type Reservation,
} from "../../pool/allocation.ts";
import { baseOfRange, sortableKey } from "../../pool/blocks.ts";
import type { Backoff } from "../../retry/backoff.ts";
import {
  type CallOptions,
  type CommitResult,
  checkChange,
  emptyPool,
  heldAsRecorded,
  mayReserve,
  type Owner,
  type PoolChange,
  type PoolPartReader,
  type ReadOptions,
  reserved,
  type Store,
  sameAllocation,
} from "../store.ts";
import { PART_SQL, readPart } from "./part-read.ts";
import { toAllocation, toReservation, toSnapshots } from "./rows.ts";
import { prepareConnection } from "./schema.ts";
import {
  isLockError,
  openSqliteDb,
  rollbackQuietly,
  type SqliteDb,
  type SqliteStatement,
} from "./sqlite-db.ts";
import { createFile, storeError } from "./store-file.ts";

export interface LocalStoreOptions {
  /**
   * How long opening or one store call waits for another process's lock before failing, default
   * 10 s; a call given a deadline (CallOptions) waits no longer than that.
   */
  readonly busyTimeoutMs?: number;
}

const DEFAULT_BUSY_TIMEOUT_MS = 10_000;

/**
 * Waits for another process's lock: SQLite itself never waits (busy_timeout 0, schema.ts), since
 * its wait blocks the thread; the store retries on a timer instead, so a node agent keeps serving
 * other pools and /healthz meanwhile. Short steps: a commit holds the lock for a few ms (one fsync).
 */
const LOCK_BACKOFF: Backoff = { baseMs: 1, capMs: 20 };

// One statement reads a pool, its entries and its release records, so the revision always matches
// what was read. Ordering by (length, key) lists plain decimal keys in address order; nothing
// relies on it.
const POOL_ROWS = (where: string) => `SELECT * FROM (
  SELECT p.name AS name, p."range" AS "range", p.version AS version, a.key AS key,
    a.container_id AS containerId, a.podref AS podRef, a.ifname AS ifName, a.owner AS owner,
    a.parked_at AS parkedAt, NULL AS releasedAt
    FROM pools AS p LEFT JOIN allocations AS a ON a.pool = p.name ${where}
  UNION ALL
  SELECT p.name, p."range", p.version, r.key, NULL, NULL, NULL, NULL, NULL, r.at_ms
    FROM pools AS p JOIN released AS r ON r.pool = p.name ${where})`;
const RESERVATION_COLUMNS = `name, podref AS podRef, ifname AS ifName, container_id AS containerId,
  address, network_name AS networkName`;
const SQL = {
  begin: "BEGIN IMMEDIATE",
  beginRead: "BEGIN",
  commit: "COMMIT",
  rollback: "ROLLBACK",
  readPool: `${POOL_ROWS("WHERE p.name = ?1")} ORDER BY length(key), key`,
  readPools: `${POOL_ROWS("")} ORDER BY name, length(key), key`,
  poolExists: "SELECT 1 FROM pools WHERE name = ?",
  createPool: `INSERT INTO pools (name, "range", version) VALUES (?, ?, 1)`,
  bumpVersion: "UPDATE pools SET version = version + 1 WHERE name = ?",
  readEntry: `SELECT container_id AS containerId, podref AS podRef, ifname AS ifName, owner,
    parked_at AS parkedAt FROM allocations WHERE pool = ? AND key = ?`,
  createEntry:
    "INSERT INTO allocations (pool, key, container_id, podref, ifname, owner, parked_at, sortable) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
  poolRange: `SELECT "range" FROM pools WHERE name = ?`,
  ...PART_SQL,
  updateEntry:
    "UPDATE allocations SET container_id = ?, podref = ?, ifname = ?, owner = ?, parked_at = ? WHERE pool = ? AND key = ?",
  removeEntry: "DELETE FROM allocations WHERE pool = ? AND key = ?",
  readReservation: `SELECT ${RESERVATION_COLUMNS} FROM reservations WHERE name = ?`,
  readReservations: `SELECT ${RESERVATION_COLUMNS} FROM reservations ORDER BY name`,
  createReservation:
    "INSERT INTO reservations (name, podref, ifname, container_id, address, network_name) VALUES (?, ?, ?, ?, ?, ?)",
  updateReservation: "UPDATE reservations SET container_id = ? WHERE name = ?",
  takeOverReservation:
    "UPDATE reservations SET podref = ?, ifname = ?, container_id = ?, address = ?, network_name = ? WHERE name = ?",
  setReleased: "INSERT OR REPLACE INTO released (pool, key, at_ms) VALUES (?, ?, ?)",
  forgetReleased: "DELETE FROM released WHERE pool = ? AND key = ?",
  removeReservation: "DELETE FROM reservations WHERE name = ?",
  removeReservationsOf: "DELETE FROM reservations WHERE podref = ? AND ifname = ? AND container_id = ?",
  ping: "SELECT 1 FROM pools LIMIT 1",
} as const;

/**
 * Opens the local store at `path`, creating the directory (mode 0700), the file (mode 0600) and
 * the schema as needed. Throws StoreUnavailableError when the file cannot be opened or stays
 * locked, StoredDataError when it is not a store this version understands.
 */
export async function openLocalStore(path: string, options: LocalStoreOptions = {}): Promise<Store> {
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0)
    throw new RangeError(
      `Cannot open local store as 'busyTimeoutMs' must be a non-negative integer: ${busyTimeoutMs}`,
    );
  let db: SqliteDb | undefined;
  try {
    createFile(path);
    db = openSqliteDb(path);
    const opened = db;
    await whenUnlocked(deadlineIn(busyTimeoutMs), () => prepareConnection(opened, path));
    return new LocalStore(db, path, busyTimeoutMs);
  } catch (error) {
    try {
      db?.close();
    } catch {
      // Closing is best effort here; the open error is the one to report.
    }
    throw storeError(`open local store ${path}`, error);
  }
}

/**
 * Runs `work` (which must be safe to repeat after a lock error: a statement, or a transaction it
 * rolls back) until it gets the locks it needs, waiting asynchronously between attempts, until
 * the deadline; then the last lock error is thrown. Besides writers, a WAL reader may meet
 * SQLITE_BUSY while another process recovers the WAL after a crash or cleans up as the last
 * connection to close (sqlite.org/wal.html, "Sometimes Queries Return SQLITE_BUSY In WAL Mode").
 */
async function whenUnlocked<T>(deadline: Deadline, work: () => T, stillOpen = () => true): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return work();
    } catch (error) {
      if (!isLockError(error) || expired(deadline)) throw error;
      await pause(deadline, attempt, LOCK_BACKOFF);
      if (!stillOpen()) throw error;
    }
  }
}

class LocalStore implements Store {
  readonly datastore = "local" as const;
  readonly #db: SqliteDb;
  readonly #path: string;
  readonly #statements = new Map<string, SqliteStatement>();
  readonly #lockWaitMs: number;
  #closed = false;

  constructor(db: SqliteDb, path: string, lockWaitMs: number) {
    this.#db = db;
    this.#path = path;
    this.#lockWaitMs = lockWaitMs;
  }

  async getPool(name: string, options?: ReadOptions): Promise<PoolSnapshot> {
    const rows = await this.#use(`read pool ${name} from`, () => this.#stmt(SQL.readPool).all(name), options);
    return toSnapshots(rows)[0] ?? emptyPool(name);
  }

  readonly parts: PoolPartReader = {
    getPoolPart: (name, query, options) =>
      this.#use(
        `read part of pool ${name} from`,
        () => this.#reading(() => readPart((sql) => this.#stmt(sql), name, query)),
        options,
      ),
  };

  async listPools(options?: CallOptions): Promise<readonly PoolSnapshot[]> {
    return toSnapshots(await this.#use("list pools in", () => this.#stmt(SQL.readPools).all(), options));
  }

  async getReservation(name: string, options?: CallOptions): Promise<Reservation | undefined> {
    const row = await this.#use(
      `read reservation ${name} from`,
      () => this.#stmt(SQL.readReservation).get(name),
      options,
    );
    return row === undefined ? undefined : toReservation(row);
  }

  async listReservations(options?: CallOptions): Promise<readonly Reservation[]> {
    const rows = await this.#use(
      "list reservations in",
      () => this.#stmt(SQL.readReservations).all(),
      options,
    );
    return rows.map(toReservation);
  }

  async commit(change: PoolChange, options?: CallOptions): Promise<CommitResult> {
    checkChange(change);
    return this.#use(
      `commit pool ${change.pool} to`,
      () => this.#transaction(() => this.#apply(change)),
      options,
    );
  }

  async dropReservations(
    reservations: readonly Reservation[],
    options?: CallOptions,
  ): Promise<readonly Reservation[]> {
    if (reservations.length === 0) return [];
    return this.#use(
      "drop reservations from",
      () =>
        this.#transaction(() => {
          const dropped: Reservation[] = [];
          for (const r of reservations) {
            const row = this.#stmt(SQL.readReservation).get(r.name);
            if (row === undefined || !heldAsRecorded(toReservation(row), r)) continue;
            this.#stmt(SQL.removeReservation).run(r.name);
            dropped.push(r);
          }
          return { ok: true, dropped };
        }).dropped,
      options,
    );
  }

  async dropReservationsOf(owner: Owner, options?: CallOptions): Promise<number> {
    return this.#use(
      `drop reservations of ${owner.podRef} from`,
      () => {
        const result = this.#stmt(SQL.removeReservationsOf).run(
          owner.podRef,
          owner.ifName,
          owner.containerId,
        ) as {
          changes: number | bigint;
        };
        return Number(result.changes);
      },
      options,
    );
  }

  async ping(options?: CallOptions): Promise<void> {
    await this.#use("reach", () => this.#stmt(SQL.ping).get(), options);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#statements.clear();
    this.#db.close();
  }

  /** Runs `work` in one read transaction: every statement of it reads the same snapshot. */
  #reading<T>(work: () => T): T {
    this.#stmt(SQL.beginRead).run();
    try {
      const result = work();
      this.#stmt(SQL.commit).run();
      return result;
    } catch (error) {
      rollbackQuietly(this.#db);
      throw error;
    }
  }

  /** Runs `work` in one write transaction: committed when it answers ok, else rolled back. */
  #transaction<T extends { readonly ok: boolean }>(work: () => T): T {
    this.#stmt(SQL.begin).run();
    try {
      const result = work();
      this.#stmt(result.ok ? SQL.commit : SQL.rollback).run();
      return result;
    } catch (error) {
      rollbackQuietly(this.#db);
      throw error;
    }
  }

  /**
   * The body of a commit, inside the write transaction; the caller commits or rolls back. Each
   * part is checked and applied in turn, and a conflict anywhere is undone by the caller's ROLLBACK.
   */
  #apply(change: PoolChange): CommitResult {
    const pool = change.pool;
    // Offsets count from the range the pool has, or gets with this change.
    const range = change.create.length === 0 ? undefined : this.#stmt(SQL.poolRange).get(pool)?.["range"];
    const base = change.create.length === 0 ? undefined : baseOfRange(String(range ?? change.range));
    for (const [key, allocation] of change.create) {
      if (this.#entry(pool, key) !== undefined) return { ok: false, conflict: "entry", key };
      const { containerId, podRef, ifName, owner, parkedAt } = allocation;
      this.#stmt(SQL.createEntry).run(
        pool,
        key,
        containerId,
        podRef,
        ifName,
        owner ?? null,
        parkedAt ?? null,
        base === undefined ? null : (sortableKey(base, key) ?? null),
      );
    }
    for (const { key, from, to } of change.update) {
      if (!this.#holds(pool, key, from)) return { ok: false, conflict: "entry", key };
      const { containerId, podRef, ifName, owner, parkedAt } = to;
      this.#stmt(SQL.updateEntry).run(
        containerId,
        podRef,
        ifName,
        owner ?? null,
        parkedAt ?? null,
        pool,
        key,
      );
    }
    for (const [key, allocation] of change.remove) {
      if (!this.#holds(pool, key, allocation)) return { ok: false, conflict: "entry", key };
      this.#stmt(SQL.removeEntry).run(pool, key);
    }
    for (const wanted of change.reserve) {
      const row = this.#stmt(SQL.readReservation).get(wanted.name);
      if (row === undefined) {
        this.#stmt(SQL.createReservation).run(
          wanted.name,
          wanted.podRef,
          wanted.ifName,
          wanted.containerId,
          wanted.claim?.address ?? null,
          wanted.claim?.networkName ?? null,
        );
        continue;
      }
      const holder = toReservation(row);
      const may = mayReserve(holder, wanted);
      if (may === undefined) return { ok: false, conflict: "reservation", holder };
      if (may === "same") {
        this.#stmt(SQL.updateReservation).run(wanted.containerId, wanted.name);
        continue;
      }
      const r = reserved(holder, wanted);
      this.#stmt(SQL.takeOverReservation).run(
        r.podRef,
        r.ifName,
        r.containerId,
        r.claim?.address ?? null,
        r.claim?.networkName ?? null,
        r.name,
      );
    }
    for (const owner of change.unreserve) {
      const row = this.#stmt(SQL.readReservation).get(owner.name);
      if (row !== undefined && ownsReservation(toReservation(row), owner))
        this.#stmt(SQL.removeReservation).run(owner.name);
    }
    for (const owner of change.dropOwners ?? [])
      this.#stmt(SQL.removeReservationsOf).run(owner.podRef, owner.ifName, owner.containerId);
    // A missing pool comes to exist with its first entry; every commit to an existing one bumps its revision.
    if (this.#stmt(SQL.poolExists).get(pool) !== undefined) this.#stmt(SQL.bumpVersion).run(pool);
    else if (change.create.length > 0) this.#stmt(SQL.createPool).run(pool, change.range);
    else return { ok: true };
    // Release records belong to a pool that exists (as on the cluster stores, where they are part of it).
    for (const key of change.forget ?? []) this.#stmt(SQL.forgetReleased).run(pool, key);
    for (const [key, atMs] of change.release ?? []) this.#stmt(SQL.setReleased).run(pool, key, atMs);
    return { ok: true };
  }

  #entry(pool: string, key: string): Allocation | undefined {
    const row = this.#stmt(SQL.readEntry).get(pool, key);
    return row === undefined ? undefined : toAllocation(row);
  }

  #holds(pool: string, key: string, expected: Allocation): boolean {
    const current = this.#entry(pool, key);
    return current !== undefined && sameAllocation(current, expected);
  }

  /** Prepared once per connection: a plugin process runs each statement a few times at most. */
  #stmt(sql: string): SqliteStatement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /**
   * Runs one store call, waiting for other processes' locks up to the store's budget or the
   * caller's deadline, whichever comes first.
   */
  async #use<T>(action: string, run: () => T, options: CallOptions | undefined): Promise<T> {
    const where = `${action} local store ${this.#path}`;
    if (this.#closed) throw new StoreUnavailableError(`Cannot ${where}: store is closed`);
    const deadline = capped(this.#lockWaitMs, options?.deadline);
    if (expired(deadline)) throw new StoreUnavailableError(`Cannot ${where}: the call's deadline has passed`);
    const started = performance.now();
    try {
      return await whenUnlocked(deadline, run, () => !this.#closed);
    } catch (error) {
      if (this.#closed) throw new StoreUnavailableError(`Cannot ${where}: store is closed`);
      if (!isLockError(error)) throw storeError(where, error);
      const waited = Math.round(performance.now() - started);
      throw storeError(`${where} (waited ${waited} ms for another process's lock)`, error);
    }
  }
}
