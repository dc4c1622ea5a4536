// The Store contract as one suite that every backend runs (local sqlite, Kubernetes, etcd, fakes):
// `storeConformance("etcd", openEtcdFixture)` registers the same behaviours for each. Nothing here
// depends on how a backend spells its versions or orders its listings.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { Allocation, PoolSnapshot, Reservation } from "../../src/pool/allocation.ts";
import type { CommitResult, PoolChange, Store } from "../../src/store/store.ts";

export interface ConformanceTarget {
  /** A store on an empty backend. */
  readonly store: Store;
  /** Another Store instance on the same backend; the suite closes the ones it opens. */
  readonly reopen?: () => Promise<Store>;
  /** Closes `store` and releases the backend. */
  readonly cleanup: () => Promise<void>;
}

const RANGE = "10.0.0.0/24";

export function alloc(containerId: string, podRef: string, ifName = "eth0"): Allocation {
  return { containerId, podRef, ifName };
}

export function reservation(name: string, podRef: string, ifName = "eth0", containerId = "c1"): Reservation {
  return { name, podRef, ifName, containerId };
}

export function change(
  pool: string,
  expectedVersion: string | undefined,
  parts: Partial<PoolChange> = {},
): PoolChange {
  return { pool, range: RANGE, expectedVersion, set: [], remove: [], reserve: [], unreserve: [], ...parts };
}

