// The etcd key layout and the JSON stored at each key (docs/etcd.md):
//   <prefix>/pools/<pool>/meta                 {"range": "..."}            written once, never deleted
//   <prefix>/pools/<pool>/entries/<offset key> {"id", "podref", "ifname"?, "owner"?, "parkedat"?}
//                                                                         one key per allocated address
//   <prefix>/pools/<pool>/released/<offset key> {"at"}                   when the address was last released
//   <prefix>/reservations/<name>               {"podref", "ifname", "containerid", "address"?, "network_name"?}
// Pools created since the index keys exist also hold, kept in the same transaction as the entries
// (index-plan.ts), so that a part of a pool can be read without reading all of it (getPoolPart):
//   <prefix>/pools/<pool>/layout               2   written with the meta key, never changed: the pool is indexed
//   <prefix>/pools/<pool>/order/<sortable offset>/<offset key>    the entry, in offset order
//   <prefix>/pools/<pool>/attached/<podref>/<ifname>/<offset key>  the entry, by attachment
//   <prefix>/pools/<pool>/owned/<owner>/<ifname>/<offset key>      the entry, by sticky owner
//   <prefix>/pools/<pool>/blocks/<sortable block>                 {"fullfrom"} | "open": see index-plan.ts
// (podref, ifname, owner and there the offset key percent-encoded, so '/' separates the parts and
// no (podref, ifname) prefix is another's; an order key's offset key has an offset, so is a number).
// Pool names never contain '/', so "<pool>/" is a prefix of no other pool's keys ("a/" vs "a-b/").
// Entries have the IPPool CRD's entry shape (ifname omitted when empty, as Go writes it; owner and
// parkedat only on sticky entries; times in RFC 3339, see stored-time.ts). Every
// value is written in one canonical encoding, so the store can compare stored bytes with the
// encoding of the allocation it expects (etcd compares VALUE byte for byte).
import { StoredDataError } from "../../errors/errors.ts";
import type { IP } from "../../ip/index.ts";
import type { Allocation, PoolSnapshot, Reservation } from "../../pool/allocation.ts";
import { offsetOfKey, offsetOfSortable, sortableOffset } from "../../pool/blocks.ts";
import { parseStoredTime, storedTime } from "../stored-time.ts";
import { decode, type KeyValue } from "./etcd-api.ts";

const META = "meta";
const ENTRIES = "entries/";
const RELEASED = "released/";
const LAYOUT = "layout";
const ORDER = "order/";
const ATTACHED = "attached/";
const OWNED = "owned/";
const BLOCKS = "blocks/";

/** The value of `<pool>/layout` in a pool that keeps the index keys. */
export const INDEXED_LAYOUT = "2";
/** The value of a block marker that an entry delete put: nothing known of the block. */
export const BLOCK_OPEN = '"open"';

/**
 * The value of a block marker that says every offset from `from` to the block's end holds an
 * entry (from = the block's first offset: the block is full). A block's lowest offsets are often
 * never handed out (a pool's network address, offsets below range_start, an exclude), so a marker
 * covers the tail that is taken.
 */
export function encodeBlockFull(from: bigint): string {
  return JSON.stringify({ fullfrom: String(from) });
}

/** The first offset of a marker's full tail (encodeBlockFull); undefined for "open" or anything else. */
export function decodeBlockFull(text: string): bigint | undefined {
  try {
    const doc: unknown = JSON.parse(text);
    if (!isObject(doc) || typeof doc["fullfrom"] !== "string" || !/^[0-9]+$/.test(doc["fullfrom"]))
      return undefined;
    return BigInt(doc["fullfrom"]);
  } catch {
    return undefined;
  }
}

/**
 * The offset an entry key's order key is filed under, before the pool's range is known: the key's
 * offset from an IPv6 base of 0 (offsetOfKey's reading, legacy forms included). It is the offset
 * from any base whenever the key denotes an address of that base's family, so a scan (which checks
 * each key against the stored base) finds every entry of its offsets here; a key with no offset
 * (not a number) gets no order key.
 */
