// Allocation map keys: the decimal offset of an address from the IP written in spec.range.
// Reads accept Whereabouts' legacy forms (leading "+", leading zeros, negative int64 two's
// complement written by pre-0.5 versions); writes are plain decimal, also beyond 2^63 (Go
// ignores such keys, so ranges that need them must not be shared with Go plugins).
import { type IP, maxValue } from "../ip/index.ts";

const TWO_64 = 1n << 64n;

export function encodeOffsetKey(base: IP, addr: IP): string {
  if (base.family !== addr.family) throw new RangeError("Cannot encode offset key: address families differ");
  return String(addr.value - base.value);
}

/** The address a stored key denotes, or undefined for keys Go would ignore too. */
export function decodeOffsetKey(base: IP, key: string): IP | undefined {
  if (!/^[+-]?[0-9]+$/.test(key)) return undefined;
  let offset = BigInt(key);
  if (offset < 0n) {
    if (offset < -(1n << 63n)) return undefined;
    offset += TWO_64;
  }
  const value = base.value + offset;
  if (base.family === 4) return value <= maxValue(4) ? { family: 4, value } : undefined;
  return { family: 6, value: value & maxValue(6) };
}
