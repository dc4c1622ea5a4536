// The Store contract as one suite that every backend runs (local sqlite, Kubernetes, etcd, the
// in-memory store, the node agent's store): `storeConformance("etcd", openEtcdFixture)` registers
// the same behaviours for each. Nothing here depends on how a backend spells its revisions or
// orders its listings.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { StoreUnavailableError } from "../../src/errors/errors.ts";
import { deadlineIn } from "../../src/ipam/retry.ts";
import type { Allocation, PoolSnapshot, Reservation } from "../../src/pool/allocation.ts";
import { type CommitResult, type PoolChange, poolChange, type Store } from "../../src/store/store.ts";

export interface ConformanceTarget {
  /** A store on an empty backend. */
  readonly store: Store;
  /** Another Store instance on the same backend; the suite closes the ones it opens. */
  readonly reopen: () => Promise<Store>;
  /** Closes `store` and releases the backend. */
  readonly cleanup: () => Promise<void>;
  /**
   * false for a backend that drops only the named reservations of PoolChange.dropOwners (etcd,
   * Kubernetes); see the field's contract.
   */
  readonly dropsUnnamedReservations?: boolean;
  /**
   * true for a backend that commits in several requests and takes its pool write back when a
   * reservation turns out held (Kubernetes): the entries are as before, the revision is new.
   */
  readonly undoesPoolWrites?: boolean;
  /**
   * The most entries one commit may create, for suites that fill pools (etcd: one transaction
   * holds at most 128 operations, and each new entry takes three). Default: no limit.
   */
  readonly maxCreatesPerCommit?: number;
}

export const RANGE = "10.0.0.0/24";

export function alloc(containerId: string, podRef: string, ifName = "eth0"): Allocation {
  return { containerId, podRef, ifName };
}

export function reservation(name: string, podRef: string, ifName = "eth0", containerId = "c1"): Reservation {
  return { name, podRef, ifName, containerId };
}

/** `r` with the claim thereabouts records: the address and network_name it was taken for. */
export function claimed(r: Reservation, address: string, networkName = ""): Reservation {
  return { ...r, claim: { address, networkName } };
}

export function change(pool: string, parts: Partial<PoolChange> = {}): PoolChange {
  return poolChange(pool, RANGE, parts);
}

