// Connection settings and the on-disk schema of the local store. Many short-lived plugin processes
// open the same file at once, so every step here is safe to run concurrently and cheap to repeat:
// once the file is at SCHEMA_VERSION an open costs three pragmas and one header read.
import { StoredDataError } from "../../errors/errors.ts";
import { baseOfRange, sortableKey } from "../../pool/blocks.ts";
import { rollbackQuietly, type SqliteDb } from "./sqlite-db.ts";

/** `PRAGMA user_version` of the files this code writes. A newer file is refused, never rewritten. */
export const SCHEMA_VERSION = 4;

/** The block of a sortable offset: its first 30 hex digits (offset >> 8, pool/blocks.ts). */
export const BLOCK_DIGITS = 30;

// Keys stay TEXT so legacy forms ("+5", "007", "-3") and offsets >= 2^63 round-trip verbatim.
// The pool version is a revision (for diagnostics) bumped by every commit; pools are never
// deleted, so it never repeats for a name. A reservation's address and network_name are its
// claim (both NULL when none was recorded). An entry's owner and parked_at (ms since the epoch)
// are NULL for an address that goes with its pod; `released` holds when each address was last
// released (the reuse cooldown), per pool.
//
// Part reads (Store.parts, version 4): an entry's `sortable` is the sortable offset of its key
// (pool/blocks.ts, counted from the IP in its pool's range; NULL for a key that denotes no
// address), written by the store with the entry. `blocks` counts, per pool and block (the first
// 30 hex digits of `sortable`), the distinct offsets that hold an entry: "5" and "005" are one
// offset, counted once, so a block is full exactly when its count is BLOCK_SIZE (256). Triggers
// keep the counts in the transaction of every insert, delete or re-keying of an entry, whoever
// writes it. A block no entry is in has no row.
const PARTS = `
CREATE TABLE IF NOT EXISTS blocks (
  pool TEXT NOT NULL,
  block TEXT NOT NULL,
  used INTEGER NOT NULL,
  PRIMARY KEY (pool, block)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS allocations_by_offset ON allocations (pool, sortable);
CREATE INDEX IF NOT EXISTS allocations_by_attachment ON allocations (pool, podref, ifname);
CREATE INDEX IF NOT EXISTS allocations_by_owner ON allocations (pool, owner, ifname);
CREATE TRIGGER IF NOT EXISTS allocations_counted AFTER INSERT ON allocations
WHEN NEW.sortable IS NOT NULL AND NOT EXISTS (
  SELECT 1 FROM allocations WHERE pool = NEW.pool AND sortable = NEW.sortable AND key <> NEW.key)
BEGIN
  INSERT INTO blocks (pool, block, used) VALUES (NEW.pool, substr(NEW.sortable, 1, ${BLOCK_DIGITS}), 1)
    ON CONFLICT (pool, block) DO UPDATE SET used = used + 1;
END;
CREATE TRIGGER IF NOT EXISTS allocations_uncounted AFTER DELETE ON allocations
WHEN OLD.sortable IS NOT NULL AND NOT EXISTS (
  SELECT 1 FROM allocations WHERE pool = OLD.pool AND sortable = OLD.sortable)
BEGIN
  UPDATE blocks SET used = used - 1 WHERE pool = OLD.pool AND block = substr(OLD.sortable, 1, ${BLOCK_DIGITS});
  DELETE FROM blocks WHERE pool = OLD.pool AND block = substr(OLD.sortable, 1, ${BLOCK_DIGITS}) AND used <= 0;
END;
CREATE TRIGGER IF NOT EXISTS allocations_recounted AFTER UPDATE OF pool, key, sortable ON allocations
WHEN OLD.pool IS NOT NEW.pool OR OLD.sortable IS NOT NEW.sortable
BEGIN
  UPDATE blocks SET used = used - 1
    WHERE OLD.sortable IS NOT NULL AND pool = OLD.pool AND block = substr(OLD.sortable, 1, ${BLOCK_DIGITS})
      AND NOT EXISTS (SELECT 1 FROM allocations WHERE pool = OLD.pool AND sortable = OLD.sortable);
  DELETE FROM blocks WHERE pool = OLD.pool AND block = substr(OLD.sortable, 1, ${BLOCK_DIGITS}) AND used <= 0;
  INSERT INTO blocks (pool, block, used)
    SELECT NEW.pool, substr(NEW.sortable, 1, ${BLOCK_DIGITS}), 1
    WHERE NEW.sortable IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM allocations WHERE pool = NEW.pool AND sortable = NEW.sortable AND key <> NEW.key)
    ON CONFLICT (pool, block) DO UPDATE SET used = used + 1;
END;
`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS pools (
  name TEXT NOT NULL PRIMARY KEY,
  "range" TEXT NOT NULL,
  version INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS allocations (
  pool TEXT NOT NULL,
  key TEXT NOT NULL,
  container_id TEXT NOT NULL,
  podref TEXT NOT NULL,
  ifname TEXT NOT NULL,
  owner TEXT,
  parked_at INTEGER,
  sortable TEXT,
  PRIMARY KEY (pool, key)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reservations (
  name TEXT NOT NULL PRIMARY KEY,
  podref TEXT NOT NULL,
  ifname TEXT NOT NULL,
  container_id TEXT NOT NULL,
  address TEXT,
  network_name TEXT
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS released (
  pool TEXT NOT NULL,
  key TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  PRIMARY KEY (pool, key)
) STRICT, WITHOUT ROWID;
${PARTS}`;

/** UPGRADES[v - 1] turns a file at version v into one at v + 1. */
const UPGRADES: readonly (string | ((db: SqliteDb) => void))[] = [
  // 1 → 2: reservations record their claim. Older rows keep NULL (no claim), as Go's do.
  "ALTER TABLE reservations ADD COLUMN address TEXT; ALTER TABLE reservations ADD COLUMN network_name TEXT;",
  // 2 → 3: sticky entries and release records. Older entries keep NULL (no owner, not parked).
  `ALTER TABLE allocations ADD COLUMN owner TEXT; ALTER TABLE allocations ADD COLUMN parked_at INTEGER;
   CREATE TABLE released (pool TEXT NOT NULL, key TEXT NOT NULL, at_ms INTEGER NOT NULL,
     PRIMARY KEY (pool, key)) STRICT, WITHOUT ROWID;`,
  // 3 → 4: part reads. Every entry gets its sortable offset, the triggers counting as it does.
  (db) => {
    db.exec(`ALTER TABLE allocations ADD COLUMN sortable TEXT; ${PARTS}`);
    const set = db.prepare("UPDATE allocations SET sortable = ? WHERE pool = ? AND key = ?");
    for (const pool of db.prepare(`SELECT name, "range" FROM pools`).all()) {
      const name = pool["name"] as string;
      const base = baseOfRange(String(pool["range"]));
      if (base === undefined) continue;
      for (const row of db.prepare("SELECT key FROM allocations WHERE pool = ?").all(name)) {
        const key = row["key"] as string;
        const sortable = sortableKey(base, key);
        if (sortable !== undefined) set.run(sortable, name, key);
      }
    }
  },
];

/**
 * Sets the connection up: never waits for locks inside SQLite (busy_timeout 0: a wait there
 * blocks the whole process, the node agent's event loop included; callers retry asynchronously),
 * writes through a WAL, and syncs the WAL on every commit (synchronous=FULL), so a committed
 * allocation survives power loss too. Creates the schema when the file has none yet, and upgrades
 * an older one. Throws StoredDataError for a newer schema and the driver's error for anything
 * else (SQLITE_BUSY included: the caller retries).
 */
export function prepareConnection(db: SqliteDb, path: string): void {
  // busy_timeout first: switching a new file to WAL and creating the schema both take locks that
  // concurrent first opens contend for.
  db.exec("PRAGMA busy_timeout = 0");
  // The journal mode is stored in the file; after the first open this is a no-op. A file system
  // without shared memory keeps the rollback journal, which is slower but just as safe.
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = FULL");
  if (checkSchemaVersion(db, path) === SCHEMA_VERSION) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    // Re-read under the write lock: a concurrent first open may have created the schema already.
    const version = checkSchemaVersion(db, path);
    if (version === 0) db.exec(SCHEMA);
    else
      for (let v = version; v < SCHEMA_VERSION; v++) {
        const upgrade = UPGRADES[v - 1]!;
        if (typeof upgrade === "string") db.exec(upgrade);
        else upgrade(db);
      }
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec("COMMIT");
  } catch (error) {
    rollbackQuietly(db);
    throw error;
  }
}

function checkSchemaVersion(db: SqliteDb, path: string): number {
  const version = db.prepare("PRAGMA user_version").get()?.["user_version"];
  if (typeof version !== "number")
    throw new StoredDataError(`Cannot read local store ${path}: no schema version`);
  if (version > SCHEMA_VERSION)
    throw new StoredDataError(
      `Cannot open local store ${path}: schema version ${version} is newer than supported version ${SCHEMA_VERSION}: a newer thereabouts wrote it; run that version or a later one`,
    );
  return version;
}
