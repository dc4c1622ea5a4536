// The index keys of an indexed pool (documents.ts) and what keeps them exact: every commit writes
// them in the same transaction as the entries they copy, with no compare of their own, so two
// ADDs that take different addresses still touch no common key and never conflict.
//
// Whether a pool is indexed is decided inside the transaction, not by the writer: a nested
// transaction writes the index keys unless the pool's meta key exists without its layout key (as
// etcd stood before the commit), and the commit that creates the pool writes the meta and layout
// keys together. So a pool is indexed from its first entry on or never (pools created before
// the layout key existed are read whole), whatever the writer believed.
//
// Block markers: `blocks/<block>` = "full" says each of the block's 256 offsets holds an entry.
// It is only ever written by fullMarks: guarded by the marker being unchanged since a read, at one
// revision, that saw every offset of the block hold an entry. Every commit that deletes an entry
// puts the marker of its block to "open" (no compare, so it stays conflict-free), which changes
// the marker's mod revision: a "full" based on a read before the delete fails its guard. Entries
// are created only at free offsets, so "full" ⇒ full holds at every revision.
import type { Allocation } from "../../pool/allocation.ts";
import { blockEnd, blockOf } from "../../pool/blocks.ts";
import type { PoolChange } from "../store.ts";
import {
  BLOCK_OPEN,
  type EtcdKeys,
  encodeBlockFull,
  encodeEntry,
  encodeMeta,
  INDEXED_LAYOUT,
  indexOffset,
} from "./documents.ts";
import {
  type Compare,
  compareAbsent,
  compareMod,
  comparePresent,
  deleteOp,
  putOp,
  type RequestOp,
  txnOp,
} from "./etcd-api.ts";

/** Operations etcd accepts in one transaction by default (--max-txn-ops; see poolWrites). */
export const MAX_TXN_OPS = 128;

/** The index keys of one entry (order only for a key with an offset, owned only for a sticky entry). */
export function indexKeysOf(keys: EtcdKeys, pool: string, key: string, a: Allocation): string[] {
  return [keys.order(pool, key), keys.attached(pool, key, a), keys.owned(pool, key, a)].filter(
    (k): k is string => k !== undefined,
  );
}

/**
 * What the change does to the index keys: each created entry's keys put; each rewritten entry's
 * keys put, and those of its old allocation that it no longer has deleted (a new podRef, ifName or
 * owner); each removed entry's keys deleted and its block's marker put to "open" (once a block).
 */
export function indexOps(keys: EtcdKeys, change: PoolChange): RequestOp[] {
  const { pool } = change;
  const ops: RequestOp[] = [];
  const put = (key: string, a: Allocation) => {
    const value = encodeEntry(a);
    for (const k of indexKeysOf(keys, pool, key, a)) ops.push(putOp(k, value));
  };
  for (const [key, a] of change.create) put(key, a);
  for (const u of change.update) {
    const kept = new Set(indexKeysOf(keys, pool, u.key, u.to));
    for (const k of indexKeysOf(keys, pool, u.key, u.from)) if (!kept.has(k)) ops.push(deleteOp(k));
    put(u.key, u.to);
  }
  for (const [key, a] of change.remove)
    for (const k of indexKeysOf(keys, pool, key, a)) ops.push(deleteOp(k));
  for (const block of openedBlocks(change)) ops.push(putOp(keys.block(pool, block), BLOCK_OPEN));
  return ops;
}

/** The blocks the change deletes entries in (each gets its marker put to "open"). */
export function openedBlocks(change: PoolChange): Set<bigint> {
  const opened = new Set<bigint>();
  for (const [key] of change.remove) {
    const offset = indexOffset(key);
    if (offset !== undefined) opened.add(blockOf(offset));
  }
  return opened;
}

/**
 * The operations of a commit's success branch that create the pool (its meta and layout keys, when
 * the change creates an entry and the meta key is absent) and keep its index keys. The index keys
 * are written unless the pool exists without the layout key (a pool of the previous layout): as
 * nested compares see etcd as it was before the commit, "the meta key is absent" there means this
 * commit creates the pool, and indexed.
 *
 * etcd's limit on operations (--max-txn-ops) holds along every path of nested transactions: a
 * nested one may hold as many as the limit less the largest of its parent's compares, success and
 * failure branches. So the index operations go in one branch only, one level down, and a commit
 * must keep (top-level operations) + (index operations) ≤ MAX_TXN_OPS.
 */