function sortedEntries(
  entries: PoolSnapshot | Iterable<readonly [string, Allocation]>,
): (readonly [string, Allocation])[] {
  const pairs = "allocations" in entries ? entries.allocations : entries;
  return [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function byName<T extends { readonly name: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const OK: CommitResult = { ok: true };

function entryConflict(key: string): CommitResult {
  return { ok: false, conflict: "entry", key };
}

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

    async function commitOk(c: PoolChange): Promise<void> {
      assert.deepEqual(await store.commit(c), OK);
    }

    async function assertEntries(pool: string, expected: [string, Allocation][]): Promise<void> {
      assert.deepEqual(sortedEntries(await store.getPool(pool)), sortedEntries(expected));
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

    it("commit() to a missing pool creates it with the change's range", async () => {
      await commitOk(change("p", { create: [["1", alloc("c1", "ns/a")]] }));
      const pool = await store.getPool("p");
      assert.equal(pool.name, "p");
      assert.equal(pool.range, RANGE);
      assert.deepEqual(sortedEntries(pool), [["1", alloc("c1", "ns/a")]]);
      assert.equal(typeof pool.version, "string");
    });

    it("commit() creates entries of different keys without conflict, also when both saw the pool missing", async () => {
      // Both writers read the pool while it did not exist yet; no pool-wide version is checked.
      await commitOk(change("p", { create: [["1", alloc("c1", "ns/a")]] }));
      await commitOk(change("p", { create: [["2", alloc("c2", "ns/b")]] }));
      await assertEntries("p", [
        ["1", alloc("c1", "ns/a")],
        ["2", alloc("c2", "ns/b")],
      ]);
      assert.equal((await store.getPool("p")).range, RANGE);
    });

    it("commit() refuses to create a taken key and applies nothing", async () => {
      await commitOk(change("p", { create: [["1", alloc("c1", "ns/a")]] }));
      const before = await store.getPool("p");
      const result = await store.commit(
        change("p", {
          create: [
            ["2", alloc("c2", "ns/b")],
            ["1", alloc("c3", "ns/c")],
          ],
          reserve: [reservation("10.0.0.2", "ns/b")],
        }),
      );
      assert.deepEqual(result, entryConflict("1"));
      const after = await store.getPool("p");
      assert.deepEqual(sortedEntries(after), [["1", alloc("c1", "ns/a")]]);
      assert.equal(after.version, before.version);
      assert.equal(await store.getReservation("10.0.0.2"), undefined);
    });

    it("commit() updates an entry only while it holds the expected allocation", async () => {
      await commitOk(change("p", { create: [["1", alloc("c1", "ns/a")]] }));
      await commitOk(
        change("p", { update: [{ key: "1", from: alloc("c1", "ns/a"), to: alloc("c2", "ns/a") }] }),
      );
      await assertEntries("p", [["1", alloc("c2", "ns/a")]]);

      const stale = { key: "1", from: alloc("c1", "ns/a"), to: alloc("c3", "ns/a") };
      assert.deepEqual(
        await store.commit(change("p", { create: [["5", alloc("c5", "ns/e")]], update: [stale] })),
        entryConflict("1"),
      );
      const missing = { key: "9", from: alloc("c9", "ns/z"), to: alloc("c10", "ns/z") };
      assert.deepEqual(await store.commit(change("p", { update: [missing] })), entryConflict("9"));
      await assertEntries("p", [["1", alloc("c2", "ns/a")]]);
    });

    it("commit() removes an entry only while it holds the given allocation", async () => {
      await commitOk(change("p", { create: [["1", alloc("c1", "ns/a", "eth0")]] }));
      for (const [key, other] of [
        ["1", alloc("c-other", "ns/a", "eth0")],
        ["1", alloc("c1", "ns/b", "eth0")],
        ["1", alloc("c1", "ns/a", "net1")],
        ["1", alloc("c1", "ns/a", "")],
        ["2", alloc("c1", "ns/a", "eth0")],
      ] as const) {
        assert.deepEqual(await store.commit(change("p", { remove: [[key, other]] })), entryConflict(key));
        await assertEntries("p", [["1", alloc("c1", "ns/a", "eth0")]]);
      }
      await commitOk(change("p", { remove: [["1", alloc("c1", "ns/a", "eth0")]] }));
      await assertEntries("p", []);
    });

    it("commit() applies a change with several parts whole or not at all", async () => {
      await commitOk(
        change("p", {
          create: [
            ["1", alloc("c1", "ns/a")],
            ["2", alloc("c2", "ns/b")],
          ],
        }),
      );
      const mixed = change("p", {
        create: [["3", alloc("c3", "ns/c")]],
        update: [{ key: "1", from: alloc("c1", "ns/a"), to: alloc("c1b", "ns/a") }],
        remove: [["2", alloc("c-wrong", "ns/b")]],
        reserve: [reservation("10.0.0.3", "ns/c")],
      });
      assert.deepEqual(await store.commit(mixed), entryConflict("2"));
      await assertEntries("p", [
        ["1", alloc("c1", "ns/a")],
        ["2", alloc("c2", "ns/b")],
      ]);
      assert.deepEqual(await store.listReservations(), []);

      await commitOk({ ...mixed, remove: [["2", alloc("c2", "ns/b")]] });
      await assertEntries("p", [
        ["1", alloc("c1b", "ns/a")],
        ["3", alloc("c3", "ns/c")],
      ]);
      assert.deepEqual(await store.listReservations(), [reservation("10.0.0.3", "ns/c")]);
    });

    it("commit() round-trips entries with exact fields and verbatim keys", async () => {
      const created: [string, Allocation][] = [
        ["1", alloc("c1", "ns/a", "eth0")],
        ["+5", alloc("c5", "ns/legacy", "")],
        ["-1", alloc("cm1", "ns/negative", "net1")],
        ["007", alloc("c7", "ns/zeros", "net2")],
        ["9223372036854775808", alloc("c63", "ns/big", "eth0")],
        ["340282366920938463463374607431768211455", alloc("c128", "ns/max", "eth1")],
      ];
      await commitOk(change("p", { create: created }));
      await assertEntries("p", created);
      assert.equal((await store.getPool("p")).allocations.get("+5")?.ifName, "");

      await commitOk(
        change("p", {
          remove: [
            ["+5", alloc("c5", "ns/legacy", "")],
            ["007", alloc("c7", "ns/zeros", "net2")],
          ],
          update: [
            { key: "-1", from: alloc("cm1", "ns/negative", "net1"), to: alloc("cm1b", "ns/negative", "") },
          ],
        }),
      );
      const after = await store.getPool("p");
      assert.deepEqual(sortedEntries(after), [
        ["-1", alloc("cm1b", "ns/negative", "")],
        ["1", alloc("c1", "ns/a", "eth0")],
        ["340282366920938463463374607431768211455", alloc("c128", "ns/max", "eth1")],
        ["9223372036854775808", alloc("c63", "ns/big", "eth0")],
      ]);
      assert.equal(after.allocations.has("5"), false);
      assert.equal(after.allocations.has("7"), false);
    });

    it("commit() changes the pool's version on every successful write", async () => {
      const versions: (string | undefined)[] = [];
      await commitOk(change("p", { create: [["1", alloc("c1", "ns/a")]] }));
      versions.push((await store.getPool("p")).version);
      for (const key of ["2", "3"]) {
        await commitOk(change("p", { create: [[key, alloc(`c${key}`, `ns/${key}`)]] }));
        versions.push((await store.getPool("p")).version);
      }
      await commitOk(
        change("p", { update: [{ key: "1", from: alloc("c1", "ns/a"), to: alloc("c1b", "ns/a") }] }),
      );
      versions.push((await store.getPool("p")).version);
      await commitOk(change("p", { remove: [["2", alloc("c2", "ns/2")]] }));
      versions.push((await store.getPool("p")).version);
      assert.ok(versions.every((v) => typeof v === "string"));
      assert.equal(new Set(versions).size, versions.length);
    });

    it("commit() creates a reservation and accepts it again from the same owner", async () => {
      const held = reservation("10.0.0.1", "ns/a", "eth0", "c1");
      await commitOk(change("p", { create: [["1", alloc("c1", "ns/a")]], reserve: [held] }));
      assert.deepEqual(await store.getReservation("10.0.0.1"), held);

      const again = reservation("10.0.0.1", "ns/a", "eth0", "c1-restarted");
      const update = { key: "1", from: alloc("c1", "ns/a"), to: alloc("c1-restarted", "ns/a") };
      await commitOk(change("p", { update: [update], reserve: [again] }));
      assert.deepEqual(await store.getReservation("10.0.0.1"), again);
    });

    it("commit() treats a reservation without ifName as held by every interface of its pod", async () => {
      await commitOk(change("p", { reserve: [reservation("10.0.0.1", "ns/a", "")] }));
      await commitOk(change("p", { reserve: [reservation("10.0.0.1", "ns/a", "net1", "c2")] }));
      const stored = await store.getReservation("10.0.0.1");
      assert.equal(stored?.podRef, "ns/a");
      assert.equal(stored?.containerId, "c2");
    });

    it("commit() reports the holder of a reservation taken by another owner and applies nothing", async () => {
      const held = reservation("10.0.0.1", "ns/a", "eth0", "c1");
      await commitOk(change("p", { create: [["1", alloc("c1", "ns/a")]], reserve: [held] }));
      const before = await store.getPool("p");
      for (const wanted of [
        reservation("10.0.0.1", "ns/b", "eth0", "c2"),
        reservation("10.0.0.1", "ns/a", "net1", "c3"),
      ]) {
        const result = await store.commit(
          change("p", {
            create: [["2", alloc(wanted.containerId, wanted.podRef, wanted.ifName)]],
            reserve: [reservation("10.0.0.2", wanted.podRef, wanted.ifName), wanted],
          }),
        );
        assert.deepEqual(result, { ok: false, conflict: "reservation", holder: held });
        const pool = await store.getPool("p");
        assert.deepEqual(sortedEntries(pool), [["1", alloc("c1", "ns/a")]]);
        // A backend that writes the pool before the reservations undoes its write: a new revision.
        if (target.undoesPoolWrites !== true) assert.equal(pool.version, before.version);
        assert.deepEqual(await store.getReservation("10.0.0.1"), held);
        assert.equal(await store.getReservation("10.0.0.2"), undefined);
      }
    });

    it("commit() that would create a pool leaves it missing when a reservation is held", async () => {
      const held = reservation("10.0.0.1", "ns/a", "eth0", "c1");
      await commitOk(change("p", { create: [["1", alloc("c1", "ns/a")]], reserve: [held] }));
      const result = await store.commit(
        change("q", { create: [["1", alloc("c2", "ns/b")]], reserve: [reservation("10.0.0.1", "ns/b")] }),
      );
      assert.deepEqual(result, { ok: false, conflict: "reservation", holder: held });
      assert.equal((await store.getPool("q")).version, undefined, "no pool q");
      assert.deepEqual(
        (await store.listPools()).map((p) => p.name),
        ["p"],
      );
    });

    it("commit() drops a reservation only for its owner", async () => {
      const held = reservation("10.0.0.1", "ns/a", "eth0", "c1");
      await commitOk(change("p", { create: [["1", alloc("c1", "ns/a")]], reserve: [held] }));
      for (const stranger of [reservation("10.0.0.1", "ns/b"), reservation("10.0.0.1", "ns/a", "net1")]) {
        await commitOk(change("p", { unreserve: [stranger] }));
        assert.deepEqual(await store.getReservation("10.0.0.1"), held);
      }
      // A missing reservation is not an error either.
      await commitOk(change("p", { unreserve: [reservation("10.0.0.7", "ns/a")] }));
      await commitOk(
        change("p", {
          remove: [["1", alloc("c1", "ns/a")]],
          unreserve: [reservation("10.0.0.1", "ns/a", "eth0", "c-other")],
        }),
      );
      assert.equal(await store.getReservation("10.0.0.1"), undefined);
      await assertEntries("p", []);
    });

    it("commit() applies pool entries and reservations together", async () => {
      const held = reservation("10.0.0.5", "ns/a");
      await commitOk(change("p", { create: [["5", alloc("c1", "ns/a")]], reserve: [held] }));
      await assertEntries("p", [["5", alloc("c1", "ns/a")]]);
      assert.deepEqual(await store.listReservations(), [held]);
      await commitOk(change("p", { remove: [["5", alloc("c1", "ns/a")]], unreserve: [held] }));
      await assertEntries("p", []);
      assert.deepEqual(await store.listReservations(), []);
    });

    it("commit() records a reservation's claim; reads return it, and nothing for one without", async () => {
      const ours = claimed(reservation("x-fd00-1--5", "ns/a", "eth0", "c1"), "fd00:1::5", "x");
      const goStyle = reservation("10.0.0.6", "ns/b", "", "");
      await commitOk(change("p", { create: [["5", alloc("c1", "ns/a")]], reserve: [ours, goStyle] }));
      assert.deepEqual(await store.getReservation(ours.name), ours);
      assert.deepEqual(await store.getReservation(goStyle.name), goStyle);
      assert.deepEqual(byName(await store.listReservations()), [goStyle, ours]);
      const unnamed = claimed(reservation("10.0.0.7", "ns/c"), "10.0.0.7", "");
      await commitOk(change("p", { reserve: [unnamed] }));
      assert.deepEqual(await store.getReservation("10.0.0.7"), unnamed);
    });

    it("commit() reports a reservation claimed for another address or network as held, whoever asks", async () => {
      // Two networks whose names map to one reservation name: x + fd00:1::5 and x-fd00 + 1::5.
      const held = claimed(reservation("x-fd00-1--5", "ns/a", "eth0", "c1"), "fd00:1::5", "x");
      await commitOk(change("p", { create: [["5", alloc("c1", "ns/a")]], reserve: [held] }));
      const before = await store.getPool("p");
      for (const wanted of [
        claimed(reservation(held.name, "ns/b", "eth0", "c2"), "1::5", "x-fd00"),
        claimed(reservation(held.name, "ns/a", "eth0", "c1"), "1::5", "x-fd00"),
        claimed(reservation(held.name, "ns/a", "eth0", "c1"), "fd00:1::5", "x-fd00"),
        claimed(reservation(held.name, "ns/a", "eth0", "c1"), "1::5", "x"),
      ]) {
        const result = await store.commit(
          change("p", { create: [["6", alloc(wanted.containerId, wanted.podRef)]], reserve: [wanted] }),
        );
        assert.deepEqual(
          result,
          { ok: false, conflict: "reservation", holder: held },
          JSON.stringify(wanted),
        );
        const pool = await store.getPool("p");
        assert.deepEqual(sortedEntries(pool), [["5", alloc("c1", "ns/a")]]);
        if (target.undoesPoolWrites !== true) assert.equal(pool.version, before.version);
      }
      assert.deepEqual(await store.listReservations(), [held]);
    });

    it("commit() accepts a reservation of the same owner and claim, or one where a claim is missing, keeping the stored claim", async () => {
      const held = claimed(reservation("10.0.0.1", "ns/a", "eth0", "c1"), "10.0.0.1", "");
      await commitOk(change("p", { reserve: [held] }));
      await commitOk(change("p", { reserve: [{ ...held, containerId: "c2" }] }));
      assert.deepEqual(await store.getReservation("10.0.0.1"), { ...held, containerId: "c2" });
      // A request without a claim (as from a Go writer's view) agrees with any.
      await commitOk(change("p", { reserve: [reservation("10.0.0.1", "ns/a", "eth0", "c3")] }));
      assert.deepEqual(await store.getReservation("10.0.0.1"), { ...held, containerId: "c3" });
      // A reservation without a claim (Go wrote it) is held by its owner whatever the claim asked.
      const goWritten = reservation("10.0.0.2", "ns/b", "eth0", "c1");
      await commitOk(change("p", { reserve: [goWritten] }));
      await commitOk(
        change("p", { reserve: [claimed({ ...goWritten, containerId: "c4" }, "10.0.0.2", "")] }),
      );
      assert.deepEqual(await store.getReservation("10.0.0.2"), { ...goWritten, containerId: "c4" });
    });

    it("commit() drops a claimed reservation only for an owner whose claim agrees", async () => {
      const held = claimed(reservation("x-fd00-1--5", "ns/a", "eth0", "c1"), "fd00:1::5", "x");
      await commitOk(change("p", { reserve: [held] }));
      const otherNetwork = claimed(reservation(held.name, "ns/a", "eth0", "c9"), "1::5", "x-fd00");
      await commitOk(change("p", { unreserve: [otherNetwork] }));
      assert.deepEqual(await store.getReservation(held.name), held);
      await commitOk(change("p", { unreserve: [{ ...held, containerId: "c9" }] }));
      assert.equal(await store.getReservation(held.name), undefined);

      const unclaimed = reservation("10.0.0.3", "ns/a");
      await commitOk(change("p", { reserve: [unclaimed] }));
      await commitOk(change("p", { unreserve: [claimed(unclaimed, "10.0.0.3", "")] }));
      assert.equal(await store.getReservation("10.0.0.3"), undefined);
    });

    it("listPools() and listReservations() return everything stored", async () => {
      await commitOk(change("b-pool", { create: [["3", alloc("c3", "ns/c")]] }));
      await commitOk(
        change("a-pool", {
          create: [
            ["1", alloc("c1", "ns/a")],
            ["2", alloc("c2", "ns/b", "")],
          ],
          reserve: [reservation("10.0.0.1", "ns/a"), reservation("10.0.0.2", "ns/b", "")],
        }),
      );
      await commitOk(
        change("c-pool", {
          create: [["3", alloc("c3", "ns/c", "net1")]],
          reserve: [reservation("blue-10.0.0.3", "ns/c", "net1", "c3")],
        }),
      );
      const pools = byName(await store.listPools());
      assert.deepEqual(
        pools.map((p) => p.name),
        ["a-pool", "b-pool", "c-pool"],
      );
      for (const pool of pools) {
        const single = await store.getPool(pool.name);
        assert.deepEqual(
          { ...pool, allocations: sortedEntries(pool) },
          { ...single, allocations: sortedEntries(single) },
        );
      }
      assert.deepEqual(byName(await store.listReservations()), [
        reservation("10.0.0.1", "ns/a"),
        reservation("10.0.0.2", "ns/b", ""),
        reservation("blue-10.0.0.3", "ns/c", "net1", "c3"),
      ]);
    });

    it("a new Store instance sees committed data", async () => {
      await commitOk(
        change("p", { create: [["1", alloc("c1", "ns/a", "")]], reserve: [reservation("10.0.0.1", "ns/a")] }),
      );
      const other = await target.reopen();
      try {
        const pool = await other.getPool("p");
        assert.deepEqual(sortedEntries(pool), [["1", alloc("c1", "ns/a", "")]]);
        assert.equal(pool.range, RANGE);
        assert.deepEqual(await other.getReservation("10.0.0.1"), reservation("10.0.0.1", "ns/a"));
        assert.deepEqual(await other.commit(change("p", { remove: [["1", alloc("c1", "ns/a", "")]] })), OK);
        await assertEntries("p", []);
      } finally {
        await other.close();
      }
    });

    it("concurrent read-decide-commit loops never hand out one key twice", async () => {
      const workers = 8;
      const perWorker = 25;
      const stores: Store[] = [store];
      try {
        for (let i = 1; i < workers; i++) stores.push(await target.reopen());
        const claimed = (await Promise.all(stores.map((s, w) => allocateMany(s, w, perWorker)))).flat();
        assert.equal(
          new Set(claimed.map(([key]) => key)).size,
          workers * perWorker,
          "a key was claimed twice",
        );
        const pool = await store.getPool("busy");
        const expected = new Map(claimed);
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

    it("dropReservationsOf() drops only reservations held by exactly that attachment", async () => {
      await commitOk(
        change("p", {
          reserve: [
            reservation("10.0.0.1", "ns/a", "eth0", "c1"),
            reservation("10.0.0.2", "ns/a", "eth0", "c1"),
            reservation("10.0.0.3", "ns/a", "net1", "c1"),
            reservation("10.0.0.4", "ns/a", "eth0", "c2"),
            reservation("10.0.0.5", "ns/b", "eth0", "c1"),
          ],
        }),
      );
      assert.equal(await store.dropReservationsOf({ podRef: "ns/a", ifName: "eth0", containerId: "c1" }), 2);
      assert.deepEqual(
        byName(await store.listReservations()).map((r) => r.name),
        ["10.0.0.3", "10.0.0.4", "10.0.0.5"],
      );
      assert.equal(await store.dropReservationsOf({ podRef: "ns/a", ifName: "eth0", containerId: "c1" }), 0);
    });

    it("commit() with dropOwners drops what each owner holds and leaves everyone else's", async () => {
      const owner = { podRef: "ns/a", ifName: "eth0", containerId: "c1" };
      const named = reservation("10.0.0.1", "ns/a", "eth0", "c1");
      // Unnamed: held by the same attachment with no entry naming it (a writer killed mid-commit).
      const unnamed = reservation("10.0.0.9", "ns/a", "eth0", "c1");
      const others = [
        reservation("10.0.0.3", "ns/a", "net1", "c1"),
        reservation("10.0.0.4", "ns/a", "eth0", "c2"),
        reservation("10.0.0.5", "ns/b", "eth0", "c1"),
      ];
      await commitOk(
        change("p", { create: [["1", alloc("c1", "ns/a")]], reserve: [named, unnamed, ...others] }),
      );
      await commitOk(
        change("p", { remove: [["1", alloc("c1", "ns/a")]], unreserve: [named], dropOwners: [owner] }),
      );
      await assertEntries("p", []);
      const left = byName(await store.listReservations()).map((r) => r.name);
      const expected = target.dropsUnnamedReservations === false ? ["10.0.0.9"] : [];
      assert.deepEqual(left, [...others.map((r) => r.name), ...expected].sort());
    });

    it("ping() resolves on a reachable store", async () => {
      await store.ping();
    });

    it("commit() throws RangeError for a change that names an entry, a reservation or an absent attachment twice, and applies nothing", async () => {
      const held = alloc("c1", "ns/a");
      await commitOk(change("p", { create: [["1", held]] }));
      const before = await store.getPool("p");
      const twice: [string, PoolChange][] = [
        [
          "entry 2",
          change("p", {
            create: [
              ["2", alloc("c2", "ns/b")],
              ["2", alloc("c3", "ns/c")],
            ],
          }),
        ],
        [
          "entry 1",
          change("p", { remove: [["1", held]], update: [{ key: "1", from: held, to: alloc("c9", "ns/a") }] }),
        ],
        ["entry 1", change("p", { create: [["1", alloc("c2", "ns/b")]], remove: [["1", held]] })],
        [
          "reservation 10.0.0.2",
          change("p", {
            create: [["2", alloc("c2", "ns/b")]],
            reserve: [
              reservation("10.0.0.2", "ns/b", "eth0", "c2"),
              reservation("10.0.0.2", "ns/b", "eth0", "c2"),
            ],
          }),
        ],
        [
          "reservation 10.0.0.3",
          change("p", {
            reserve: [reservation("10.0.0.3", "ns/c")],
            unreserve: [reservation("10.0.0.3", "ns/c")],
          }),
        ],
        [
          'absent attachment ["ns/d","eth0"]',
          change("p", {
            create: [["4", alloc("c4", "ns/d")]],
            absent: [
              { podRef: "ns/d", ifName: "eth0" },
              { podRef: "ns/d", ifName: "eth0" },
            ],
          }),
        ],
      ];
      for (const [what, c] of twice) {
        await assert.rejects(store.commit(c), (error: unknown) => {
          assert.ok(error instanceof RangeError, String(error));
          assert.equal(error.message, `Cannot commit pool p: the change names ${what} twice`);
          return true;
        });
      }
      const after = await store.getPool("p");
      assert.deepEqual(sortedEntries(after), [["1", held]]);
      assert.equal(after.version, before.version);
      assert.deepEqual(await store.listReservations(), []);
    });

    it("commit() that creates no entry leaves a missing pool missing", async () => {
      const r = reservation("10.0.0.1", "ns/a");
      await commitOk(change("q", { reserve: [r] }));
      await commitOk(change("q", { unreserve: [r] }));
      await commitOk(change("q", { reserve: [reservation("10.0.0.2", "ns/b")] }));
      assert.equal((await store.getPool("q")).version, undefined);
      assert.deepEqual(await store.listPools(), []);
      assert.deepEqual(
        (await store.listReservations()).map((x) => x.name),
        ["10.0.0.2"],
      );
    });

    it("dropReservations() drops each reservation only while held as it records: same owner, agreeing claim", async () => {
      const entry = alloc("c1", "ns/a");
      const mine = reservation("10.0.0.1", "ns/a", "eth0", "c1");
      const claimedMine = claimed(reservation("10.0.0.2", "ns/a", "eth0", "c1"), "10.0.0.2", "blue");
      const goWritten = reservation("10.0.0.3", "ns/a", "", "");
      const others = [
        reservation("10.0.0.4", "ns/a", "eth0", "c-successor"),
        reservation("10.0.0.5", "ns/a", "net1", "c1"),
        reservation("10.0.0.6", "ns/b", "eth0", "c1"),
        claimed(reservation("10.0.0.7", "ns/a", "eth0", "c1"), "10.0.0.7", "blue"),
      ];
      await commitOk(
        change("p", { create: [["1", entry]], reserve: [mine, claimedMine, goWritten, ...others] }),
      );
      const before = await store.getPool("p");
      const asRead = [
        mine,
        // Recorded without a claim (read from a Go view): agrees with the stored claim.
        reservation("10.0.0.2", "ns/a", "eth0", "c1"),
        goWritten,
        // As read before someone else took them: another container, interface, pod, network.
        reservation("10.0.0.4", "ns/a", "eth0", "c1"),
        reservation("10.0.0.5", "ns/a", "eth0", "c1"),
        reservation("10.0.0.6", "ns/a", "eth0", "c1"),
        claimed(reservation("10.0.0.7", "ns/a", "eth0", "c1"), "10.0.0.7", "red"),
        // Gone already.
        reservation("10.0.0.8", "ns/a", "eth0", "c1"),
      ];
      const dropped = await store.dropReservations(asRead);
      assert.deepEqual(byName(dropped), byName(asRead.slice(0, 3)));
      assert.deepEqual(byName(await store.listReservations()), byName(others));
      const after = await store.getPool("p");
      assert.deepEqual(sortedEntries(after), sortedEntries(before));
      assert.deepEqual(await store.dropReservations(asRead), []);
      assert.deepEqual(await store.dropReservations([]), []);
    });

    it("a call whose deadline has passed fails at once with code 11 and applies nothing", async () => {
      const passed = deadlineIn(-1);
      const unavailable = (error: unknown) => {
        assert.ok(error instanceof StoreUnavailableError, String(error));
        assert.equal(error.kind, "unavailable");
        return true;
      };
      const started = Date.now();
      const held = reservation("10.0.0.1", "ns/a");
      await assert.rejects(
        store.commit(change("p", { create: [["1", alloc("c1", "ns/a")]], reserve: [held] }), {
          deadline: passed,
        }),
        unavailable,
      );
      await assert.rejects(store.getPool("p", { deadline: passed }), unavailable);
      await assert.rejects(store.listPools({ deadline: passed }), unavailable);
      await assert.rejects(store.getReservation("10.0.0.1", { deadline: passed }), unavailable);
      await assert.rejects(store.listReservations({ deadline: passed }), unavailable);
      await assert.rejects(store.dropReservations([held], { deadline: passed }), unavailable);
      await assert.rejects(store.dropReservationsOf(held, { deadline: passed }), unavailable);
      await assert.rejects(store.ping({ deadline: passed }), unavailable);
      assert.ok(Date.now() - started < 1_000, `failed fast (${Date.now() - started} ms)`);
      assert.equal((await store.getPool("p")).version, undefined);
      assert.deepEqual(await store.listReservations(), []);
    });
  });
}

/** One worker: claims `count` lowest free offsets of pool "busy", retrying when it loses a race. */
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
    const held = reservation(`r-${key}`, podRef, "eth0", entry.containerId);
    const result = await store.commit(change("busy", { create: [[key, entry]], reserve: [held] }));
    if (result.ok) claimed.push([key, entry]);
    else assert.deepEqual(result, entryConflict(key), "a reservation conflict means an entry was lost");
    // Let the other workers interleave between read and commit.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return claimed;
}
