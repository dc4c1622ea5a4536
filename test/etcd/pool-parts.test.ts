// Part reads of etcd pools and the index keys that make them (docs/etcd.md "Index keys"), against
// a real etcd member: what a part holds, block markers (written only when proven full, opened by
// every delete, including a delete that lands between a read and the marking), pools of the
// previous layout (no layout key) read whole and written without index keys, and transactions
// that stay within etcd's 128 operations per branch.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { inParallel } from "../../src/cli/exec-plugin.ts";
import { RELEASE_BATCH } from "../../src/ipam/release.ts";
import type { Allocation } from "../../src/pool/allocation.ts";
import { sortableOffset } from "../../src/pool/blocks.ts";
import { EtcdKeys, encodeBlockFull } from "../../src/store/etcd/documents.ts";
import {
  decode,
  encode,
  type KeyValue,
  prefixEnd,
  putOp,
  type ResponseOp,
  txnOp,
} from "../../src/store/etcd/etcd-api.ts";
import type { EtcdKv } from "../../src/store/etcd/etcd-client.ts";
import { connectEtcd, EtcdStore, openEtcdStore } from "../../src/store/etcd/etcd-store.ts";
import { MAX_TXN_OPS, txnNeed } from "../../src/store/etcd/index-plan.ts";
import { rangedKvs } from "../../src/store/etcd/part-read.ts";
import type { PoolPartQuery } from "../../src/store/store.ts";
import { alloc, change, reservation } from "../store/conformance.ts";
import { type EtcdCluster, inMemoryForFile } from "./etcd-cluster.ts";
import { indexProblems } from "./index-check.ts";

let cluster: EtcdCluster;
inMemoryForFile((c) => {
  cluster = c;
});

let serial = 0;
async function freshStore(): Promise<EtcdStore> {
  return openEtcdStore({ endpoints: cluster.endpoints, prefix: `/parts-${process.pid}-${serial++}` });
}

/** Every key of one pool, read behind the store's back at one revision. */
async function poolKvs(store: EtcdStore, pool: string): Promise<KeyValue[]> {
  const dir = store.keys.pool(pool);
  const reply = (await cluster.call(0, "/v3/kv/range", { key: encode(dir), range_end: prefixEnd(dir) })) as {
    kvs?: KeyValue[];
  };
  return reply.kvs ?? [];
}

async function assertIndexed(store: EtcdStore, pool: string): Promise<void> {
  assert.deepEqual(indexProblems(store.keys, pool, await poolKvs(store, pool)), []);
}

async function marker(store: EtcdStore, pool: string, block: bigint): Promise<string | undefined> {
  const reply = (await cluster.call(0, "/v3/kv/range", { key: encode(store.keys.block(pool, block)) })) as {
    kvs?: KeyValue[];
  };
  const kv = reply.kvs?.[0];
  return kv === undefined ? undefined : Buffer.from(kv.value ?? "", "base64").toString();
}

/** Creates entries at `offsets` in commits of 40. */
async function fill(store: EtcdStore, pool: string, offsets: Iterable<number>, range = "10.0.0.0/16") {
  const all = [...offsets];
  for (let i = 0; i < all.length; i += 40) {
    const create = all.slice(i, i + 40).map((o) => [String(o), alloc(`c${o}`, `ns/p${o}`)] as const);
    assert.deepEqual(await store.commit({ ...change(pool, { create }), range }), { ok: true });
  }
}

const FULL_1 = encodeBlockFull(256n);

const query = (scan?: PoolPartQuery["scan"], extra: Partial<PoolPartQuery> = {}): PoolPartQuery => ({
  podRef: "ns/nobody",
  ifName: "eth0",
  ...(scan === undefined ? {} : { scan }),
  ...extra,
});

