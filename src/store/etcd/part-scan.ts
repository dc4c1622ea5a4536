// The scan of a part read (getPoolPart) over an indexed pool, without I/O: which offsets to read
// next and what the order keys read so far say. The store reads every range it is told at the
// part's one revision and feeds the keys back; blocks whose marker says "full" are never read.

import { type Interval, type IntervalSet, intervalSet } from "../../allocator/interval-set.ts";
import type { IP } from "../../ip/index.ts";
import { blockEnd, blockOf, blockWithin, offsetOfKey } from "../../pool/blocks.ts";
import type { PartScan } from "../store.ts";

/** One order key read: the entry key it files and the entry's stored text. */
export interface OrderedEntry {
  readonly key: string;
  readonly value: string;
}

/** Offsets to read, [lo, hi], in one range of order keys. */
export interface OffsetRange {
  readonly lo: bigint;
  readonly hi: bigint;
}

/**
 * A block the scan read to its end with at most FEW_MISSING offsets free: the offsets without an entry
 * (none when it was full), and its marker's full tail then. Candidates for a marker, now or once a
 * commit creates some of them.
 */
export interface ReadBlock {
  readonly block: bigint;
  /** The first offset read: the scan may have started inside the block. */
  readonly readFrom: bigint;
  /** The offsets read without an entry. */
  readonly missing: readonly bigint[];
  readonly fullFrom: bigint | undefined;
}

const FEW_MISSING = 16n;

/** Blocks read in one range grow from 1 to this while the scan goes on. */
const MAX_RUN = 8n;

export class ScanWalker {
  readonly #base: IP;
  readonly #scan: PartScan;
  readonly #marked: ReadonlyMap<bigint, bigint>;
  /** The next offset not yet covered. */
  #cursor: bigint;
  #free = 0n;
  #run = 1n;
  #done = false;
  readonly #full: Interval[] = [];
  readonly #entries: OrderedEntry[] = [];
  /** Blocks read whole and (nearly) full while their marker does not say full. */
  readonly #nearlyFull: ReadBlock[] = [];

  /**
   * `marked`: per block whose marker has a full tail at the part's revision, the tail's first
   * offset (every offset from there to the block's end holds an entry).
   */
  constructor(base: IP, scan: PartScan, marked: ReadonlyMap<bigint, bigint>) {
    this.#base = base;
    this.#scan = scan;
    this.#marked = marked;
    this.#cursor = scan.from;
  }

  /** What the first request reads before the markers are known: scan.from's block. */
  static firstOf(scan: PartScan): OffsetRange {
    return { lo: scan.from, hi: min(scan.to, blockEnd(blockOf(scan.from))) };
  }

  /**
   * What of a range read ahead (`first`, before the markers were known) the scan can use: the
   * offsets below its block's full tail, none when the scan has moved on or the tail covers them.
   */
  usable(range: OffsetRange): OffsetRange | undefined {
    if (range.lo !== this.#cursor) return undefined;
    const tail = this.#marked.get(blockOf(range.lo));
    if (tail === undefined) return range;
    return tail > range.lo ? { lo: range.lo, hi: min(range.hi, tail - 1n) } : undefined;
  }

  /**
   * The next offsets to read, or undefined when the scan is complete: consecutive blocks without a
   * marker, or the offsets of a block below its marker's full tail. Full tails on the way are
   * skipped and reported in `full`.
   */
  next(): OffsetRange | undefined {
    const { to } = this.#scan;
    let tail = this.#done ? undefined : this.#marked.get(blockOf(this.#cursor));
    while (!this.#done && tail !== undefined && this.#cursor >= tail) {
      const hi = min(to, blockEnd(blockOf(this.#cursor)));
      this.#full.push({ lo: this.#cursor, hi });
      this.#advance(hi);
      tail = this.#done ? undefined : this.#marked.get(blockOf(this.#cursor));
    }
    if (this.#done) return undefined;
    if (tail !== undefined) return { lo: this.#cursor, hi: min(to, tail - 1n) };
    let last = blockOf(this.#cursor);
    const end = blockOf(to);
    while (last < end && last + 1n - blockOf(this.#cursor) < this.#run && !this.#marked.has(last + 1n))
      last++;
    if (this.#run < MAX_RUN) this.#run *= 2n;
    return { lo: this.#cursor, hi: min(to, blockEnd(last)) };
  }

  /**
   * Every order key of the offsets in `range` (the range `next` or `first` named, read whole).
   * Keys whose entry key does not denote an offset in the range from the stored base are not the
   * scan's (an IPv4 key beyond the family's addresses).
   */
  feed(range: OffsetRange, read: readonly OrderedEntry[]): void {
    const byBlock = new Map<bigint, { entries: OrderedEntry[]; offsets: Set<bigint> }>();
    for (const entry of read) {
      const offset = offsetOfKey(this.#base, entry.key);
      if (offset === undefined || offset < range.lo || offset > range.hi) continue;
      const block = blockOf(offset);
      let seen = byBlock.get(block);
      if (seen === undefined) {
        seen = { entries: [], offsets: new Set() };
        byBlock.set(block, seen);
      }
      seen.entries.push(entry);
      seen.offsets.add(offset);
    }
    for (let block = blockOf(range.lo); block <= blockOf(range.hi) && !this.#done; block++) {
      const { lo, hi } = blockWithin(block, range.lo, range.hi);
      const seen = byBlock.get(block);
      const taken = BigInt(seen?.offsets.size ?? 0);
      if (seen !== undefined) this.#entries.push(...seen.entries);
      // Read up to the block's end, or up to its marker's full tail: a candidate for a (longer) tail.
      const tail = this.#marked.get(block);
      const toEnd = hi === blockEnd(block) || (tail !== undefined && hi + 1n >= tail);
      if (toEnd && taken + FEW_MISSING >= hi - lo + 1n) {
        const missing: bigint[] = [];
        for (let o = lo; o <= hi; o++) if (!seen?.offsets.has(o)) missing.push(o);
        this.#nearlyFull.push({ block, readFrom: lo, missing, fullFrom: this.#marked.get(block) });
      }
      this.#free += hi - lo + 1n - taken;
      // A range below a marker's full tail ends there: the tail (no read) is the next call's,
      // and the scan ends at a block's end at the earliest.
      if (hi < blockEnd(block) && hi < this.#scan.to) {
        this.#cursor = hi + 1n;
        continue;
      }
      this.#advance(hi);
    }
  }

  /** The part's scan once `next` says it is complete. */
  result(): {
    through: bigint;
    full: IntervalSet;
    entries: readonly OrderedEntry[];
    nearlyFull: readonly ReadBlock[];
  } {
    return {
      through: this.#cursor - 1n,
      full: intervalSet(this.#full),
      entries: this.#entries,
      nearlyFull: this.#nearlyFull,
    };
  }

  #advance(through: bigint): void {
    this.#cursor = through + 1n;
    if (through >= this.#scan.to || this.#free >= BigInt(this.#scan.free)) this.#done = true;
  }
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
