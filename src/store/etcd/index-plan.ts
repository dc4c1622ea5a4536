// The index keys of an indexed pool (documents.ts) and what keeps them exact: every commit writes
// them in the same transaction as the entries they copy, with no compare of their own, so two
// ADDs that take different addresses still touch no common key and never conflict.
//
// Whether a pool is indexed is decided inside the transaction, not by the writer: a nested
// transaction writes the index keys iff `<pool>/layout` holds INDEXED_LAYOUT (as etcd stood before
// the commit), or, when the commit creates the pool, writes the meta key, the layout key and the
// index keys together. So a pool is indexed from its first entry on or never (pools created before
// the layout key existed are read whole), whatever the writer believed.
//
// Block markers: `blocks/<block>` = "full" says each of the block's 256 offsets holds an entry.
// It is only ever written by fullMarks: guarded by the marker being unchanged since a read, at one
// revision, that saw every offset of the block hold an entry. Every commit that deletes an entry
// puts the marker of its block to "open" (no compare, so it stays conflict-free), which changes
// the marker's mod revision: a "full" based on a read before the delete fails its guard. Entries
// are created only at free offsets, so "full" ⇒ full holds at every revision.
import type { Allocation } from "../../pool/allocation.ts";
import { blockOf } from "../../pool/blocks.ts";
import type { PoolChange } from "../store.ts";
import {
  BLOCK_FULL,
  BLOCK_OPEN,
  type EtcdKeys,
  encodeEntry,
  encodeMeta,
  INDEXED_LAYOUT,
  indexOffset,
} from "./documents.ts";
import {
  type Compare,
  compareAbsent,
  compareMod,
  compareValue,
  deleteOp,
  putOp,
  type RequestOp,
  txnOp,
} from "./etcd-api.ts";

/** Operations etcd accepts per branch of one transaction (its default --max-txn-ops), nested ones each. */
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
  const opened = new Set<bigint>();
  for (const [key, a] of change.remove) {
    for (const k of indexKeysOf(keys, pool, key, a)) ops.push(deleteOp(k));
    const offset = indexOffset(key);
    if (offset !== undefined) opened.add(blockOf(offset));
  }
  for (const block of opened) ops.push(putOp(keys.block(pool, block), BLOCK_OPEN));
  return ops;
}

/**
 * The one operation of a commit's success branch that creates the pool (meta and layout keys, when
 * the change creates an entry and the meta key is absent) and keeps its index keys, or undefined
 * when there is nothing of either to write. A pool whose meta key exists without the layout key is
 * left unindexed.
 */
export function poolWrites(keys: EtcdKeys, change: PoolChange): RequestOp | undefined {
  const index = indexOps(keys, change);
  const indexed = [compareValue(keys.layout(change.pool), INDEXED_LAYOUT)];
  const whenIndexed = index.length === 0 ? [] : [txnOp(indexed, fitted(index))];
  if (change.create.length === 0) return whenIndexed[0];
  const meta = keys.meta(change.pool);
  const create = [putOp(meta, encodeMeta(change.range)), putOp(keys.layout(change.pool), INDEXED_LAYOUT)];
  // etcd allows the same key in the two branches of one transaction (only one of them runs).
  return txnOp([compareAbsent(meta)], [...create, ...fitted(index, create.length)], whenIndexed);
}

/** A block the caller read full at one revision, with its marker as it stood then. */
export interface FullBlock {
  readonly block: bigint;
  /** The marker's mod revision at that read; undefined when there was no marker. */
  readonly markerRevision: string | undefined;
}

/**
 * Marks blocks full, each guarded by its marker being unchanged since the read that saw the block
 * full (no entry of it deleted since): one nested transaction a block, whose outcome concerns that
 * block alone.
 */
export function fullMarks(keys: EtcdKeys, pool: string, blocks: readonly FullBlock[]): RequestOp[] {
  return blocks.map(({ block, markerRevision }) => {
    const marker = keys.block(pool, block);
    const guard: Compare =
      markerRevision === undefined ? compareAbsent(marker) : compareMod(marker, markerRevision);
    return txnOp([guard], [putOp(marker, BLOCK_FULL)]);
  });
}

/**
 * `ops` as the operations of one branch that already holds `taken` others: as they are when they
 * fit in MAX_TXN_OPS, else in nested transactions without compares of MAX_TXN_OPS each (etcd
 * counts the operations of each branch of each nested transaction on their own).
 */
export function fitted(ops: readonly RequestOp[], taken = 0): RequestOp[] {
  if (ops.length + taken <= MAX_TXN_OPS) return [...ops];
  const chunks: RequestOp[] = [];
  for (let i = 0; i < ops.length; i += MAX_TXN_OPS) chunks.push(txnOp([], ops.slice(i, i + MAX_TXN_OPS)));
  if (chunks.length + taken > MAX_TXN_OPS)
    throw new RangeError(`Cannot write ${ops.length} index keys in one etcd transaction`);
  return chunks;
}