export function indexOffset(key: string): bigint | undefined {
  return offsetOfKey(ZERO_BASE, key);
}
const ZERO_BASE: IP = { family: 6, value: 0n };

/** Where a key under `<prefix>/pools/` belongs. */
export type PoolKey =
  | { readonly pool: string; readonly kind: "meta" }
  | { readonly pool: string; readonly kind: "entry"; readonly offset: string }
  | { readonly pool: string; readonly kind: "released"; readonly offset: string }
  | { readonly pool: string; readonly kind: "layout" }
  /** An index key (order, attached, owned) of the entry at `offset`. */
  | { readonly pool: string; readonly kind: "index"; readonly offset: string }
  | { readonly pool: string; readonly kind: "block"; readonly block: bigint }
  | { readonly pool: string; readonly kind: "other" };

export class EtcdKeys {
  readonly prefix: string;

  /** `prefix` as configured ("/thereabouts" by default); trailing slashes are ignored. */
  constructor(prefix: string) {
    this.prefix = prefix.replace(/\/+$/, "");
  }

  get pools(): string {
    return `${this.prefix}/pools/`;
  }

  get reservations(): string {
    return `${this.prefix}/reservations/`;
  }

  /** Every key of one pool starts with this (a range read of it returns the meta and all entries). */
  pool(name: string): string {
    if (name === "" || name.includes("/"))
      throw new RangeError(
        `Cannot use pool name "${name}" with etcd: it must be non-empty and contain no '/'`,
      );
    return `${this.pools}${name}/`;
  }

  meta(pool: string): string {
    return this.pool(pool) + META;
  }

  entry(pool: string, offset: string): string {
    return this.entries(pool) + offset;
  }

  /** Every entry key of a pool starts with this. */
  entries(pool: string): string {
    return this.pool(pool) + ENTRIES;
  }

  /** Every release record of a pool starts with this. */
  releases(pool: string): string {
    return this.pool(pool) + RELEASED;
  }

  /** The release record of one address of a pool. */
  released(pool: string, offset: string): string {
    return this.releases(pool) + offset;
  }

  reservation(name: string): string {
    return this.reservations + name;
  }

  /** Present (INDEXED_LAYOUT) in a pool that keeps index keys: written with the meta key. */
  layout(pool: string): string {
    return this.pool(pool) + LAYOUT;
  }

  /** Every order key of a pool starts with this; an offset's keys with orderAt(offset). */
  orders(pool: string): string {
    return this.pool(pool) + ORDER;
  }

  /** The prefix of the order keys of one offset (one per key of it: "5" and the legacy "005"). */
  orderAt(pool: string, offset: bigint): string {
    return `${this.orders(pool)}${sortableOffset(offset)}/`;
  }

  /** The order key of an entry key, or undefined for a key with no offset (indexOffset). */
  order(pool: string, key: string): string | undefined {
    const offset = indexOffset(key);
    return offset === undefined ? undefined : this.orderAt(pool, offset) + key;
  }

  /** The prefix of the attachment index keys of (podRef, ifName). */
  attachedTo(pool: string, podRef: string, ifName: string): string {
    return `${this.pool(pool)}${ATTACHED}${encodeURIComponent(podRef)}/${encodeURIComponent(ifName)}/`;
  }

  attached(pool: string, key: string, a: Allocation): string {
    return this.attachedTo(pool, a.podRef, a.ifName) + encodeURIComponent(key);
  }

  /** The prefix of the owner index keys of (owner, ifName). */
  ownedBy(pool: string, owner: string, ifName: string): string {
    return `${this.pool(pool)}${OWNED}${encodeURIComponent(owner)}/${encodeURIComponent(ifName)}/`;
  }