export function poolWrites(keys: EtcdKeys, change: PoolChange): RequestOp[] {
  const meta = keys.meta(change.pool);
  const layout = keys.layout(change.pool);
  const ops: RequestOp[] = [];
  if (change.create.length > 0)
    ops.push(
      txnOp([compareAbsent(meta)], [putOp(meta, encodeMeta(change.range)), putOp(layout, INDEXED_LAYOUT)]),
    );
  const index = indexOps(keys, change);
  if (index.length > 0) ops.push(txnOp([comparePresent(meta), compareAbsent(layout)], [], index));
  return ops;
}

/** A marker to write: every offset of `block` from `from` on holds an entry. */
export interface FullBlock {
  readonly block: bigint;
  readonly from: bigint;
  /** The marker's mod revision at the read that proved it; undefined when there was no marker. */
  readonly markerRevision: string | undefined;
}

/**
 * A block a part read saw from `readFrom` to its end with every offset holding an entry but
 * `missing` (a few), with its
 * marker as it stood at that read: its mod revision and the full tail it gave (if any).
 */
export interface FullCandidate {
  readonly block: bigint;
  /** The first offset of the block the read saw (offsets below it count as missing). */
  readonly readFrom: bigint;
  readonly missing: readonly bigint[];
  readonly fullFrom: bigint | undefined;
  readonly markerRevision: string | undefined;
}

/**
 * The markers a commit of `change` may write: for each candidate block, the tail above its last
 * offset still missing once the change's creates are counted (its compares prove them free until
 * then), when that is more than the marker said; none for a block the change deletes in (its
 * "open" stands; etcd refuses two writes of one key in a transaction). The marker guard proves
 * nothing was deleted in the block since the read.
 */
export function marksFor(change: PoolChange, candidates: readonly FullCandidate[]): FullBlock[] {
  const created = new Set<bigint>();
  for (const [key] of change.create) {
    const offset = indexOffset(key);
    if (offset !== undefined) created.add(offset);
  }
  const opened = openedBlocks(change);
  const marks = new Map<bigint, FullBlock>();
  for (const c of candidates) {
    if (opened.has(c.block)) continue;
    let from = c.readFrom;
    for (const o of c.missing) if (!created.has(o) && o >= from) from = o + 1n;
    if (from > blockEnd(c.block) || (c.fullFrom !== undefined && c.fullFrom <= from)) continue;
    marks.set(c.block, { block: c.block, from, markerRevision: c.markerRevision });
  }
  return [...marks.values()];
}

/**
 * Writes markers, each guarded by the marker being unchanged since the read that proved it (no
 * entry of its block deleted since): one nested transaction a block, whose outcome concerns that
 * block alone.
 */
export function fullMarks(keys: EtcdKeys, pool: string, blocks: readonly FullBlock[]): RequestOp[] {
  return blocks.map(({ block, from, markerRevision }) => {
    const marker = keys.block(pool, block);
    const guard: Compare =
      markerRevision === undefined ? compareAbsent(marker) : compareMod(marker, markerRevision);
    return txnOp([guard], [putOp(marker, encodeBlockFull(from))]);
  });
}

/**
 * How many operations a transaction takes of etcd's --max-txn-ops: the largest of its compares,
 * success and failure branches, plus the most any transaction nested in it takes (etcd checks a
 * nested transaction against what its parent leaves).
 */
export function txnNeed(
  compare: readonly Compare[],
  success: readonly RequestOp[],
  failure: readonly RequestOp[],
): number {
  let nested = 0;
  for (const op of [...success, ...failure])
    if ("request_txn" in op) {
      const { compare: c, success: s, failure: f } = op.request_txn;
      nested = Math.max(nested, txnNeed(c, s, f));
    }
  return Math.max(compare.length, success.length, failure.length) + nested;
}
