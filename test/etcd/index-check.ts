// The checker of an etcd pool's index keys (src/store/etcd/documents.ts, index-plan.ts), for
// tests: reads a pool's every key at one revision, behind the store's back, and lists what breaks
// the layout's rules. Empty list: the index keys are exactly those of the entries, each holding
// its entry, and every block marked full has an entry at each of its 256 offsets.
import { isDeepStrictEqual } from "node:util";
import { baseOfRange, blockEnd, blockOf, blockStart, offsetOfKey } from "../../src/pool/blocks.ts";
import {
  BLOCK_OPEN,
  decodeBlockFull,
  decodeEntry,
  decodeMeta,
  type EtcdKeys,
  INDEXED_LAYOUT,
} from "../../src/store/etcd/documents.ts";
import { decode, type KeyValue } from "../../src/store/etcd/etcd-api.ts";
import { indexKeysOf } from "../../src/store/etcd/index-plan.ts";

export function indexProblems(keys: EtcdKeys, pool: string, kvs: readonly KeyValue[]): string[] {
  const problems: string[] = [];
  let range: string | undefined;
  let layout: string | undefined;
  const entries = new Map<string, string>();
  const index = new Map<string, string>();
  const markers = new Map<bigint, string>();
  for (const kv of kvs) {
    const key = decode(kv.key);
    const where = keys.parsePoolKey(key);
    if (where === undefined || where.pool !== pool) continue;
    const value = decode(kv.value);
    if (where.kind === "meta") range = decodeMeta(key, value);
    else if (where.kind === "layout") layout = value;
    else if (where.kind === "entry") entries.set(where.offset, value);
    else if (where.kind === "index") index.set(key, value);
    else if (where.kind === "block") markers.set(where.block, value);
  }
  if (layout === undefined) {
    if (index.size > 0 || markers.size > 0) problems.push(`unindexed pool ${pool} has index keys`);
    return problems;
  }
  if (layout !== INDEXED_LAYOUT) problems.push(`layout key holds ${layout}`);
  if (range === undefined) return [...problems, `indexed pool ${pool} has no meta key`];
  const expected = new Map<string, string>();
  for (const [key, text] of entries) {
    const a = decodeEntry(keys.entry(pool, key), text);
    for (const k of indexKeysOf(keys, pool, key, a)) expected.set(k, text);
  }
  for (const [k, text] of expected) {
    const held = index.get(k);
    if (held === undefined) problems.push(`missing index key ${k}`);
    else if (!isDeepStrictEqual(JSON.parse(held), JSON.parse(text)))
      problems.push(`index key ${k} holds ${held}, its entry ${text}`);
  }
  for (const k of index.keys()) if (!expected.has(k)) problems.push(`index key ${k} has no entry`);
  const base = baseOfRange(range);
  const taken = new Map<bigint, Set<bigint>>();
  if (base !== undefined)
    for (const key of entries.keys()) {
      const offset = offsetOfKey(base, key);
      if (offset === undefined) continue;
      const block = blockOf(offset);
      if (!taken.has(block)) taken.set(block, new Set());
      taken.get(block)!.add(offset);
    }
  for (const [block, value] of markers) {
    const from = decodeBlockFull(value);
    if (from === undefined) {
      if (value !== BLOCK_OPEN) problems.push(`block ${block} marker holds ${value}`);
      continue;
    }
    if (from < blockStart(block) || from > blockEnd(block))
      problems.push(`block ${block} marker's tail starts outside it (${from})`);
    const held = taken.get(block) ?? new Set<bigint>();
    for (let o = from; o <= blockEnd(block); o++)
      if (!held.has(o)) problems.push(`block ${block} is marked full from ${from}, but ${o} has no entry`);
  }
  return problems;
}
