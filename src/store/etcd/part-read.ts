// Part reads of etcd pools (Store.parts, store.ts): one transaction reads, at one revision, the
// pool's meta key, its release records, the attachment's and the owner's entries (attached/,
// owned/), the entries at the points asked (order/), the block markers of the scan's offsets and
// the order keys of scan.from's block; further blocks, when the scan must go on, are read at that
// same revision, skipping those whose marker says "full". A pool without the layout key (created
// before the index keys existed) is read whole in the same transaction instead.
import { type IntervalSet, intervalSet } from "../../allocator/interval-set.ts";
import { StoredDataError } from "../../errors/errors.ts";
import { maxValue } from "../../ip/index.ts";
import type { Allocation, PoolSnapshot } from "../../pool/allocation.ts";
import { BLOCK_SIZE, baseOfRange, blockOf, sortableOffset } from "../../pool/blocks.ts";
import { emptyPool, type PoolPart, type PoolPartQuery } from "../store.ts";
import {
  byOffset,
  decodeBlockFull,
  decodeEntry,
  decodeMeta,
  decodePools,
  decodeReleased,
  type EtcdKeys,
  encodeBlockFull,
  INDEXED_LAYOUT,
} from "./documents.ts";
import {
  type Compare,
  compareValue,
  decode,
  encode,
  getOp,
  type KeyValue,
  prefixEnd,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseOp,
  rangeOp,
  type TxnResponse,
  txnOp,
} from "./etcd-api.ts";
import type { FullCandidate } from "./index-plan.ts";
import { type OffsetRange, type OrderedEntry, ScanWalker } from "./part-scan.ts";

/** What a part read needs of the store: its keys and its calls (each one request, bounded as all are). */
export interface PartIo {
  readonly keys: EtcdKeys;
  txn(
    compare: readonly Compare[],
    success: readonly RequestOp[],
    failure: readonly RequestOp[],
  ): Promise<TxnResponse>;
  range(request: RangeRequest): Promise<RangeResponse>;
  /** A whole read, for a pool whose stored range has no base to count offsets from. */
  whole(name: string): Promise<PoolSnapshot>;
}

/** Order keys per range request: a block has 256 offsets, more keys only with legacy forms of one. */
const PAGE = 1024;

/**
 * Order keys read ahead in the first transaction, before the markers say whether scan.from's
 * block is full: all of them (one per offset; only legacy forms of one offset make more, and such a
 * block is read again at the part's revision), so a pool whose first free offsets lie in that block
 * (an empty pool, a small one, one filling up) is read in one request whatever it holds. The read
 * is skipped inside the transaction when the block's marker says full from scan.from, the marker
 * a pool filled from its window's start gets: a full pool's first block costs nothing.
 */
const AHEAD_LIMIT = Number(BLOCK_SIZE);

const NONE: IntervalSet = intervalSet([]);

/** Positions of the first transaction's reads (success branch). */
const META = 0;
const RELEASES = 1;
const LOOKUPS = 2;
const MARKERS = 3;
const AHEAD = 4;

/**
 * Reads the part; blocks it read (nearly) full without a "full" marker go to `seen`, for the
 * store's next commit of the pool to mark (index-plan.ts: marksFor). A read writes nothing.
 */
