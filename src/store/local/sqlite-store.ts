// The embedded store of one host (datastore "local"): a SQLite file shared by every plugin process
// on the node. Each commit is one BEGIN IMMEDIATE transaction, so SQLite's write lock serialises
// writers across processes, and the version check inside it gives callers the same optimistic
// concurrency as the cluster backends. A process killed mid-write leaves nothing behind: SQLite
// discards an uncommitted transaction, and the OS drops the dead process's locks.
import { closeSync, fsyncSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { describe, StoredDataError, StoreUnavailableError } from "../../errors/errors.ts";
import { ownsReservation, type PoolSnapshot, type Reservation } from "../../pool/allocation.ts";
import { type CommitResult, emptyPool, type PoolChange, type Store } from "../store.ts";
import { toReservation, toSnapshots } from "./rows.ts";
import { prepareConnection } from "./schema.ts";
import {
  openSqliteDb,
  rollbackQuietly,
  SQLITE,
  type SqliteDb,
  type SqliteStatement,
  sqliteCode,
} from "./sqlite-db.ts";

export interface LocalStoreOptions {
  /** How long a commit waits for another process's write lock before failing; default 10 s. */
  readonly busyTimeoutMs?: number;
}

const DEFAULT_BUSY_TIMEOUT_MS = 10_000;

// One statement reads a pool and its entries, so the version always matches the entries read.
// Ordering by (length, key) lists plain decimal keys in address order; nothing relies on it.
const POOL_COLUMNS = `p.name AS name, p."range" AS "range", p.version AS version, a.key AS key,
  a.container_id AS containerId, a.podref AS podRef, a.ifname AS ifName
  FROM pools AS p LEFT JOIN allocations AS a ON a.pool = p.name`;
const SQL = {
  begin: "BEGIN IMMEDIATE",
  commit: "COMMIT",
  rollback: "ROLLBACK",
  readPool: `SELECT ${POOL_COLUMNS} WHERE p.name = ? ORDER BY length(a.key), a.key`,
  readPools: `SELECT ${POOL_COLUMNS} ORDER BY p.name, length(a.key), a.key`,
  poolVersion: "SELECT version FROM pools WHERE name = ?",
  createPool: `INSERT INTO pools (name, "range", version) VALUES (?, ?, 1)`,
  bumpVersion: "UPDATE pools SET version = version + 1 WHERE name = ?",
  setEntry:
    "INSERT OR REPLACE INTO allocations (pool, key, container_id, podref, ifname) VALUES (?, ?, ?, ?, ?)",
  removeEntry: "DELETE FROM allocations WHERE pool = ? AND key = ?",
  readReservation:
    "SELECT name, podref AS podRef, ifname AS ifName, container_id AS containerId FROM reservations WHERE name = ?",
  readReservations:
    "SELECT name, podref AS podRef, ifname AS ifName, container_id AS containerId FROM reservations ORDER BY name",
  createReservation: "INSERT INTO reservations (name, podref, ifname, container_id) VALUES (?, ?, ?, ?)",
  updateReservation: "UPDATE reservations SET container_id = ? WHERE name = ?",
  removeReservation: "DELETE FROM reservations WHERE name = ?",
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
    prepareConnection(db, path, busyTimeoutMs);
    return new LocalStore(db, path);
  } catch (error) {
    try {
      db?.close();
    } catch {
      // Closing is best effort here; the open error is the one to report.
    }
    throw storeError(`open local store ${path}`, error);
  }
}

class LocalStore implements Store {
  readonly datastore = "local" as const;
  readonly #db: SqliteDb;
  readonly #path: string;
  readonly #statements = new Map<string, SqliteStatement>();
  #closed = false;

  constructor(db: SqliteDb, path: string) {
    this.#db = db;
    this.#path = path;
  }

  async getPool(name: string): Promise<PoolSnapshot> {
    const rows = this.#use(`read pool ${name} from`, () => this.#stmt(SQL.readPool).all(name));
    return toSnapshots(rows)[0] ?? emptyPool(name);
  }

