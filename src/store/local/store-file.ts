// The store's file on disk: created with owner-only modes before SQLite opens it, and failures on
// it turned into the store error kinds (unavailable, stored data, settings).
import { closeSync, fsyncSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { describe, StoredDataError, StoreSettingsError, StoreUnavailableError } from "../../errors/errors.ts";
import { SQLITE, sqliteCode } from "./sqlite-db.ts";

/** Creates the directory and an empty file with owner-only modes; SQLite gives its -wal and -shm the file's mode. */
export function createFile(path: string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    // SQLite would block on a FIFO, or read a device as a database: only a regular file is one.
    const stats = statSync(path);
    if (!stats.isFile())
      throw new StoreSettingsError(
        `local.path ${path} is ${stats.isDirectory() ? "a directory" : "not a regular file"}: name the store's database file`,
      );
    return;
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

/**
 * Maps SQLite and file-system failures: a file that is not a SQLite database, or one whose tables
 * are not the ones our (fixed, tested) statements name, is stored-data trouble that retrying will
 * not cure; the rest (locked, unreadable, missing directory) is unavailability. Anything else is a
 * bug and passes through unchanged rather than be reported as "try again later".
 */
export function storeError(action: string, error: unknown): unknown {
  const code = sqliteCode(error);
  if (code === SQLITE.corrupt || code === SQLITE.notADatabase)
    return new StoredDataError(`Cannot ${action}: ${describe(error)}`);
  if (code === SQLITE.error)
    return new StoredDataError(
      `Cannot ${action}: ${describe(error)}: the file does not hold the tables this version uses ` +
        "(not written by thereabouts, or damaged); move it aside (a new store is created on the next call) or restore it from a backup",
    );
  if (code === undefined && !isSystemError(error)) return error;
  return new StoreUnavailableError(`Cannot ${action}: ${describe(error)}`, { cause: error });
}

function isSystemError(error: unknown): boolean {
  return error instanceof Error && "syscall" in error && typeof error.syscall === "string";
}
