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

export function toAllocation(row: SqlRow): Allocation {
  return { containerId: text(row, "containerId"), podRef: text(row, "podRef"), ifName: text(row, "ifName") };
}

/** Groups joined pool rows (ordered by pool name) into snapshots. */
export function toSnapshots(rows: readonly SqlRow[]): PoolSnapshot[] {
  const snapshots: PoolSnapshot[] = [];
  let allocations = new Map<string, Allocation>();
  let previous: string | undefined;
  for (const row of rows) {
    const name = text(row, "name");
    if (name !== previous) {
      previous = name;
      allocations = new Map();
      snapshots.push({
        name,
        range: text(row, "range"),
        allocations,
        released: new Map(),
        version: String(row["version"]),
      });
    }
    if (row["key"] === null) continue;
    allocations.set(text(row, "key"), toAllocation(row));
  }
  return snapshots;
}