describe("etcd part reads", () => {
  it("returns the scanned blocks' entries, the attachment's and owner's entries and the points, at one revision", async () => {
    const store = await freshStore();
    try {
      await fill(store, "p", [1, 2, 3, 300, 70_000 % 65_536]);
      const sticky: Allocation = { ...alloc("cs", "ns/web-0", "net1"), owner: "statefulset/ns/web/0" };
      await store.commit({ ...change("p", { create: [["9000", sticky]] }), range: "10.0.0.0/16" });
      const part = await store.parts.getPoolPart(
        "p",
        query(
          { from: 1n, to: 65_534n, free: 1 },
          { podRef: "ns/p300", owner: "statefulset/ns/web/0", ifName: "eth0", points: [3000n, 4464n] },
        ),
      );
      assert.equal(part.snapshot.range, "10.0.0.0/16");
      // Block 0 has free offsets: the scan stops at its end. The attachment (300), the points (4464
      // is 70,000 - 65,536) are there too; the owner's entry is on net1, not eth0.
      assert.deepEqual(part.scanned, { from: 1n, through: 255n });
      assert.deepEqual([...part.snapshot.allocations.keys()], ["1", "2", "3", "300", "4464"]);
      assert.deepEqual(part.full.intervals, []);
      assert.equal(part.snapshot.version, (await store.getPool("p")).version);
      const owned = await store.parts.getPoolPart(
        "p",
        query(undefined, { owner: "statefulset/ns/web/0", ifName: "net1" }),
      );
      assert.deepEqual([...owned.snapshot.allocations.keys()], ["9000"]);
      await assertIndexed(store, "p");
    } finally {
      await store.close();
    }
  });

  it("reads the first block in the first request whatever it holds, and skips its keys once it is marked full", async () => {
    const keys = new EtcdKeys(`/parts-${process.pid}-${serial++}`);
    const client = connectEtcd({ endpoints: cluster.endpoints, prefix: keys.prefix });
    // The order keys each answer carries (nested transactions' too), as etcd sent them.
    let orderKeys = 0;
    const counted: EtcdKv = {
      call: async <T>(path: string, body: unknown, action: string, deadline?: number) => {
        const reply = await client.call<T>(path, body, action, deadline);
        const kvs = [
          ...((reply as { kvs?: KeyValue[] }).kvs ?? []),
          ...rangedKvs((reply as { responses?: ResponseOp[] }).responses),
        ];
        orderKeys += kvs.filter((kv) => decode(kv.key).includes("/order/")).length;
        return reply;
      },
      get requests() {
        return client.requests;
      },
      close: () => client.close(),
    };
    const store = new EtcdStore(counted, keys);
    try {
      const scan = query({ from: 1n, to: 1_022n, free: 1 });
      // A pool filling from its window's start (offset 0 is the network address): one request each.
      let filled = 0;
      for (const upTo of [1, 64, 65, 200, 254]) {
        await fill(store, "p", range(filled + 1, upTo), "10.0.0.0/22");
        filled = upTo;
        const before = store.requests;
        orderKeys = 0;
        const part = await store.parts.getPoolPart("p", scan);
        assert.equal(store.requests - before, 1, `one request with ${filled} entries in the block`);
        assert.equal(part.snapshot.allocations.size, filled);
        assert.deepEqual(part.scanned, { from: 1n, through: 255n });
        assert.equal(orderKeys, filled);
      }
      // 1–255 taken: the next read goes on to block 1, and the commit after it marks block 0.
      await fill(store, "p", [255], "10.0.0.0/22");
      await store.parts.getPoolPart("p", scan);
      await fill(store, "p", [256], "10.0.0.0/22");
      assert.equal(await marker(store, "p", 0n), encodeBlockFull(1n));
      const before = store.requests;
      orderKeys = 0;
      const part = await store.parts.getPoolPart("p", scan);
      assert.equal(store.requests - before, 2, "the first transaction, then block 1");
      assert.equal(orderKeys, 1, "block 0's 255 keys not read ahead: only offset 256's key");
      assert.deepEqual(part.full.intervals, [{ lo: 1n, hi: 255n }]);
      await assertIndexed(store, "p");
    } finally {
      await store.close();
    }
  });

  it("marks a block full in the next commit after a read saw it full, then skips it without its entries", async () => {
    const store = await freshStore();
    try {
      await fill(store, "p", range(1, 600));
      // Block 0 is not full (offset 0 has no entry); block 1 (256–511) is, block 2 is not.
      const first = await store.parts.getPoolPart("p", query({ from: 1n, to: 65_534n, free: 1 }));
      assert.deepEqual(first.scanned, { from: 1n, through: 767n });
      assert.equal(first.snapshot.allocations.size, 600);
      assert.equal(await marker(store, "p", 1n), undefined, "a read writes nothing");
      let before = store.requests;
      await fill(store, "p", [601]);
      assert.equal(store.requests - before, 1, "the markers go with the commit");
      assert.equal(await marker(store, "p", 1n), FULL_1);
      // Block 0's offset 0 (the network address) is free: its marker covers 1–255.
      assert.equal(await marker(store, "p", 0n), encodeBlockFull(1n));
      before = store.requests;
      const second = await store.parts.getPoolPart("p", query({ from: 1n, to: 65_534n, free: 1 }));
      assert.deepEqual(second.full.intervals, [{ lo: 1n, hi: 511n }]);
      assert.deepEqual(second.scanned, { from: 1n, through: 767n });
      assert.equal(second.snapshot.allocations.size, 601 - 511, "blocks 0 and 1's entries not read");
      assert.equal(store.requests - before, 2, "the first transaction, then block 2 at its revision");
      // From offset 0, which the marker does not cover: 0 is read, 1–255 skipped.
      const zero = await store.parts.getPoolPart("p", query({ from: 0n, to: 65_534n, free: 1 }));
      assert.deepEqual(zero.full.intervals, [{ lo: 1n, hi: 255n }]);
      assert.deepEqual(zero.scanned, { from: 0n, through: 255n });
      // A scan that starts inside a block marked full skips it too.
      const inside = await store.parts.getPoolPart("p", query({ from: 300n, to: 65_534n, free: 1 }));
      assert.deepEqual(inside.full.intervals, [{ lo: 300n, hi: 511n }]);
      assert.deepEqual(inside.scanned, { from: 300n, through: 767n });
      // Deleting any entry of the block opens it; the next scan reads it again.
      const a = alloc("c400", "ns/p400");
      assert.deepEqual(await store.commit(change("p", { remove: [["400", a]] })), { ok: true });
      assert.equal(await marker(store, "p", 1n), '"open"');
      const reopened = await store.parts.getPoolPart("p", query({ from: 256n, to: 65_534n, free: 1 }));
      assert.deepEqual(reopened.full.intervals, []);
      assert.deepEqual(reopened.scanned, { from: 256n, through: 511n });
      assert.equal(reopened.snapshot.allocations.has("400"), false);
      // The ADD that takes the block's last free offset marks it: its read saw every other one taken.
      assert.deepEqual(await store.commit(change("p", { create: [["400", a]] })), { ok: true });
      assert.equal(await marker(store, "p", 1n), FULL_1);
      await assertIndexed(store, "p");
    } finally {
      await store.close();
    }
  });

  it("after a bulk fill, the first read and commit mark every block read, beyond one transaction's room", async () => {
    const store = await freshStore();
    try {
      const blocks = 130;
      const last = blocks * 256 - 1;
      const chunks: number[][] = [];
      for (let o = 1; o <= last; o += 40) chunks.push(range(o, Math.min(last, o + 39)));
      await inParallel(chunks, 8, (chunk) => fill(store, "p", chunk));
      const read = await store.parts.getPoolPart("p", query({ from: 1n, to: 65_534n, free: 1 }));
      assert.equal(read.snapshot.allocations.size, last, "every block read once");
      const before = store.requests;
      await fill(store, "p", [last + 1]);
      assert.equal(store.requests - before, 2, "the commit, and one transaction for the markers left");
      for (const block of [0n, 1n, 64n, 128n, 129n])
        assert.notEqual(await marker(store, "p", block), undefined);
      const after = store.requests;
      const next = await store.parts.getPoolPart("p", query({ from: 1n, to: 65_534n, free: 1 }));
      assert.deepEqual(next.full.intervals, [{ lo: 1n, hi: BigInt(last) }]);
      assert.equal(store.requests - after, 2);
      await assertIndexed(store, "p");
    } finally {
      await store.close();
    }
  });

  it("never marks a block full when an entry of it is deleted between the read and the marking commit", async () => {
    const store = await freshStore();
    const rival = await freshStoreSharing(store);
    try {
      await fill(store, "p", range(256, 511));
      const part = await store.parts.getPoolPart("p", query({ from: 256n, to: 65_534n, free: 1 }));
      assert.equal(part.snapshot.allocations.size, 256, "the read saw the block full");
      // A DEL lands between the read and the commit that would mark the block.
      assert.deepEqual(await rival.commit(change("p", { remove: [["300", alloc("c300", "ns/p300")]] })), {
        ok: true,
      });
      await fill(store, "p", [1000]);
      assert.equal(await marker(store, "p", 1n), '"open"', "the DEL's open stands");
      await assertIndexed(store, "p");
      // The control: without a DEL in between, the same sequence marks it.
      assert.deepEqual(await rival.commit(change("p", { create: [["300", alloc("c300", "ns/p300")]] })), {
        ok: true,
      });
      await store.parts.getPoolPart("p", query({ from: 256n, to: 65_534n, free: 1 }));
      await fill(store, "p", [1001]);
      assert.equal(await marker(store, "p", 1n), FULL_1);
      // Nor when the commit itself deletes in the block: its own "open" stands.
      await store.parts.getPoolPart("p", query({ from: 256n, to: 65_534n, free: 1 }));
      assert.deepEqual(await rival.commit(change("p", { remove: [["300", alloc("c300", "ns/p300")]] })), {
        ok: true,
      });
      assert.deepEqual(await rival.commit(change("p", { create: [["300", alloc("c300", "ns/p300")]] })), {
        ok: true,
      });
      await store.parts.getPoolPart("p", query({ from: 256n, to: 65_534n, free: 1 }));
      assert.deepEqual(await store.commit(change("p", { remove: [["301", alloc("c301", "ns/p301")]] })), {
        ok: true,
      });
      assert.equal(await marker(store, "p", 1n), '"open"');
      await assertIndexed(store, "p");
    } finally {
      await store.close();
      await rival.close();
    }
  });

  it("ADDs and DELs racing on one block leave no marker full over a free offset", async () => {
    const store = await freshStore();
    const writers = await Promise.all(Array.from({ length: 6 }, () => freshStoreSharing(store)));
    try {
      await fill(store, "p", range(256, 511));
      // Each writer frees one of its own offsets and takes it back, reading a part before each
      // commit: a read that sees the block full but for its own offset makes the commit that takes
      // it back mark the block, unless another writer freed one of theirs in between.
      // Whether any commit marks the block depends on the interleaving (a loaded machine may
      // interleave every round): rounds go again, a bounded number of times, until one did.
      let marked = 0;
      for (let pass = 0; pass < 10 && marked === 0; pass++)
        await Promise.all(
          writers.map(async (w, i) => {
            for (let round = 0; round < 20; round++) {
              const offset = 256 + i * 40 + round;
              const key = String(offset);
              const a = alloc(`c${offset}`, `ns/p${offset}`);
              await w.parts.getPoolPart(
                "p",
                query({ from: 256n, to: 511n, free: 1 }, { points: [BigInt(offset)] }),
              );
              assert.deepEqual(await w.commit(change("p", { remove: [[key, a]] })), { ok: true });
              await w.parts.getPoolPart("p", query({ from: 256n, to: 511n, free: 1 }));
              assert.deepEqual(await w.commit(change("p", { create: [[key, a]] })), { ok: true });
              if ((await marker(store, "p", 1n)) === FULL_1) marked++;
              await assertIndexed(store, "p");
            }
          }),
        );
      assert.ok(marked > 0, "some commits did mark the block");
      await assertIndexed(store, "p");
    } finally {
      await store.close();
      for (const w of writers) await w.close();
    }
  });

  it("counts transactions as etcd does: the operations of nested ones against what their parent leaves", async () => {
    const store = await freshStore();
    try {
      const puts = (n: number) => range(1, n).map((i) => putOp(`${store.keys.prefix}/probe/${i}`, "1"));
      for (const [success, accepted] of [
        [[txnOp([], puts(127))], true],
        [[txnOp([], puts(128))], false],
        [[putOp(`${store.keys.prefix}/x`, "1"), txnOp([], [txnOp([], puts(125))])], true],
        [[putOp(`${store.keys.prefix}/x`, "1"), txnOp([], [txnOp([], puts(126))])], false],
      ] as const) {
        const need = txnNeed([], success, []);
        assert.equal(need <= MAX_TXN_OPS, accepted, `need ${need}`);
        const sent = cluster.call(0, "/v3/kv/txn", { compare: [], success, failure: [] });
        if (accepted) await sent;
        else await assert.rejects(sent, /too many operations/);
      }
    } finally {
      await store.close();
    }
  });

  it("a commit that loses a race reads the part its retry asks for: the retry costs no request", async () => {
    const store = await freshStore();
    const other = await freshStoreSharing(store);
    try {
      await fill(store, "p", [1, 2, 3]);
      const q = query({ from: 1n, to: 1_000n, free: 1 }, { podRef: "ns/me" });
      await store.parts.getPoolPart("p", q);
      await fill(other, "p", [4]);
      const mine = change("p", { create: [["4", alloc("c-me", "ns/me")]] });
      let before = store.requests;
      assert.deepEqual(await store.commit(mine), { ok: false, conflict: "entry", key: "4" });
      const retry = await store.parts.getPoolPart("p", { ...q, scan: { ...q.scan!, free: 8 } });
      assert.equal(store.requests - before, 1, "the transaction only; the part came with it");
      assert.deepEqual(
        retry,
        await other.parts.getPoolPart("p", q),
        "the part as a read of its own gives it",
      );
      assert.ok(retry.snapshot.allocations.has("4"));
      // Used once; another query, or a pool whose last read was another query, reads.
      before = store.requests;
      await store.parts.getPoolPart("p", q);
      assert.equal(store.requests - before, 1);
      await fill(other, "p", [5]);
      assert.deepEqual(await store.commit(change("p", { create: [["5", alloc("c-me", "ns/me")]] })), {
        ok: false,
        conflict: "entry",
        key: "5",
      });
      before = store.requests;
      await store.parts.getPoolPart("p", { ...q, podRef: "ns/you" });
      assert.equal(store.requests - before, 1, "other lookups: read");
      // Only for the retry that follows at once: a second later, the next read asks etcd.
      await store.parts.getPoolPart("p", q);
      await fill(other, "p", [6]);
      assert.equal((await store.commit(change("p", { create: [["6", alloc("c-me", "ns/me")]] }))).ok, false);
      await sleep(1_100);
      before = store.requests;
      await store.parts.getPoolPart("p", q);
      assert.equal(store.requests - before, 1, "too late: read");
      await assertIndexed(store, "p");
    } finally {
      await store.close();
      await other.close();
    }
  });

  it("applies a commit stating that attachments hold no entry (absent) only when none of them does", async () => {
    const store = await freshStore();
    try {
      await fill(store, "p", [1, 2, 3]);
      await fill(store, "q", [7]);
      assert.equal((await store.parts.getPoolPart("missing", query())).checksAbsent, undefined);
      const part = await store.parts.getPoolPart("p", query({ from: 1n, to: 100n, free: 1 }));
      assert.equal(part.checksAbsent, true, "an indexed pool");
      const me = { podRef: "ns/me", ifName: "eth0" };
      const mine = (key: string, a = alloc("c-me", me.podRef)) =>
        change("p", {
          create: [[key, a]],
          reserve: [reservation(`10.0.0.${key}`, a.podRef, a.ifName, a.containerId)],
          absent: [{ podRef: a.podRef, ifName: a.ifName }],
        });
      // ns/p7 holds an entry in another pool only; ns/p2 holds offset 2 here.
      assert.deepEqual(await store.commit(mine("10")), { ok: true });
      assert.deepEqual(await store.commit(mine("11")), { ok: false, conflict: "entry", key: "10" });
      assert.deepEqual(await store.commit(mine("12", alloc("c2", "ns/p2"))), {
        ok: false,
        conflict: "entry",
        key: "2",
      });
      assert.deepEqual(await store.commit(mine("13", alloc("c2", "ns/p2", "net1"))), { ok: true });
      assert.deepEqual(await store.commit(mine("14", alloc("c7", "ns/p7"))), { ok: true });
      // Two attachments in one commit (the node agent's merged commit): each checked before its writes.
      const both = change("p", {
        create: [
          ["20", alloc("c-a", "ns/a")],
          ["21", alloc("c-b", "ns/b")],
        ],
        absent: [
          { podRef: "ns/a", ifName: "eth0" },
          { podRef: "ns/b", ifName: "eth0" },
        ],
      });
      assert.deepEqual(await store.commit(both), { ok: true });
      const pool = await store.getPool("p");
      assert.deepEqual([...pool.allocations.keys()].sort(), ["1", "10", "13", "14", "2", "20", "21", "3"]);
      for (const name of ["10.0.0.11", "10.0.0.12"])
        assert.equal(await store.getReservation(name), undefined);
      await assertIndexed(store, "p");
      // A pool of the previous layout has no attachment keys to check: never applied.
      await cluster.call(0, "/v3/kv/put", {
        key: encode(store.keys.meta("old")),
        value: encode(JSON.stringify({ range: "10.0.0.0/16" })),
      });
      await fill(store, "old", [1]);
      assert.equal(
        (await store.parts.getPoolPart("old", query({ from: 1n, to: 100n, free: 1 }))).checksAbsent,
        undefined,
      );
      const old = { ...mine("5"), pool: "old" };
      assert.deepEqual(await store.commit(old), { ok: false, conflict: "entry", key: "5" });
      assert.equal((await store.getPool("old")).allocations.has("5"), false);
    } finally {
      await store.close();
    }
  });

  it("reads a pool of the previous layout (no layout key) whole and writes no index keys to it", async () => {
    const store = await freshStore();
    try {
      await cluster.call(0, "/v3/kv/put", {
        key: encode(store.keys.meta("old")),
        value: encode(JSON.stringify({ range: "10.0.0.0/16" })),
      });
      await fill(store, "old", range(1, 300));
      const sticky: Allocation = { ...alloc("cs", "ns/web-0"), owner: "statefulset/ns/web/0" };
      await store.commit(change("old", { create: [["9000", sticky]] }));
      const update = { key: "9000", from: sticky, to: { ...sticky, containerId: "cs2", podRef: "ns/web-1" } };
      assert.deepEqual(await store.commit(change("old", { update: [update] })), { ok: true });
      assert.deepEqual(await store.commit(change("old", { remove: [["5", alloc("c5", "ns/p5")]] })), {
        ok: true,
      });
      const kvs = await poolKvs(store, "old");
      assert.deepEqual(indexProblems(store.keys, "old", kvs), []);
      assert.equal(
        kvs.filter(
          (kv) => store.keys.parsePoolKey(Buffer.from(kv.key, "base64").toString())?.kind !== "entry",
        ).length,
        1,
        "the meta key and entries only",
      );
      const part = await store.parts.getPoolPart("old", query({ from: 1n, to: 65_534n, free: 1 }));
      assert.equal(part.snapshot.allocations.size, 300, "whole");
      assert.deepEqual(part.scanned, { from: 1n, through: 65_534n });
      assert.equal(part.snapshot.allocations.has("5"), false);
      assert.equal(part.snapshot.allocations.get("9000")?.podRef, "ns/web-1");
      assert.deepEqual(part.snapshot, await store.getPool("old"));
    } finally {
      await store.close();
    }
  });

  it("keeps index keys exact through updates that change podRef, ifName and owner", async () => {
    const store = await freshStore();
    try {
      const a: Allocation = { ...alloc("c1", "ns/a"), owner: "vm/ns/a" };
      await store.commit({ ...change("p", { create: [["7", a]] }), range: "10.0.0.0/16" });
      const steps: Allocation[] = [
        { ...a, podRef: "ns/b", containerId: "c2" },
        { ...a, podRef: "ns/b", containerId: "c3", ifName: "net1" },
        { containerId: "c3", podRef: "ns/b", ifName: "net1" },
        { containerId: "c4", podRef: "ns/c", ifName: "net1", owner: "vm/ns/c", parkedAt: 1_000 },
      ];
      let from = a;
      for (const to of steps) {
        assert.deepEqual(await store.commit(change("p", { update: [{ key: "7", from, to }] })), { ok: true });
        await assertIndexed(store, "p");
        const found = await store.parts.getPoolPart(
          "p",
          query(undefined, {
            podRef: to.podRef,
            ifName: to.ifName,
            ...(to.owner ? { owner: to.owner } : {}),
          }),
        );
        assert.deepEqual(found.snapshot.allocations.get("7"), to);
        const gone = await store.parts.getPoolPart(
          "p",
          query(undefined, { podRef: from.podRef, ifName: from.ifName }),
        );
        assert.equal(
          gone.snapshot.allocations.has("7"),
          from.podRef === to.podRef && from.ifName === to.ifName,
        );
        from = to;
      }
    } finally {
      await store.close();
    }
  });

  it("releases a batch of entries with their reservations in one transaction, within etcd's 128 operations", async () => {
    const store = await freshStore();
    try {
      // Sticky entries: three index keys each, so the index writes need nested transactions.
      const entries = range(1, RELEASE_BATCH).map(
        (o) => [String(o), { ...alloc(`c${o}`, `ns/p${o}`), owner: `vm/ns/p${o}` }] as const,
      );
      const reserve = entries.map(([o, a]) => reservation(`10.0.0.${o}`, a.podRef, "eth0", a.containerId));
      assert.deepEqual(
        await store.commit({ ...change("p", { create: entries, reserve }), range: "10.0.0.0/16" }),
        {
          ok: true,
        },
      );
      const released = entries.map(([o]) => [o, 1_000] as const);
      assert.deepEqual(
        await store.commit(change("p", { remove: entries, unreserve: reserve, release: released })),
        { ok: true },
      );
      assert.equal((await store.getPool("p")).allocations.size, 0);
      assert.equal((await store.listReservations()).length, 0);
      await assertIndexed(store, "p");
    } finally {
      await store.close();
    }
  });

  it("IPv6 offsets beyond 2^64 are filed and scanned in numeric order", async () => {
    const store = await freshStore();
    try {
      const big = 1n << 70n;
      const offsets = [big + 5n, big + 1n, big + 300n].map(String);
      const create = offsets.map((o) => [o, alloc(`c${o}`, `ns/${o.length}`)] as const);
      assert.deepEqual(await store.commit({ ...change("v6", { create }), range: "fd00::/48" }), { ok: true });
      const part = await store.parts.getPoolPart("v6", query({ from: big, to: big + 1000n, free: 300 }));
      assert.deepEqual(
        [...part.snapshot.allocations.keys()],
        [String(big + 1n), String(big + 5n), String(big + 300n)],
      );
      assert.deepEqual(part.scanned, { from: big, through: big + 511n });
      assert.equal(sortableOffset(big).length, 32);
      await assertIndexed(store, "v6");
    } finally {
      await store.close();
    }
  });
});

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

async function freshStoreSharing(store: EtcdStore): Promise<EtcdStore> {
  return openEtcdStore({ endpoints: cluster.endpoints, prefix: store.keys.prefix });
}
