import assert from "node:assert/strict";
import { test } from "node:test";
import { parseIP } from "../ip/index.ts";
import {
  BLOCK_SIZE,
  baseOfRange,
  blockEnd,
  blockOf,
  blockStart,
  offsetOfKey,
  offsetOfSortable,
  sortableKey,
  sortableOffset,
} from "./blocks.ts";

test("blocks are the 256 offsets sharing offset >> 8", () => {
  assert.equal(BLOCK_SIZE, 256n);
  assert.equal(blockOf(255n), 0n);
  assert.equal(blockOf(256n), 1n);
  assert.equal(blockStart(3n), 768n);
  assert.equal(blockEnd(3n), 1023n);
  assert.equal(blockOf(1n << 100n), 1n << 92n);
});

test("sortable offsets order as numbers, IPv6 offsets beyond 2^64 included", () => {
  const offsets = [0n, 9n, 10n, 255n, 256n, (1n << 64n) - 1n, 1n << 64n, (1n << 128n) - 1n];
  const texts = offsets.map(sortableOffset);
  assert.deepEqual([...texts].sort(), texts);
  for (const [i, text] of texts.entries()) {
    assert.equal(text.length, 32);
    assert.equal(offsetOfSortable(text), offsets[i]);
  }
  assert.throws(() => sortableOffset(-1n), RangeError);
  assert.throws(() => sortableOffset(1n << 128n), RangeError);
  assert.equal(offsetOfSortable("00000000000000000000000000000A"), undefined);
  assert.equal(offsetOfSortable("5"), undefined);
});

test("offsetOfKey reads legacy forms as one offset and refuses what denotes no address", () => {
  const v4 = parseIP("10.0.0.0")!;
  assert.equal(offsetOfKey(v4, "5"), 5n);
  assert.equal(offsetOfKey(v4, "005"), 5n);
  assert.equal(offsetOfKey(v4, "+5"), 5n);
  assert.equal(sortableKey(v4, "005"), sortableKey(v4, "5"));
  assert.equal(offsetOfKey(v4, "x"), undefined);
  assert.equal(offsetOfKey(v4, "4294967296"), undefined);
  assert.equal(sortableKey(v4, ""), undefined);
  const v6 = parseIP("2001:db8::")!;
  assert.equal(offsetOfKey(v6, "18446744073709551616"), 1n << 64n);
  // Pre-0.5 negative keys are int64 two's complement.
  assert.equal(offsetOfKey(v6, "-1"), (1n << 64n) - 1n);
});

test("baseOfRange is the IP written in spec.range, host bits kept", () => {
  assert.deepEqual(baseOfRange("10.0.0.5/24"), parseIP("10.0.0.5"));
  assert.equal(baseOfRange("nonsense"), undefined);
  assert.equal(baseOfRange(""), undefined);
});