  /** The owner index key of an entry; undefined for an entry without a sticky owner. */
  owned(pool: string, key: string, a: Allocation): string | undefined {
    return a.owner === undefined
      ? undefined
      : this.ownedBy(pool, a.owner, a.ifName) + encodeURIComponent(key);
  }

  /** Every block marker of a pool starts with this. */
  blocks(pool: string): string {
    return this.pool(pool) + BLOCKS;
  }

  block(pool: string, block: bigint): string {
    return this.blocks(pool) + sortableOffset(block);
  }

  /** Classifies a key under `pools`; undefined when it is not below a pool directory. */
  parsePoolKey(key: string): PoolKey | undefined {
    if (!key.startsWith(this.pools)) return undefined;
    const rest = key.slice(this.pools.length);
    const slash = rest.indexOf("/");
    if (slash <= 0) return undefined;
    const pool = rest.slice(0, slash);
    const part = rest.slice(slash + 1);
    if (part === META) return { pool, kind: "meta" };
    if (part.startsWith(ENTRIES)) return { pool, kind: "entry", offset: part.slice(ENTRIES.length) };
    if (part.startsWith(RELEASED)) return { pool, kind: "released", offset: part.slice(RELEASED.length) };
    if (part === LAYOUT) return { pool, kind: "layout" };
    if (part.startsWith(ORDER) || part.startsWith(ATTACHED) || part.startsWith(OWNED)) {
      // The entry key is the last part (percent-encoded in attached and owned keys; an order
      // key's entry key is a number).
      const last = part.slice(part.lastIndexOf("/") + 1);
      return { pool, kind: "index", offset: part.startsWith(ORDER) ? last : decodeURIComponent(last) };
    }
    if (part.startsWith(BLOCKS)) {
      const block = offsetOfSortable(part.slice(BLOCKS.length));
      if (block !== undefined) return { pool, kind: "block", block };
    }
    return { pool, kind: "other" };
  }
}

export function encodeMeta(range: string): string {
  return JSON.stringify({ range });
}

export function decodeMeta(key: string, text: string): string {
  const range = parseObject(key, text)["range"];
  if (typeof range !== "string")
    throw new StoredDataError(`etcd key ${key} is not a pool: expected {"range": string}`);
  return range;
}

/** The canonical text of an entry: fixed field order, ifname omitted when empty, sticky fields when set. */
export function encodeEntry(a: Allocation): string {
  return JSON.stringify({
    id: a.containerId,
    podref: a.podRef,
    ...(a.ifName === "" ? {} : { ifname: a.ifName }),
    ...(a.owner === undefined ? {} : { owner: a.owner }),
    ...(a.parkedAt === undefined ? {} : { parkedat: storedTime(a.parkedAt) }),
  });
}

export function decodeEntry(key: string, text: string): Allocation {
  const doc = parseObject(key, text);
  const { id, podref, ifname, owner, parkedat } = doc;
  const parkedAt = parkedat === undefined ? undefined : parseStoredTime(parkedat);
  if (
    typeof id !== "string" ||
    !optionalString(podref) ||
    !optionalString(ifname) ||
    !optionalString(owner) ||
    (parkedat !== undefined && parkedAt === undefined)
  )
    throw new StoredDataError(
      `etcd key ${key} is not an allocation: expected {"id", "podref", "ifname"?, "owner"?, "parkedat"? (an RFC 3339 time)}`,
    );
  return {
    containerId: id,
    podRef: (podref as string | undefined) ?? "",
    ifName: (ifname as string | undefined) ?? "",
    ...(owner === undefined ? {} : { owner: owner as string }),
    ...(parkedAt === undefined ? {} : { parkedAt }),
  };
}

export function encodeReleased(atMs: number): string {
  return JSON.stringify({ at: storedTime(atMs) });
}