  async listPools(): Promise<readonly PoolSnapshot[]> {
    return toSnapshots(this.#use("list pools in", () => this.#stmt(SQL.readPools).all()));
  }

  async getReservation(name: string): Promise<Reservation | undefined> {
    const row = this.#use(`read reservation ${name} from`, () => this.#stmt(SQL.readReservation).get(name));
    return row === undefined ? undefined : toReservation(row);
  }

  async listReservations(): Promise<readonly Reservation[]> {
    return this.#use("list reservations in", () => this.#stmt(SQL.readReservations).all()).map(toReservation);
  }

  async commit(change: PoolChange): Promise<CommitResult> {
    return this.#use(`commit pool ${change.pool} to`, () => {
      this.#stmt(SQL.begin).run();
      try {
        const result = this.#apply(change);
        this.#stmt(result.ok ? SQL.commit : SQL.rollback).run();
        return result;
      } catch (error) {
        rollbackQuietly(this.#db);
        throw error;
      }
    });
  }

  async ping(): Promise<void> {
    this.#use("reach", () => this.#stmt(SQL.ping).get());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#statements.clear();
    this.#db.close();
  }

  /** The body of a commit, inside the write transaction; the caller commits or rolls back. */
  #apply(change: PoolChange): CommitResult {
    const current = this.#stmt(SQL.poolVersion).get(change.pool);
    const stale =
      change.expectedVersion === undefined
        ? current !== undefined
        : current === undefined || String(current["version"]) !== change.expectedVersion;
    if (stale) return { ok: false, conflict: "pool" };

    // Applied one by one, so a name reserved twice in one change is checked against the first.
    for (const wanted of change.reserve) {
      const row = this.#stmt(SQL.readReservation).get(wanted.name);
      if (row === undefined) {
        this.#stmt(SQL.createReservation).run(wanted.name, wanted.podRef, wanted.ifName, wanted.containerId);
        continue;
      }
      const holder = toReservation(row);
      if (!ownsReservation(holder, wanted)) return { ok: false, conflict: "reservation", holder };
      this.#stmt(SQL.updateReservation).run(wanted.containerId, wanted.name);
    }
    for (const key of change.remove) this.#stmt(SQL.removeEntry).run(change.pool, key);
    for (const [key, a] of change.set)
      this.#stmt(SQL.setEntry).run(change.pool, key, a.containerId, a.podRef, a.ifName);
    for (const owner of change.unreserve) {
      const row = this.#stmt(SQL.readReservation).get(owner.name);
      if (row !== undefined && ownsReservation(toReservation(row), owner))
        this.#stmt(SQL.removeReservation).run(owner.name);
    }

    if (current === undefined) this.#stmt(SQL.createPool).run(change.pool, change.range);
    else this.#stmt(SQL.bumpVersion).run(change.pool);
    return { ok: true };
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

  #use<T>(action: string, run: () => T): T {
    if (this.#closed)
      throw new StoreUnavailableError(`Cannot ${action} local store ${this.#path}: store is closed`);
    try {
      return run();
    } catch (error) {
      throw storeError(`${action} local store ${this.#path}`, error);
    }
  }
}

/** Creates the directory and an empty file with owner-only modes; SQLite gives its -wal and -shm the file's mode. */
function createFile(path: string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return;
    throw error;
  }
  closeSync(fd);
  // Make the new directory entry durable before any commit is reported from this file.
  const dirFd = openSync(dir, "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** Our own errors pass through; a file that is not a SQLite database is stored-data trouble, the rest is unavailability. */
function storeError(action: string, error: unknown): Error {
  if (error instanceof StoredDataError || error instanceof StoreUnavailableError) return error;
  const code = sqliteCode(error);
  if (code === SQLITE.corrupt || code === SQLITE.notADatabase)
    return new StoredDataError(`Cannot ${action}: ${describe(error)}`);
  return new StoreUnavailableError(`Cannot ${action}: ${describe(error)}`, { cause: error });
}
