// Blocks of offsets, what lets a store answer "where are the free addresses" without reading a
// whole pool (Store.parts, store.ts). An offset is counted from the pool's base (the IP written in
// spec.range), as offset keys are; a block is the 256 offsets that share `offset >> 8`. A store
// keeps, per block, whether every one of its offsets holds an entry (full), and keeps entries in
// the order of their sortable offset: 32 lower-case hex digits, so that text order is numeric order
// for IPv4 and IPv6 alike (a decimal key, "10" < "9", is not). One reading here for every backend.
import { type IP, ipOf, maxValue, parseCidr } from "../ip/index.ts";
import { decodeOffsetKey } from "./offset-key.ts";

export const BLOCK_BITS = 8n;
/** Offsets per block. */
export const BLOCK_SIZE = 1n << BLOCK_BITS;

/** The block an offset is in. */
export function blockOf(offset: bigint): bigint {
  return offset >> BLOCK_BITS;
}

/** The first offset of a block. */
export function blockStart(block: bigint): bigint {
  return block << BLOCK_BITS;
}

/** The last offset of a block. */
export function blockEnd(block: bigint): bigint {
  return blockStart(block) + BLOCK_SIZE - 1n;
}

/** The offsets of a block within [from, to] (a scan cuts its first and last block). */
export function blockWithin(block: bigint, from: bigint, to: bigint): { lo: bigint; hi: bigint } {
  const start = blockStart(block);
  const end = blockEnd(block);
  return { lo: start > from ? start : from, hi: end < to ? end : to };
}

/**
 * The offset from `base` of the address a stored key denotes (decodeOffsetKey: legacy forms
 * included, so "5" and "005" are one offset), or undefined for a key that denotes no address of
 * the base's family. IPv6 offsets wrap as the addresses do: always in [0, 2^128).
 */
export function offsetOfKey(base: IP, key: string): bigint | undefined {
  const address = decodeOffsetKey(base, key);
  if (address === undefined) return undefined;
  return (address.value - base.value) & maxValue(base.family);
}

const SORTABLE = /^[0-9a-f]{32}$/;

/** The sortable text of an offset in [0, 2^128): 32 lower-case hex digits. */
export function sortableOffset(offset: bigint): string {
  if (offset < 0n || offset > maxValue(6)) throw new RangeError(`offset ${offset} is not in [0, 2^128)`);
  return offset.toString(16).padStart(32, "0");
}

/** The offset a sortable text denotes (the inverse of sortableOffset); undefined for other text. */
export function offsetOfSortable(text: string): bigint | undefined {
  return SORTABLE.test(text) ? BigInt(`0x${text}`) : undefined;
}

/** The sortable offset of a stored key (offsetOfKey), or undefined when it has none. */
export function sortableKey(base: IP, key: string): string | undefined {
  const offset = offsetOfKey(base, key);
  return offset === undefined ? undefined : sortableOffset(offset);
}

/** The base of a pool's offsets: the IP written in its spec.range; undefined when that is no CIDR. */
export function baseOfRange(range: string): IP | undefined {
  const cidr = parseCidr(range);
  return cidr === undefined ? undefined : ipOf(cidr);
}
