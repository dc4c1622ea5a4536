// The contract of part reads (Store.parts, store.ts), for every store that has the capability:
// each part is checked against the whole pool read at the same moment (no writer in between), so
// the same checks hold for a store that skips full blocks and for one that returns more.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { countOf, coveringEnd } from "../../src/allocator/interval-set.ts";
import type { Allocation, PoolSnapshot } from "../../src/pool/allocation.ts";
import { baseOfRange, blockEnd, blockOf, offsetOfKey } from "../../src/pool/blocks.ts";
import {
  type PoolChange,
  type PoolPart,
  type PoolPartQuery,
  type PoolPartReader,
  poolChange,
  type Store,
} from "../../src/store/store.ts";
import { alloc, type ConformanceTarget } from "./conformance.ts";

/** What the contract says of `part`, read for `query` when the pool was `whole`. */
export function checkPart(whole: PoolSnapshot, query: PoolPartQuery, part: PoolPart): void {
  const got = part.snapshot;
  assert.deepEqual(
    [got.name, got.range, got.version, [...got.released].sort()],
    [whole.name, whole.range, whole.version, [...whole.released].sort()],
    "name, range, version and every release record as a whole read",
  );
  for (const [key, entry] of got.allocations)
    assert.deepEqual(entry, whole.allocations.get(key), `entry ${key} as the pool holds it`);
  const base = baseOfRange(whole.range);
  const offset = (key: string) => (base === undefined ? undefined : offsetOfKey(base, key));
  const looked = (a: Allocation) =>
    a.ifName === query.ifName &&
    (a.podRef === query.podRef || (query.owner !== undefined && a.owner === query.owner));
  const points = new Set(query.points ?? []);
  for (const [key, entry] of whole.allocations) {
    const o = offset(key);
    if (looked(entry) || (o !== undefined && points.has(o)))
      assert.ok(got.allocations.has(key), `entry ${key} of the lookups or points is returned`);
  }
  const scan = query.scan;
  if (scan === undefined) return;
  assert.ok(part.scanned !== undefined, "a scan says what it scanned");
  const { from, through } = part.scanned;
  assert.equal(from, scan.from);
  assert.ok(through <= scan.to, `through ${through} ≤ to ${scan.to}`);
  const firstBlockEnd = blockEnd(blockOf(scan.from));
  assert.ok(through >= (firstBlockEnd < scan.to ? firstBlockEnd : scan.to), "at least the first block");
  for (const iv of part.full.intervals)
    assert.ok(iv.lo >= from && iv.hi <= through, "known full only inside the scanned offsets");
  const held = new Set<bigint>();
  for (const key of whole.allocations.keys()) {
    const o = offset(key);
    if (o === undefined || o < from || o > through) continue;
    held.add(o);
    if (coveringEnd(part.full, o) === undefined)
      assert.ok(got.allocations.has(key), `scanned entry ${key} is returned`);
  }
  // "Full" is never said of an offset without an entry (two keys of one offset count once).
  assert.equal(
    BigInt([...held].filter((o) => coveringEnd(part.full, o) !== undefined).length),
    countOf(part.full),
  );
  if (through < scan.to) {
    const free = through - from + 1n - BigInt(held.size);
    assert.ok(free >= BigInt(scan.free), `stopped before 'to' with ${free} free of ${scan.free} asked`);
  }
  // A scan returns no key that has no offset; only a lookup may.
  for (const [key, entry] of got.allocations)
    if (offset(key) === undefined) assert.ok(looked(entry), `key ${key} has no offset`);
}

const WIDE = "10.0.0.0/16";

/**
 * `checksAbsent`: the store's parts of the pools it created say checksAbsent, and its commits check
 * PoolChange.absent (etcd, and the node agent's store over it).
 */