function entries(snapshot: PoolSnapshot): [string, Allocation][] {
  return [...snapshot.allocations].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function byName<T extends { readonly name: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const OK: CommitResult = { ok: true };
const POOL_CONFLICT: CommitResult = { ok: false, conflict: "pool" };

export function storeConformance(name: string, open: () => Promise<ConformanceTarget>): void {
  describe(`Store conformance: ${name}`, () => {
    let target: ConformanceTarget;
    let store: Store;
    beforeEach(async () => {
      target = await open();
      store = target.store;
    });
    afterEach(async () => {
      await target.cleanup();
    });

    /** Commits and asserts success; returns the version read afterwards. */
    async function commitOk(c: PoolChange): Promise<string> {
      assert.deepEqual(await store.commit(c), OK);
      const version = (await store.getPool(c.pool)).version;
      assert.notEqual(version, undefined);
      return version!;
    }

    it("getPool() reads a missing pool as empty with version undefined", async () => {
      const pool = await store.getPool("missing");
      assert.equal(pool.name, "missing");
      assert.equal(pool.range, "");
      assert.equal(pool.allocations.size, 0);
      assert.equal(pool.version, undefined);
      assert.deepEqual(await store.listPools(), []);
      assert.equal(await store.getReservation("10.0.0.1"), undefined);
      assert.deepEqual(await store.listReservations(), []);
    });

    it("commit() creates a pool when expectedVersion is undefined", async () => {
      await commitOk(change("p", undefined, { set: [["1", alloc("c1", "ns/a")]] }));
      const pool = await store.getPool("p");
      assert.equal(pool.name, "p");
      assert.equal(pool.range, RANGE);
      assert.deepEqual(entries(pool), [["1", alloc("c1", "ns/a")]]);
      assert.equal(typeof pool.version, "string");
    });

    it("commit() creates an empty pool", async () => {
      await commitOk(change("p", undefined));
      const pool = await store.getPool("p");
      assert.equal(pool.range, RANGE);
      assert.equal(pool.allocations.size, 0);
    });

    it("commit() refuses a second create of the same pool", async () => {
      const version = await commitOk(change("p", undefined, { set: [["1", alloc("c1", "ns/a")]] }));
      const second = change("p", undefined, {
        set: [["2", alloc("c2", "ns/b")]],
        reserve: [reservation("r", "ns/b")],
      });
      assert.deepEqual(await store.commit(second), POOL_CONFLICT);
      const pool = await store.getPool("p");
      assert.deepEqual(entries(pool), [["1", alloc("c1", "ns/a")]]);
      assert.equal(pool.version, version);
      assert.equal(await store.getReservation("r"), undefined);
    });

    it("commit() with a stale version conflicts and applies nothing", async () => {
      const v1 = await commitOk(change("p", undefined, { set: [["1", alloc("c1", "ns/a")]] }));
      const v2 = await commitOk(change("p", v1, { set: [["2", alloc("c2", "ns/b")]] }));
      const stale = change("p", v1, {
        set: [["9", alloc("c9", "ns/z")]],
        remove: ["1"],
        reserve: [reservation("10.0.0.9", "ns/z")],
      });
      assert.deepEqual(await store.commit(stale), POOL_CONFLICT);
      const pool = await store.getPool("p");
      assert.deepEqual(entries(pool), [
        ["1", alloc("c1", "ns/a")],
        ["2", alloc("c2", "ns/b")],
      ]);
      assert.equal(pool.version, v2);
      assert.equal(await store.getReservation("10.0.0.9"), undefined);
    });

    it("commit() with a version for a missing pool conflicts", async () => {
      const version = await commitOk(change("other", undefined));
      assert.deepEqual(
        await store.commit(change("p", version, { set: [["1", alloc("c", "ns/a")]] })),
        POOL_CONFLICT,
      );
      assert.equal((await store.getPool("p")).version, undefined);
    });

    it("commit() checks the version of a change with nothing to do", async () => {
      const v1 = await commitOk(change("p", undefined));
      const v2 = await commitOk(change("p", v1, { set: [["1", alloc("c1", "ns/a")]] }));
      assert.deepEqual(await store.commit(change("p", v1)), POOL_CONFLICT);
      assert.deepEqual(await store.commit(change("p", v2)), OK);
    });

    it("commit() round-trips entries with exact fields and verbatim keys", async () => {
      const set: [string, Allocation][] = [
        ["1", alloc("c1", "ns/a", "eth0")],
        ["+5", alloc("c5", "ns/legacy", "")],
        ["-1", alloc("cm1", "ns/negative", "net1")],
        ["007", alloc("c7", "ns/zeros", "net2")],
        ["9223372036854775808", alloc("c63", "ns/big", "eth0")],
        ["340282366920938463463374607431768211455", alloc("c128", "ns/max", "eth1")],
      ];
      const v1 = await commitOk(change("p", undefined, { set }));
      const read = await store.getPool("p");
      assert.deepEqual(entries(read), entries({ ...read, allocations: new Map(set) }));
      assert.equal(read.allocations.get("+5")?.ifName, "");

      await commitOk(
        change("p", v1, { remove: ["+5", "007"], set: [["1", alloc("c1-new", "ns/a", "eth0")]] }),
      );
      const after = await store.getPool("p");
      assert.deepEqual(entries(after), [
        ["-1", alloc("cm1", "ns/negative", "net1")],
        ["1", alloc("c1-new", "ns/a", "eth0")],
        ["340282366920938463463374607431768211455", alloc("c128", "ns/max", "eth1")],
        ["9223372036854775808", alloc("c63", "ns/big", "eth0")],
      ]);
      assert.equal(after.allocations.has("5"), false);
      assert.equal(after.allocations.has("7"), false);
    });

    it("commit() changes the version on every successful write", async () => {
      const versions = [await commitOk(change("p", undefined, { set: [["1", alloc("c1", "ns/a")]] }))];
      for (const key of ["2", "3", "4"]) {
        const previous = versions.at(-1)!;
        versions.push(await commitOk(change("p", previous, { set: [[key, alloc(`c${key}`, `ns/${key}`)]] })));
      }
      versions.push(await commitOk(change("p", versions.at(-1)!, { remove: ["2"] })));
      assert.equal(new Set(versions).size, versions.length);
    });

    it("commit() creates a reservation and accepts it again from the same owner", async () => {
      const held = reservation("10.0.0.1", "ns/a", "eth0", "c1");
      const v1 = await commitOk(
        change("p", undefined, { set: [["1", alloc("c1", "ns/a")]], reserve: [held] }),
      );
      assert.deepEqual(await store.getReservation("10.0.0.1"), held);

      const again = reservation("10.0.0.1", "ns/a", "eth0", "c1-restarted");
      await commitOk(change("p", v1, { set: [["1", alloc("c1-restarted", "ns/a")]], reserve: [again] }));
      assert.deepEqual(await store.getReservation("10.0.0.1"), again);
    });

    it("commit() treats a reservation without ifName as held by every interface of its pod", async () => {
      const v1 = await commitOk(change("p", undefined, { reserve: [reservation("10.0.0.1", "ns/a", "")] }));
      const result = await store.commit(
        change("p", v1, { reserve: [reservation("10.0.0.1", "ns/a", "net1", "c2")] }),
      );
      assert.deepEqual(result, OK);
      const stored = await store.getReservation("10.0.0.1");
      assert.equal(stored?.podRef, "ns/a");
      assert.equal(stored?.containerId, "c2");
    });

    it("commit() reports the holder of a reservation taken by another owner and applies nothing", async () => {
      const held = reservation("10.0.0.1", "ns/a", "eth0", "c1");
      const v1 = await commitOk(
        change("p", undefined, { set: [["1", alloc("c1", "ns/a")]], reserve: [held] }),
      );
      const cases = [
        reservation("10.0.0.1", "ns/b", "eth0", "c2"),
        reservation("10.0.0.1", "ns/a", "net1", "c3"),
      ];
      for (const wanted of cases) {
        const result = await store.commit(
          change("p", v1, {
            set: [["2", alloc(wanted.containerId, wanted.podRef, wanted.ifName)]],
            remove: ["1"],
            reserve: [reservation("10.0.0.2", wanted.podRef, wanted.ifName), wanted],
          }),
        );
        assert.deepEqual(result, { ok: false, conflict: "reservation", holder: held });
        const pool = await store.getPool("p");
        assert.deepEqual(entries(pool), [["1", alloc("c1", "ns/a")]]);
        assert.equal(pool.version, v1);
        assert.deepEqual(await store.getReservation("10.0.0.1"), held);
        assert.equal(await store.getReservation("10.0.0.2"), undefined);
      }
    });

    it("commit() drops a reservation only for its owner", async () => {
      const held = reservation("10.0.0.1", "ns/a", "eth0", "c1");
      let version = await commitOk(
        change("p", undefined, { set: [["1", alloc("c1", "ns/a")]], reserve: [held] }),
      );
      for (const stranger of [reservation("10.0.0.1", "ns/b"), reservation("10.0.0.1", "ns/a", "net1")]) {
        assert.deepEqual(await store.commit(change("p", version, { unreserve: [stranger] })), OK);
        assert.deepEqual(await store.getReservation("10.0.0.1"), held);
        version = (await store.getPool("p")).version!;
      }
      // Missing reservations are not an error either.
      await commitOk(change("p", version, { unreserve: [reservation("10.0.0.7", "ns/a")] }));
      version = (await store.getPool("p")).version!;
      await commitOk(
        change("p", version, {
          remove: ["1"],
          unreserve: [reservation("10.0.0.1", "ns/a", "eth0", "c-other")],
        }),
      );
      assert.equal(await store.getReservation("10.0.0.1"), undefined);
      assert.equal((await store.getPool("p")).allocations.size, 0);
    });

    it("commit() applies pool entries and reservations together", async () => {
      const held = reservation("10.0.0.5", "ns/a");
      const v1 = await commitOk(
        change("p", undefined, { set: [["5", alloc("c1", "ns/a")]], reserve: [held] }),
      );
      assert.deepEqual(entries(await store.getPool("p")), [["5", alloc("c1", "ns/a")]]);
      assert.deepEqual(await store.listReservations(), [held]);
      await commitOk(change("p", v1, { remove: ["5"], unreserve: [held] }));
      assert.equal((await store.getPool("p")).allocations.size, 0);
      assert.deepEqual(await store.listReservations(), []);
    });

    it("listPools() and listReservations() return everything stored", async () => {
      await commitOk(change("b-pool", undefined, { set: [["3", alloc("c3", "ns/c")]] }));
      await commitOk(
        change("a-pool", undefined, {
          set: [
            ["1", alloc("c1", "ns/a")],
            ["2", alloc("c2", "ns/b", "")],
          ],
          reserve: [reservation("10.0.0.1", "ns/a"), reservation("10.0.0.2", "ns/b", "")],
        }),
      );
      await commitOk(
        change("empty", undefined, { reserve: [reservation("blue-10.0.0.3", "ns/c", "net1", "c3")] }),
      );
      const pools = byName(await store.listPools());
      assert.deepEqual(
        pools.map((p) => p.name),
        ["a-pool", "b-pool", "empty"],
      );
      for (const pool of pools) {
        const single = await store.getPool(pool.name);
        assert.deepEqual(
          { ...pool, allocations: entries(pool) },
          { ...single, allocations: entries(single) },
        );
      }
      assert.deepEqual(byName(await store.listReservations()), [
        reservation("10.0.0.1", "ns/a"),
        reservation("10.0.0.2", "ns/b", ""),
        reservation("blue-10.0.0.3", "ns/c", "net1", "c3"),
      ]);
    });

    it("a new Store instance sees committed data", async (t) => {
      if (target.reopen === undefined) return t.skip("backend has no second instance");
      const v1 = await commitOk(
        change("p", undefined, {
          set: [["1", alloc("c1", "ns/a", "")]],
          reserve: [reservation("10.0.0.1", "ns/a")],
        }),
      );
      const other = await target.reopen();
      try {
        const pool = await other.getPool("p");
        assert.deepEqual(entries(pool), [["1", alloc("c1", "ns/a", "")]]);
        assert.equal(pool.version, v1);
        assert.deepEqual(await other.getReservation("10.0.0.1"), reservation("10.0.0.1", "ns/a"));
        // And the versions agree: a commit through the new instance is accepted.
        assert.deepEqual(await other.commit(change("p", v1, { remove: ["1"] })), OK);
        assert.equal((await store.getPool("p")).allocations.size, 0);
      } finally {
        await other.close();
      }
    });

    it("concurrent read-decide-commit loops never hand out one key twice", async () => {
      const workers = 8;
      const perWorker = 25;
      const stores: Store[] = [store];
      try {
        for (let i = 1; i < workers; i++) stores.push(target.reopen ? await target.reopen() : store);
        const claimed = await Promise.all(stores.map((s, w) => allocateMany(s, w, perWorker)));
        const all = claimed.flat();
        assert.equal(new Set(all.map(([key]) => key)).size, workers * perWorker, "a key was claimed twice");
        const pool = await store.getPool("busy");
        const expected = new Map(all);
        assert.equal(pool.allocations.size, workers * perWorker);
        for (let offset = 1; offset <= workers * perWorker; offset++) {
          const key = String(offset);
          assert.deepEqual(pool.allocations.get(key), expected.get(key), `entry ${key}`);
          const held = await store.getReservation(`r-${key}`);
          assert.equal(held?.podRef, expected.get(key)?.podRef, `reservation of ${key}`);
        }
      } finally {
        for (const s of new Set(stores)) if (s !== store) await s.close();
      }
    });

    it("ping() resolves on a reachable store", async () => {
      await store.ping();
    });
  });
}

/** One worker: claims `count` lowest free offsets of pool "busy", retrying on conflicts. */
async function allocateMany(store: Store, worker: number, count: number): Promise<[string, Allocation][]> {
  const claimed: [string, Allocation][] = [];
  let attempts = 0;
  while (claimed.length < count) {
    if (++attempts > count * 500) throw new Error(`worker ${worker}: too many conflicts`);
    const pool = await store.getPool("busy");
    let offset = 1;
    while (pool.allocations.has(String(offset))) offset++;
    const key = String(offset);
    const podRef = `ns/w${worker}-${claimed.length}`;
    const entry = alloc(`c-${worker}-${claimed.length}`, podRef);
    const result = await store.commit(
      change("busy", pool.version, {
        set: [[key, entry]],
        reserve: [reservation(`r-${key}`, podRef, "eth0", entry.containerId)],
      }),
    );
    if (result.ok) claimed.push([key, entry]);
    else
      assert.equal(
        result.conflict,
        "pool",
        "only the version may conflict: a reservation conflict means a lost write",
      );
    // Let the other workers interleave between read and commit.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return claimed;
}