export async function readPoolPart(
  io: PartIo,
  name: string,
  query: PoolPartQuery,
  seen: FullCandidate[] = [],
): Promise<PoolPart> {
  const { keys } = io;
  const { scan } = query;
  const lookups: RequestOp[] = [rangeOp(keys.attachedTo(name, query.podRef, query.ifName))];
  if (query.owner !== undefined) lookups.push(rangeOp(keys.ownedBy(name, query.owner, query.ifName)));
  for (const point of query.points ?? [])
    if (point >= 0n && point <= maxValue(6)) lookups.push(rangeOp(keys.orderAt(name, point)));
  const success: RequestOp[] = [getOp(keys.meta(name)), rangeOp(keys.releases(name)), txnOp([], lookups)];
  const first = scan === undefined ? undefined : ScanWalker.firstOf(scan);
  if (scan !== undefined && first !== undefined)
    success.push(
      { request_range: blockRange(keys, name, blockOf(scan.from), blockOf(scan.to)) },
      txnOp(
        [compareValue(keys.block(name, blockOf(first.lo)), encodeBlockFull(first.lo))],
        [],
        [{ request_range: { ...orderRange(keys, name, first), limit: AHEAD_LIMIT } }],
      ),
    );
  const reply = await io.txn(
    [compareValue(keys.layout(name), INDEXED_LAYOUT)],
    success,
    wholePool(keys, name),
  );
  const revision = reply.header?.revision ?? "0";
  const responses = reply.responses ?? [];
  if (reply.succeeded !== true) {
    // Not indexed (or missing): read whole, which covers any scan.
    const snapshot = decodePools(keys, rangedKvs(responses), revision)[0] ?? emptyPool(name);
    return { snapshot, ...wholeScan(query), full: NONE };
  }
  const metaKv = responses[META]?.response_range?.kvs?.[0];
  if (metaKv === undefined)
    throw new StoredDataError(
      `etcd key ${keys.layout(name)} marks a pool that has no ${keys.meta(name)} key`,
    );
  const range = decodeMeta(keys.meta(name), decode(metaKv.value));
  const found = rangedKvs(responses[LOOKUPS]?.response_txn?.responses).flatMap((kv) => indexed(keys, kv));
  const released = new Map<string, number>();
  for (const kv of responses[RELEASES]?.response_range?.kvs ?? []) {
    const key = decode(kv.key);
    const where = keys.parsePoolKey(key);
    if (where?.kind === "released") released.set(where.offset, decodeReleased(key, decode(kv.value)));
  }
  let scanned: PoolPart["scanned"];
  let full = NONE;
  if (scan !== undefined && first !== undefined) {
    const base = baseOfRange(range);
    // No offsets without a base: the caller refuses such a pool after a whole read.
    if (base === undefined) return { snapshot: await io.whole(name), ...wholeScan(query), full: NONE };
    const markers = new Map<bigint, KeyValue>();
    const marked = new Map<bigint, bigint>();
    for (const kv of responses[MARKERS]?.response_range?.kvs ?? []) {
      const where = keys.parsePoolKey(decode(kv.key));
      if (where?.kind !== "block") continue;
      markers.set(where.block, kv);
      const from = decodeBlockFull(decode(kv.value));
      if (from !== undefined) marked.set(where.block, from);
    }
    const walker = new ScanWalker(base, scan, marked);
    // Absent when the marker said full from scan.from (the read was skipped).
    const ahead = responses[AHEAD]?.response_txn?.responses?.[0]?.response_range;
    const usable = ahead === undefined || ahead.more === true ? undefined : walker.usable(first);
    if (usable !== undefined)
      walker.feed(
        usable,
        (ahead?.kvs ?? []).flatMap((kv) => indexed(keys, kv)),
      );
    for (let next = walker.next(); next !== undefined; next = walker.next())
      walker.feed(next, await readOrder(io, name, next, revision));
    const result = walker.result();
    found.push(...result.entries);
    scanned = { from: scan.from, through: result.through };
    full = result.full;
    for (const read of result.nearlyFull)
      seen.push({ ...read, markerRevision: markers.get(read.block)?.mod_revision });
  }
  const allocations = new Map<string, Allocation>();
  for (const { key, value } of found)
    if (!allocations.has(key)) allocations.set(key, decodeEntry(keys.entry(name, key), value));
  const snapshot: PoolSnapshot = {
    name,
    range,
    allocations: new Map([...allocations].sort(([a], [b]) => byOffset(a, b))),
    released,
    version: revision,
  };
  // An indexed pool: its attachment keys let a commit check PoolChange.absent.
  return { snapshot, ...(scanned === undefined ? {} : { scanned }), full, checksAbsent: true };
}

/** A whole read answers a scan completely: every offset of it read, none skipped. */
function wholeScan(query: PoolPartQuery): Pick<PoolPart, "scanned"> {
  const { scan } = query;
  return scan === undefined ? {} : { scanned: { from: scan.from, through: scan.to } };
}

/** The entry an index key copies (its entry key and stored text); none for other keys. */
function indexed(keys: EtcdKeys, kv: KeyValue): OrderedEntry[] {
  const where = keys.parsePoolKey(decode(kv.key));
  return where?.kind === "index" ? [{ key: where.offset, value: decode(kv.value) }] : [];
}

/** The order keys of offsets [lo, hi]. */
function orderRange(keys: EtcdKeys, name: string, { lo, hi }: OffsetRange): RangeRequest {
  const end = hi >= maxValue(6) ? prefixEnd(keys.orders(name)) : encode(keys.orderAt(name, hi + 1n));
  return { key: encode(keys.orderAt(name, lo)), range_end: end, limit: PAGE };
}

/** The markers of blocks [first, last]. */
function blockRange(keys: EtcdKeys, name: string, first: bigint, last: bigint): RangeRequest {
  const end = prefixEnd(keys.blocks(name) + sortableOffset(last));
  return { key: encode(keys.block(name, first)), range_end: end };
}

/** Every order key of [lo, hi] at `revision`, in pages. */
async function readOrder(
  io: PartIo,
  name: string,
  range: OffsetRange,
  revision: string,
): Promise<OrderedEntry[]> {
  const read: OrderedEntry[] = [];
  let request: RangeRequest = { ...orderRange(io.keys, name, range), revision };
  for (;;) {
    const reply = await io.range(request);
    const kvs = reply.kvs ?? [];
    read.push(...kvs.flatMap((kv) => indexed(io.keys, kv)));
    if (reply.more !== true || kvs.length === 0) return read;
    // Go on just after the last key: append a zero byte.
    const after = Buffer.concat([Buffer.from(kvs.at(-1)!.key, "base64"), Buffer.from([0])]);
    request = { ...request, key: after.toString("base64") };
  }
}

/** Reads of a whole pool (meta key, entries, release records; not its index keys), one transaction. */
export function wholePool(keys: EtcdKeys, name: string): RequestOp[] {
  return [getOp(keys.meta(name)), rangeOp(keys.entries(name)), rangeOp(keys.releases(name))];
}

/** The keys every range of a transaction's responses read (nested transactions' too), in order. */
export function rangedKvs(responses: readonly ResponseOp[] | undefined): KeyValue[] {
  return (responses ?? []).flatMap((r) => [
    ...(r.response_range?.kvs ?? []),
    ...rangedKvs(r.response_txn?.responses),
  ]);
}
