// The Store contract's parts for sticky addresses, registered by storeConformance for every
// backend: an entry's owner and parking, the pool's release records, and taking over a
// reservation from the owner a change names.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { Allocation } from "../../src/pool/allocation.ts";
import type { CommitResult, PoolChange, Store } from "../../src/store/store.ts";
import { alloc, type ConformanceTarget, change, claimed, reservation } from "./conformance.ts";

const OK: CommitResult = { ok: true };

function sticky(containerId: string, podRef: string, owner: string, parkedAt?: number): Allocation {
  return parkedAt === undefined
    ? { ...alloc(containerId, podRef), owner }
    : { ...alloc(containerId, podRef), owner, parkedAt };
}

export function stickyConformance(name: string, open: () => Promise<ConformanceTarget>): void {
  describe(`Store conformance, sticky addresses: ${name}`, () => {
    let target: ConformanceTarget;
    let store: Store;
    beforeEach(async () => {
      target = await open();
      store = target.store;
    });
    afterEach(async () => {
      await target.cleanup();
    });

    async function commitOk(c: PoolChange): Promise<void> {
      assert.deepEqual(await store.commit(c), OK);
    }

    /** The pool's entries, sorted by key, as every way of reading it returns them. */
    async function readEverywhere(pool: string): Promise<[string, Allocation][]> {
      const sorted = (m: ReadonlyMap<string, Allocation>) =>
        [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const read = sorted((await store.getPool(pool)).allocations);
      const listed = (await store.listPools()).find((p) => p.name === pool);
      assert.deepStrictEqual(
        sorted(listed?.allocations ?? new Map()),
        read,
        "listPools() reads as getPool()",
      );
      const other = await target.reopen();
      try {
        assert.deepStrictEqual(
          sorted((await other.getPool(pool)).allocations),
          read,
          "another instance reads the same",
        );
      } finally {
        await other.close();
      }
      return read;
    }

    it("commit() round-trips owner and parkedAt, and entries without them read without them", async () => {
      const created: [string, Allocation][] = [
        ["1", alloc("c1", "ns/plain")],
        ["2", sticky("c2", "ns/web-0", "statefulset/ns/web/0")],
        ["3", sticky("c3", "ns/virt-launcher-vm1-abcde", "vm/ns/vm1", 1_767_225_600_123)],
      ];
      await commitOk(change("p", { create: created }));
      // deepStrictEqual: an absent field must read as absent, not as a key holding undefined.
      assert.deepStrictEqual(await readEverywhere("p"), created);
    });

    it("commit() parks and takes over a sticky entry, each step's precondition seeing owner and parkedAt", async () => {
      const held = sticky("c1", "ns/web-0", "statefulset/ns/web/0");
      await commitOk(change("p", { create: [["4", held]] }));
      const parked = { ...held, parkedAt: 1_767_225_600_000 };
      await commitOk(change("p", { update: [{ key: "4", from: held, to: parked }] }));

      // Writers that still see the entry as it was before parking lose.
      const stale = [
        change("p", { update: [{ key: "4", from: held, to: { ...held, containerId: "c9" } }] }),
        change("p", { remove: [["4", held]] }),
        change("p", { update: [{ key: "4", from: alloc("c1", "ns/web-0"), to: held }] }),
      ];
      for (const c of stale)
        assert.deepEqual(await store.commit(c), { ok: false, conflict: "entry", key: "4" });
      assert.deepStrictEqual(await readEverywhere("p"), [["4", parked]]);

      // The owner's next pod takes it: new holder, same owner, no longer parked.
      const successor = sticky("c2", "ns/web-0", "statefulset/ns/web/0");
      await commitOk(change("p", { update: [{ key: "4", from: parked, to: successor }] }));
      assert.deepStrictEqual(await readEverywhere("p"), [["4", successor]]);
      // And removing needs the entry exactly as stored.
      assert.deepEqual(
        await store.commit(change("p", { remove: [["4", { ...successor, owner: "vm/ns/x" }]] })),
        {
          ok: false,
          conflict: "entry",
          key: "4",
        },
      );
      await commitOk(change("p", { remove: [["4", successor]] }));
      assert.deepStrictEqual((await store.getPool("p")).allocations, new Map());
    });

    it("a pool without release records reads an empty map of them", async () => {
      assert.deepStrictEqual((await store.getPool("missing")).released, new Map());
      await commitOk(change("p", { create: [["1", alloc("c1", "ns/a")]] }));
      assert.deepStrictEqual((await store.getPool("p")).released, new Map());
    });

    it("commit() sets and forgets release records with its entries; the last writer wins", async () => {
      const a = alloc("c1", "ns/a");
      const b = alloc("c2", "ns/b");
      await commitOk(
        change("p", {
          create: [
            ["1", a],
            ["2", b],
          ],
        }),
      );
      await commitOk(change("p", { remove: [["1", a]], release: [["1", 1_000]] }));
      await commitOk(change("p", { remove: [["2", b]], release: [["2", 2_000]] }));
      const records = async () => {
        const read = (await store.getPool("p")).released;
        const listed = (await store.listPools()).find((p) => p.name === "p")?.released;
        assert.deepStrictEqual(listed, read, "listPools() reads the records as getPool()");
        return read;
      };
      assert.deepStrictEqual(
        await records(),
        new Map([
          ["1", 1_000],
          ["2", 2_000],
        ]),
      );

      // No precondition on records: a later writer overwrites, and forgetting a key without one is no error.
      await commitOk(change("p", { release: [["1", 5_000]], forget: ["77"] }));
      // Created again at key 1: the writer forgets its record in the same change.
      const c = alloc("c3", "ns/c");
      await commitOk(change("p", { create: [["1", c]], forget: ["1"] }));
      assert.deepStrictEqual(await records(), new Map([["2", 2_000]]));
      const other = await target.reopen();
      try {
        assert.deepStrictEqual((await other.getPool("p")).released, new Map([["2", 2_000]]));
      } finally {
        await other.close();
      }
      assert.deepStrictEqual([...(await store.getPool("p")).allocations], [["1", c]]);
    });

    it("a change whose entry precondition fails sets no release record", async () => {
      const a = alloc("c1", "ns/a");
      await commitOk(change("p", { create: [["1", a]] }));
      const result = await store.commit(
        change("p", { remove: [["1", alloc("c1", "ns/other")]], release: [["1", 1_000]], forget: [] }),
      );
      assert.deepEqual(result, { ok: false, conflict: "entry", key: "1" });
      assert.deepStrictEqual((await store.getPool("p")).released, new Map());
    });

    it("a store keeps every release record it is given (bounding them is the writer's)", async () => {
      const a = alloc("c1", "ns/a");
      await commitOk(change("p", { create: [["0", a]] }));
      const many = Array.from({ length: 1_100 }, (_, i) => [String(i + 1), 1_700_000_000_000 + i] as const);
      // In changes of 100 (a transaction's operations are bounded on etcd), past the writer's 1,024.
      for (let i = 0; i < many.length; i += 100)
        await commitOk(change("p", { release: many.slice(i, i + 100) }));
      const read = (await store.getPool("p")).released;
      assert.equal(read.size, 1_100);
      assert.deepStrictEqual(read, new Map(many));
    });

    it("commit() throws RangeError for a change that names a release record twice", async () => {
      await commitOk(change("p", { create: [["1", alloc("c1", "ns/a")]] }));
      for (const c of [
        change("p", {
          release: [
            ["5", 1],
            ["5", 2],
          ],
        }),
        change("p", { release: [["5", 1]], forget: ["5"] }),
      ]) {
        await assert.rejects(store.commit(c), (error: unknown) => {
          assert.ok(error instanceof RangeError, String(error));
          assert.equal(error.message, "Cannot commit pool p: the change names release record 5 twice");
          return true;
        });
      }
      assert.deepStrictEqual((await store.getPool("p")).released, new Map());
    });

    it("commit() takes a reservation over only from the owner it replaces", async () => {
      const source = claimed(reservation("10.0.0.7", "ns/virt-launcher-vm1-aaaaa", "eth0", "c1"), "10.0.0.7");
      await commitOk(
        change("p", { create: [["7", sticky("c1", source.podRef, "vm/ns/vm1")]], reserve: [source] }),
      );

      // Another owner named as replaced: the holder is reported, nothing changes.
      const intruder = {
        ...reservation("10.0.0.7", "ns/other", "eth0", "c9"),
        replaces: reservation("x", "ns/b"),
      };
      assert.deepEqual(await store.commit(change("p", { reserve: [intruder] })), {
        ok: false,
        conflict: "reservation",
        holder: source,
      });
      // The right pod and interface with another container id is not the same owner either.
      const { name: _, claim: __, ...sourceOwner } = source;
      const wrongContainer = {
        ...reservation("10.0.0.7", "ns/virt-launcher-vm1-bbbbb", "eth0", "c2"),
        replaces: { ...sourceOwner, containerId: "c0" },
      };
      assert.deepEqual(await store.commit(change("p", { reserve: [wrongContainer] })), {
        ok: false,
        conflict: "reservation",
        holder: source,
      });
      assert.deepEqual(await store.getReservation("10.0.0.7"), source);

      // The target pod replacing exactly the source: rewritten to it, the claim kept, `replaces` not stored.
      const target = reservation("10.0.0.7", "ns/virt-launcher-vm1-bbbbb", "eth0", "c2");
      await commitOk(change("p", { reserve: [{ ...target, replaces: sourceOwner }] }));
      const takenOver = { ...target, claim: source.claim };
      assert.deepStrictEqual(await store.getReservation("10.0.0.7"), takenOver);
      assert.deepStrictEqual(await store.listReservations(), [takenOver]);

      // Replacing the source again now fails: the target holds it.
      const third = {
        ...reservation("10.0.0.7", "ns/virt-launcher-vm1-ccccc", "eth0", "c3"),
        replaces: sourceOwner,
      };
      assert.deepEqual(await store.commit(change("p", { reserve: [third] })), {
        ok: false,
        conflict: "reservation",
        holder: takenOver,
      });
      // A reservation that is free is simply created, whatever it names as replaced.
      const fresh = { ...reservation("10.0.0.8", "ns/c", "eth0", "c4"), replaces: sourceOwner };
      await commitOk(change("p", { reserve: [fresh] }));
      assert.deepStrictEqual(
        await store.getReservation("10.0.0.8"),
        reservation("10.0.0.8", "ns/c", "eth0", "c4"),
      );
    });
  });
}
