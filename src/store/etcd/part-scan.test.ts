import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { IP } from "../../ip/index.ts";
import type { PartScan } from "../store.ts";
import { type OffsetRange, ScanWalker } from "./part-scan.ts";

const base: IP = { family: 4, value: 10n << 24n };

/** Runs a scan over a pool holding `taken`, answering each read from it; returns the reads and the result. */
function walk(scan: PartScan, taken: Iterable<number>, marked = new Map<bigint, bigint>()) {
  const held = new Set([...taken].map(BigInt));
  const entriesIn = ({ lo, hi }: OffsetRange) =>
    [...held].filter((o) => o >= lo && o <= hi).map((o) => ({ key: String(o), value: "{}" }));
  const walker = new ScanWalker(base, scan, marked);
  const first = ScanWalker.firstOf(scan);
  const reads: OffsetRange[] = [];
  const usable = walker.usable(first);
  if (usable !== undefined) {
    reads.push(usable);
    walker.feed(usable, entriesIn(first));
  }
  for (let next = walker.next(); next !== undefined; next = walker.next()) {
    reads.push(next);
    walker.feed(next, entriesIn(next));
  }
  return { reads, result: walker.result() };
}

const upTo = (n: number, from = 0) => Array.from({ length: n - from }, (_, i) => from + i);

describe("ScanWalker", () => {
  it("stops at the end of the block where the free offsets wanted are seen", () => {
    const { reads, result } = walk({ from: 1n, to: 65_534n, free: 3 }, [1, 2, 5]);
    assert.deepEqual(reads, [{ lo: 1n, hi: 255n }]);
    assert.equal(result.through, 255n);
    assert.deepEqual(result.full.intervals, []);
  });

  it("reads unmarked blocks in growing runs, and remembers those it saw (nearly) full", () => {
    const { reads, result } = walk({ from: 0n, to: 65_534n, free: 1 }, upTo(256 * 5 - 2));
    assert.deepEqual(
      reads.map((r) => [r.lo, r.hi]),
      [
        [0n, 255n],
        [256n, 511n],
        [512n, 1023n],
        [1024n, 2047n],
      ],
    );
    assert.equal(
      result.through,
      1279n,
      "block 4 has the free offsets; the run's later blocks are not the part's",
    );
    assert.deepEqual(
      result.nearlyFull.map((b) => [b.block, b.missing]),
      [
        [0n, []],
        [1n, []],
        [2n, []],
        [3n, []],
        [4n, [1278n, 1279n]],
      ],
    );
    assert.equal(result.entries.length, 256 * 5 - 2);
  });

  it("skips full tails without reading them, reading only the offsets below a tail", () => {
    const marked = new Map([
      [0n, 1n],
      [1n, 256n],
      [2n, 600n],
    ]);
    const { reads, result } = walk(
      { from: 1n, to: 65_534n, free: 1 },
      [...upTo(512, 1), ...upTo(1000, 600)],
      marked,
    );
    // 512–599 hold no entry: the scan ends with block 2, its tail skipped.
    assert.deepEqual(reads, [{ lo: 512n, hi: 599n }]);
    assert.deepEqual(result.full.intervals, [
      { lo: 1n, hi: 511n },
      { lo: 600n, hi: 767n },
    ]);
    assert.equal(result.through, 767n);
  });

  it("uses the block read ahead below its tail, and offers a block read up to its tail for a longer one", () => {
    const taken = upTo(256, 1).filter((o) => o !== 100);
    const { reads, result } = walk({ from: 1n, to: 65_534n, free: 1 }, taken, new Map([[0n, 200n]]));
    assert.deepEqual(reads, [{ lo: 1n, hi: 199n }], "one read: the one ahead");
    assert.deepEqual(
      result.nearlyFull.map((b) => [b.block, b.readFrom, b.missing, b.fullFrom]),
      [[0n, 1n, [100n], 200n]],
    );
  });

  it("ends at scan.to, and at the first block's end at the earliest", () => {
    const { result } = walk({ from: 10n, to: 20n, free: 50 }, [11]);
    assert.equal(result.through, 20n);
    const below = walk({ from: 0n, to: 65_534n, free: 1 }, [], new Map([[0n, 1n]]));
    assert.deepEqual(below.reads, [{ lo: 0n, hi: 0n }]);
    assert.equal(below.result.through, 255n);
    assert.deepEqual(below.result.full.intervals, [{ lo: 1n, hi: 255n }]);
  });

  it("counts two keys of one offset once, and ignores keys outside the range read", () => {
    const walker = new ScanWalker(base, { from: 0n, to: 65_534n, free: 1 }, new Map());
    const first = ScanWalker.firstOf({ from: 0n, to: 65_534n, free: 1 });
    walker.feed(first, [
      ...upTo(255).map((o) => ({ key: String(o), value: "{}" })),
      { key: "0005", value: "{}" },
      { key: "300", value: "{}" },
      { key: "x", value: "{}" },
    ]);
    const result = walker.result();
    assert.equal(result.through, 255n, "offset 255 is free");
    assert.equal(result.entries.length, 256, "the legacy key with its offset's");
  });
});
