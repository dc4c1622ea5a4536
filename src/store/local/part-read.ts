// The local store's part reads (Store.parts): what an ADD needs of a pool, read through the
// indexes of schema version 4 (schema.ts) instead of every entry. Full blocks are skipped on their
// count alone; an empty block is known free without a query; only blocks with some entries and
// some free offsets have their entries read. Runs inside one read transaction (the caller's).

import { type Interval, intervalSet } from "../../allocator/interval-set.ts";
import type { Allocation } from "../../pool/allocation.ts";
import {
  BLOCK_SIZE,
  baseOfRange,
  blockOf,
  blockStart,
  blockWithin,
  sortableOffset,
} from "../../pool/blocks.ts";
import { emptyPool, type PoolPart, type PoolPartQuery } from "../store.ts";
import { toAllocation } from "./rows.ts";
import { BLOCK_DIGITS } from "./schema.ts";
import type { SqliteStatement, SqlRow } from "./sqlite-db.ts";

const COLUMNS = `key, container_id AS containerId, podref AS podRef, ifname AS ifName, owner,
  parked_at AS parkedAt`;
/** How many block counts one query fetches ahead while a scan walks the blocks. */
const BLOCKS_AHEAD = 256;

// INDEXED BY: without statistics, sqlite prefers the primary key's (pool, …) prefix, which scans
// every entry of the pool, over an index that then needs a lookup per row.
export const PART_SQL = {
  partPool: `SELECT name, "range", version FROM pools WHERE name = ?`,
  partReleased: "SELECT key, at_ms AS releasedAt FROM released WHERE pool = ?",
  partAttachment: `SELECT ${COLUMNS} FROM allocations INDEXED BY allocations_by_attachment
    WHERE pool = ? AND podref = ? AND ifname = ?`,
  partOwner: `SELECT ${COLUMNS} FROM allocations INDEXED BY allocations_by_owner
    WHERE pool = ? AND owner = ? AND ifname = ?`,
  partPoint: `SELECT ${COLUMNS} FROM allocations INDEXED BY allocations_by_offset
    WHERE pool = ? AND sortable = ?`,
  partWhole: `SELECT ${COLUMNS} FROM allocations WHERE pool = ?`,
  partEntries: `SELECT ${COLUMNS}, sortable FROM allocations INDEXED BY allocations_by_offset
    WHERE pool = ? AND sortable BETWEEN ? AND ? ORDER BY sortable`,
  partHeld: `SELECT count(DISTINCT sortable) AS held FROM allocations INDEXED BY allocations_by_offset
    WHERE pool = ? AND sortable BETWEEN ? AND ?`,
  partBlocks: `SELECT block, used FROM blocks WHERE pool = ? AND block >= ? ORDER BY block LIMIT ${BLOCKS_AHEAD}`,
} as const;

const blockText = (block: bigint) => sortableOffset(blockStart(block)).slice(0, BLOCK_DIGITS);

export function readPart(
  stmt: (sql: string) => SqliteStatement,
  name: string,
  query: PoolPartQuery,
): PoolPart {
  const scan = query.scan;
  const pool = stmt(PART_SQL.partPool).get(name);
  if (pool === undefined) {
    const scanned = scan === undefined ? undefined : { from: scan.from, through: scan.to };
    return {
      snapshot: emptyPool(name),
      ...(scanned === undefined ? {} : { scanned }),
      full: intervalSet([]),
    };
  }
  const range = String(pool["range"]);
  const released = new Map<string, number>();
  for (const row of stmt(PART_SQL.partReleased).all(name))
    released.set(String(row["key"]), Number(row["releasedAt"]));
  const allocations = new Map<string, Allocation>();
  const add = (rows: readonly SqlRow[]) => {
    for (const row of rows) allocations.set(String(row["key"]), toAllocation(row));
  };
  const snapshot = { name, range, allocations, released, version: String(pool["version"]) };
  const base = baseOfRange(range);
  if (base === undefined) {
    // No offsets without a base: the whole pool, which the caller refuses as a whole read does.
    add(stmt(PART_SQL.partWhole).all(name));
    const scanned = scan === undefined ? undefined : { from: scan.from, through: scan.to };
    return { snapshot, ...(scanned === undefined ? {} : { scanned }), full: intervalSet([]) };
  }
  add(stmt(PART_SQL.partAttachment).all(name, query.podRef, query.ifName));
  if (query.owner !== undefined) add(stmt(PART_SQL.partOwner).all(name, query.owner, query.ifName));
  for (const point of query.points ?? [])
    if (point >= 0n && point < 1n << 128n) add(stmt(PART_SQL.partPoint).all(name, sortableOffset(point)));
  if (scan === undefined) return { snapshot, full: intervalSet([]) };

  // The block counts, fetched a page at a time as the walk needs them; a block without a row is empty.
  const used = new Map<bigint, number>();
  let known = blockOf(scan.from) - 1n;
  let more = true;
  const usedOf = (block: bigint): number => {
    if (block > known && more) {
      const rows = stmt(PART_SQL.partBlocks).all(name, blockText(block));
      used.clear();
      for (const row of rows) used.set(BigInt(`0x${String(row["block"])}`), Number(row["used"]));
      more = rows.length === BLOCKS_AHEAD;
      known = more ? BigInt(`0x${String(rows[rows.length - 1]!["block"])}`) : (1n << 128n) >> 8n;
    }
    return used.get(block) ?? 0;
  };
  const heldWithin = (lo: bigint, hi: bigint) =>
    BigInt(Number(stmt(PART_SQL.partHeld).get(name, sortableOffset(lo), sortableOffset(hi))?.["held"] ?? 0));
  const full: Interval[] = [];
  let free = 0n;
  let through = scan.from - 1n;
  for (let block = blockOf(scan.from); through < scan.to && free < BigInt(scan.free); block++) {
    const { lo, hi } = blockWithin(block, scan.from, scan.to);
    const count = usedOf(block);
    // A block cut by the scan (the window's first, holding the network address) may be full
    // within the scan though not whole: its offsets there, counted from the index alone, say so.
    const span = hi - lo + 1n;
    if (BigInt(count) === BLOCK_SIZE) full.push({ lo, hi });
    else if (count === 0) free += span;
    else if (BigInt(count) >= span && heldWithin(lo, hi) === span) full.push({ lo, hi });
    else {
      const rows = stmt(PART_SQL.partEntries).all(name, sortableOffset(lo), sortableOffset(hi));
      add(rows);
      // Two keys of one offset ("5", "005") hold one offset.
      const held = new Set(rows.map((row) => row["sortable"]));
      free += hi - lo + 1n - BigInt(held.size);
    }
    through = hi;
  }
  return { snapshot, scanned: { from: scan.from, through }, full: intervalSet(full) };
}