export function partsConformance(
  name: string,
  open: () => Promise<ConformanceTarget>,
  { checksAbsent = false }: { readonly checksAbsent?: boolean } = {},
): void {
  describe(`Store conformance, part reads: ${name}`, () => {
    let target: ConformanceTarget;
    let store: Store;
    let parts: PoolPartReader;
    beforeEach(async () => {
      target = await open();
      store = target.store;
      assert.ok(store.parts !== undefined, `the ${name} store reads parts of pools`);
      parts = store.parts;
    });
    afterEach(async () => {
      await target.cleanup();
    });

    async function commitOk(c: PoolChange): Promise<void> {
      assert.deepEqual(await store.commit(c), { ok: true });
    }

    /** Reads the part, checks it against the whole pool, and returns it. */
    async function checked(pool: string, query: PoolPartQuery): Promise<PoolPart> {
      const part = await parts.getPoolPart(pool, query);
      checkPart(await store.getPool(pool), query, part);
      return part;
    }

    const me = { podRef: "ns/me", ifName: "eth0" };
    const scan = (from: bigint, to: bigint, free: number): PoolPartQuery => ({
      ...me,
      scan: { from, to, free },
    });
    const fill = async (offsets: Iterable<number>, range = WIDE, extra: Partial<PoolChange> = {}) => {
      const change = poolChange("p", range, {
        create: [...offsets].map((o) => [String(o), alloc(`c${o}`, `ns/p${o}`)] as const),
        ...extra,
      });
      // In commits as large as the backend takes (the release records with the first).
      const size = target.maxCreatesPerCommit ?? change.create.length;
      for (let i = 0; i < change.create.length; i += size)
        await commitOk({
          ...change,
          create: change.create.slice(i, i + size),
          ...(i > 0 ? { release: [] } : {}),
        });
    };
    const upTo = (n: number, from = 0) => Array.from({ length: n - from }, (_, i) => i + from);

    it("reads a missing pool as empty, its whole scan free", async () => {
      const part = await checked("missing", scan(1n, 65_534n, 1));
      assert.equal(part.snapshot.version, undefined);
      assert.equal(part.snapshot.allocations.size, 0);
      assert.deepEqual(part.scanned, { from: 1n, through: 65_534n });
    });

    it("scans past full blocks to the first free offsets, and no further than asked", async () => {
      await fill([...upTo(3 * 256), 800, 1_000]);
      const part = await checked("p", scan(1n, 65_534n, 1));
      // The first free offset is 768: the scan reaches its block, not the 60,000 beyond.
      assert.ok(part.scanned!.through >= 1023n && part.scanned!.through < 65_534n);
      assert.ok(part.snapshot.allocations.has("800"));
      for (const free of [2, 255, 256, 300, 600]) await checked("p", scan(1n, 65_534n, free));
    });

    it("scans around the 256 boundaries: from and to inside, on and next to block edges", async () => {
      await fill([...upTo(600, 250), 1_000, 1_023, 1_024]);
      for (const [from, to] of [
        [255n, 256n],
        [256n, 256n],
        [255n, 255n],
        [0n, 511n],
        [256n, 767n],
        [511n, 513n],
        [100n, 65_534n],
      ] as const)
        for (const free of [1, 5, 300]) await checked("p", scan(from, to, free));
    });

    it("counts two keys of one offset once: a block is never full while an offset of it is free", async () => {
      // Block 0 has 256 keys, but "8" and "0008" are one offset and 7 is free.
      await fill(upTo(256).filter((o) => o !== 7));
      await commitOk(poolChange("p", WIDE, { create: [["0008", alloc("c-legacy", "ns/legacy")]] }));
      const part = await checked("p", scan(0n, 1000n, 1));
      assert.equal(coveringEnd(part.full, 7n), undefined, "offset 7 is free");
      // Offset 7 taken by a legacy key too: every offset held, whoever says "full" is right.
      await commitOk(poolChange("p", WIDE, { create: [["+7", alloc("c7", "ns/p7")]] }));
      await checked("p", scan(0n, 1000n, 1));
      // The plain key of 8 goes: "0008" still holds the offset. Then "0008" goes: 8 is free.
      await commitOk(poolChange("p", WIDE, { remove: [["8", alloc("c8", "ns/p8")]] }));
      await checked("p", scan(0n, 1000n, 1));
      await commitOk(poolChange("p", WIDE, { remove: [["0008", alloc("c-legacy", "ns/legacy")]] }));
      const after = await checked("p", scan(0n, 1000n, 1));
      assert.equal(coveringEnd(after.full, 8n), undefined, "offset 8 is free again");
    });

    it("finds the attachment's and its owner's entries and the points wherever they are, after create, update and remove", async () => {
      const owner = "statefulset/ns/web/0";
      await fill(upTo(2_000), WIDE, {
        create: [
          ...upTo(2_000).map((o) => [String(o), alloc(`c${o}`, `ns/p${o}`)] as const),
          ["30000", alloc("c-me", "ns/me")],
          ["40000", { ...alloc("c-old", "ns/web-0"), owner }],
          ["x1", alloc("c-odd", "ns/me")],
        ],
      });
      const query = { ...me, owner, points: [1_500n, 50_000n, 1n << 100n] };
      const part = await checked("p", query);
      for (const key of ["30000", "40000", "1500"]) assert.ok(part.snapshot.allocations.has(key), key);
      // The attachment's entry moves to another pod; the owner's entry is taken over by this pod.
      await commitOk(
        poolChange("p", WIDE, {
          update: [
            { key: "30000", from: alloc("c-me", "ns/me"), to: alloc("c-x", "ns/x") },
            {
              key: "40000",
              from: { ...alloc("c-old", "ns/web-0"), owner },
              to: { ...alloc("c-me", "ns/me"), owner },
            },
          ],
        }),
      );
      const moved = await checked("p", query);
      assert.ok(moved.snapshot.allocations.has("40000"));
      await commitOk(poolChange("p", WIDE, { remove: [["40000", { ...alloc("c-me", "ns/me"), owner }]] }));
      const gone = await checked("p", query);
      assert.equal(gone.snapshot.allocations.has("40000"), false);
    });

    // Only where parts say checksAbsent (etcd): no other store is ever given `absent`.
    if (checksAbsent)
      it("applies a change stating attachments absent only when none of them holds an entry of the pool", async () => {
        await fill([1, 2]);
        const part = await checked("p", scan(1n, 100n, 1));
        assert.equal(part.checksAbsent, true);
        const create = (key: string, a: Allocation) =>
          poolChange("p", WIDE, { create: [[key, a]], absent: [{ podRef: a.podRef, ifName: a.ifName }] });
        await commitOk(create("10", alloc("c-me", me.podRef)));
        assert.deepEqual(await store.commit(create("11", alloc("c-me2", me.podRef))), {
          ok: false,
          conflict: "entry",
          key: "10",
        });
        assert.deepEqual(await store.commit(create("12", alloc("c1", "ns/p1"))), {
          ok: false,
          conflict: "entry",
          key: "1",
        });
        await commitOk(create("13", alloc("c1", "ns/p1", "net1")));
        assert.deepEqual([...(await store.getPool("p")).allocations.keys()], ["1", "2", "10", "13"]);
      });

    it("scans IPv6 offsets beyond 2^64 in numeric order", async () => {
      const high = 1n << 64n;
      const keys = [high - 2n, high - 1n, high, high + 1n, high + 255n, high + 256n, high + 10_000n];
      await commitOk(
        poolChange("p", "fd00::/56", {
          create: keys.map((o) => [String(o), alloc(`c${o}`, `ns/p${o}`)] as const),
          release: [[String(high + 3n), 1_000]],
        }),
      );
      const part = await checked("p", scan(high - 10n, high + 20_000n, 600));
      for (const o of keys.slice(0, 6)) assert.ok(part.snapshot.allocations.has(String(o)), String(o));
      for (const free of [1, 255, 257]) await checked("p", scan(high - 1n, high + 20_000n, free));
    });

    it("holds to the contract on random pools and queries", async () => {
      let seed = 7;
      const random = (n: number) => {
        seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
        return seed % n;
      };
      const offsets = new Set<number>();
      for (let i = 0; i < 1_500; i++) offsets.add(random(3) === 0 ? random(600) : random(4_000));
      for (let o = 1_024; o < 1_792; o++) offsets.add(o);
      await fill(offsets, WIDE, {
        create: [
          ...[...offsets].map((o) => [String(o), alloc(`c${o}`, `ns/p${o}`)] as const),
          ["00042", alloc("c-l", "ns/legacy")],
          ["-1", alloc("c-n", "ns/negative")],
          ["nonsense", alloc("c-x", "ns/me")],
        ],
        release: [
          ["9", 1],
          ["4001", 2],
        ],
      });
      for (let i = 0; i < 40; i++) {
        const from = BigInt(random(4_500));
        const to = from + BigInt(random(3_000));
        await checked("p", { ...scan(from, to, 1 + random(400)), points: [BigInt(random(4_000))] });
      }
    });
  });
}
