// The subset of node:sqlite the local store depends on. Tests run under Node 24 and the shipped
// plugin is a Bun executable, and each runtime has its own node:sqlite; keeping to DatabaseSync's
// exec / prepare(...).run|get|all / close with positional parameters keeps the store on the part
// both implement alike.
import { DatabaseSync } from "node:sqlite";

export type SqlValue = string | number | bigint | null | Uint8Array;
export type SqlRow = Readonly<Record<string, SqlValue>>;

export interface SqliteStatement {
  run(...params: SqlValue[]): unknown;
  /** The first row, or undefined when there is none. */
  get(...params: SqlValue[]): SqlRow | undefined;
  all(...params: SqlValue[]): SqlRow[];
}

export interface SqliteDb {
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  close(): void;
}

/** Opens (creating when missing) the database file; throws the driver's error when it cannot. */
export function openSqliteDb(path: string): SqliteDb {
  return new DatabaseSync(path);
}

/** SQLite primary result codes the store tells apart (https://sqlite.org/rescode.html). */
export const SQLITE = { error: 1, busy: 5, locked: 6, corrupt: 11, protocol: 15, notADatabase: 26 } as const;

/** The primary result code of a driver error (both runtimes set `errcode`), else undefined. */
export function sqliteCode(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null || !("errcode" in error)) return undefined;
  return typeof error.errcode === "number" ? error.errcode & 0xff : undefined;
}

/** Another connection holds a lock this one needs (SQLITE_PROTOCOL: a WAL lock race SQLite gave up retrying). */
export function isLockError(error: unknown): boolean {
  const code = sqliteCode(error);
  return code === SQLITE.busy || code === SQLITE.locked || code === SQLITE.protocol;
}

/** Ends the open transaction, if any. Used on error paths, where a failed ROLLBACK changes nothing. */
export function rollbackQuietly(db: SqliteDb): void {
  try {
    db.exec("ROLLBACK");
  } catch {
    // "no transaction is active": the failing statement already ended it.
  }
}