export function decodeReleased(key: string, text: string): number {
  const at = parseStoredTime(parseObject(key, text)["at"]);
  if (at === undefined)
    throw new StoredDataError(`etcd key ${key} is not a release record: expected {"at": an RFC 3339 time}`);
  return at;
}

/**
 * Assembles pools from the keys of a range read over one pool's directory or over all pools.
 * A pool exists when its meta key does; entries without a meta (never written by this store) are
 * refused. Entries are ordered by offset (shorter decimal keys first), not by etcd's byte order.
 * Every pool gets `version`, the revision of the read.
 */
export function decodePools(keys: EtcdKeys, kvs: readonly KeyValue[], version: string): PoolSnapshot[] {
  const pools = new Map<
    string,
    { range: string | undefined; entries: [string, Allocation][]; released: Map<string, number> }
  >();
  for (const kv of kvs) {
    const key = decode(kv.key);
    const where = keys.parsePoolKey(key);
    // Not ours to read, or an index key (the entries are what the pool is).
    if (where === undefined || where.kind === "other" || where.kind === "layout") continue;
    if (where.kind === "index" || where.kind === "block") continue;
    let pool = pools.get(where.pool);
    if (pool === undefined) {
      pool = { range: undefined, entries: [], released: new Map() };
      pools.set(where.pool, pool);
    }
    if (where.kind === "meta") pool.range = decodeMeta(key, decode(kv.value));
    else if (where.kind === "released")
      pool.released.set(where.offset, decodeReleased(key, decode(kv.value)));
    else pool.entries.push([where.offset, decodeEntry(key, decode(kv.value))]);
  }
  const snapshots: PoolSnapshot[] = [];
  for (const [name, { range, entries, released }] of pools) {
    // Release records are written only to a pool whose meta key exists (commit): a directory with
    // nothing else is no pool.
    if (range === undefined && entries.length === 0) continue;
    if (range === undefined)
      throw new StoredDataError(
        `etcd keys under ${keys.pool(name)} hold ${entries.length} allocation(s) but no ${META} key with the pool's range`,
      );
    entries.sort(([a], [b]) => byOffset(a, b));
    snapshots.push({ name, range, allocations: new Map(entries), released, version });
  }
  return snapshots.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Plain decimal offsets in numeric order (shorter first, then bytewise); any other key sorts the same way. */
export function byOffset(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The canonical text of a reservation: the store compares stored values against it. The claim
 * (`address`, `network_name`) follows when recorded; reservations written before it have none.
 */
export function encodeReservation(r: Reservation): string {
  const owner = { podref: r.podRef, ifname: r.ifName, containerid: r.containerId };
  return JSON.stringify(
    r.claim === undefined ? owner : { ...owner, address: r.claim.address, network_name: r.claim.networkName },
  );
}

export function decodeReservation(name: string, key: string, text: string): Reservation {
  const doc = parseObject(key, text);
  const { podref, ifname, containerid, address, network_name } = doc;
  const claimed = address !== undefined || network_name !== undefined;
  if (
    typeof podref !== "string" ||
    !optionalString(ifname) ||
    !optionalString(containerid) ||
    (claimed && (typeof address !== "string" || typeof network_name !== "string"))
  )
    throw new StoredDataError(
      `etcd key ${key} is not a reservation: expected {"podref", "ifname", "containerid"} and optionally both "address" and "network_name"`,
    );
  const reservation = {
    name,
    podRef: podref,
    ifName: (ifname as string | undefined) ?? "",
    containerId: (containerid as string | undefined) ?? "",
  };
  if (!claimed) return reservation;
  return { ...reservation, claim: { address: address as string, networkName: network_name as string } };
}

function parseObject(key: string, text: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new StoredDataError(`etcd key ${key} does not hold JSON: ${(error as Error).message}`);
  }
  if (!isObject(doc)) throw new StoredDataError(`etcd key ${key} does not hold a JSON object`);
  return doc;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown): boolean {
  return value === undefined || typeof value === "string";
}
