// Turns the store's result rows into the Store contract's values. Column types are checked, not
// assumed: a file edited by hand or by a future version must fail as stored-data trouble.
import { StoredDataError } from "../../errors/errors.ts";
import type { Allocation, PoolSnapshot, Reservation } from "../../pool/allocation.ts";
import type { SqlRow } from "./sqlite-db.ts";

function text(row: SqlRow, column: string): string {
  const value = row[column];
  if (typeof value !== "string") throw new StoredDataError(`Cannot read column ${column}: not text`);
  return value;
}

export function toReservation(row: SqlRow): Reservation {
  const reservation = {
    name: text(row, "name"),
    podRef: text(row, "podRef"),
    ifName: text(row, "ifName"),
    containerId: text(row, "containerId"),
  };
  // No claim recorded: both columns NULL (rows from before schema version 2 too).
  if (row["address"] === null && row["networkName"] === null) return reservation;
  return { ...reservation, claim: { address: text(row, "address"), networkName: text(row, "networkName") } };
}

function milliseconds(row: SqlRow, column: string): number {
  const value = row[column];
  const ms = typeof value === "bigint" ? Number(value) : value;
  if (typeof ms !== "number" || !Number.isSafeInteger(ms) || ms < 0)
    throw new StoredDataError(`Cannot read column ${column}: not a time in milliseconds`);
  return ms;
}

export function toAllocation(row: SqlRow): Allocation {
  const allocation = {
    containerId: text(row, "containerId"),
    podRef: text(row, "podRef"),
    ifName: text(row, "ifName"),
  };
  // NULL columns stay absent fields: an entry without them reads exactly as before schema version 3.
  const owner = row["owner"] === null || row["owner"] === undefined ? {} : { owner: text(row, "owner") };
  const parked =
    row["parkedAt"] === null || row["parkedAt"] === undefined
      ? {}
      : { parkedAt: milliseconds(row, "parkedAt") };
  return { ...allocation, ...owner, ...parked };
}

/**
 * Groups pool rows (ordered by pool name) into snapshots: one row per entry (key NULL for a pool
 * without any), and one per release record (releasedAt not NULL).
 */
export function toSnapshots(rows: readonly SqlRow[]): PoolSnapshot[] {
  const snapshots: PoolSnapshot[] = [];
  let allocations = new Map<string, Allocation>();
  let released = new Map<string, number>();
  let previous: string | undefined;
  for (const row of rows) {
    const name = text(row, "name");
    if (name !== previous) {
      previous = name;
      allocations = new Map();
      released = new Map();
      snapshots.push({
        name,
        range: text(row, "range"),
        allocations,
        released,
        version: String(row["version"]),
      });
    }
    if (row["key"] === null) continue;
    if (row["releasedAt"] !== null) released.set(text(row, "key"), milliseconds(row, "releasedAt"));
    else allocations.set(text(row, "key"), toAllocation(row));
  }
  return snapshots;
}
