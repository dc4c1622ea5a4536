import assert from "node:assert/strict";
import { describe, it, test } from "node:test";
import { StoreUnavailableError } from "../errors/errors.ts";
import { withTempLocalStore } from "../store/local/test-support.ts";
import { writtenBefore } from "../store/memory/script.ts";
import { poolChange, type ReadOptions } from "../store/store.ts";
import { RELEASE_BATCH, type ReleaseOptions, releaseEntries } from "./release.ts";
import { deadlineIn } from "./retry.ts";
import { type Scene, scene } from "./test-support.ts";

test("releaseEntries() releases more entries than fit in one commit, with their reservations", async () => {
  await withTempLocalStore(async (store) => {
    const count = RELEASE_BATCH * 2 + 7;
    const entries = Array.from({ length: count }, (_, i) => {
      const allocation = { containerId: `c${i}`, podRef: `ns/p${i}`, ifName: "eth0" };
      return {
        key: String(i + 1),
        allocation,
        reservation: { name: `10.0.${(i + 1) >> 8}.${(i + 1) & 255}`, ...allocation },
      };
    });
    for (const e of entries) {
      const result = await store.commit(
        poolChange("10.0.0.0-16", "10.0.0.0/16", {
          create: [[e.key, e.allocation]],
          reserve: [e.reservation],
        }),
      );
      assert.deepEqual(result, { ok: true });
    }
    const keep = (key: string) => Number(key) % 10 === 0;
    const released = await releaseEntries(store, "10.0.0.0-16", (e) => !keep(e.key), {
      overlapping: true,
      networkName: "",
      deadline: deadlineIn(30_000),
    });
    assert.equal(released.length, entries.filter((e) => !keep(e.key)).length);
    const left = [...(await store.getPool("10.0.0.0-16")).allocations.keys()].sort(
      (a, b) => Number(a) - Number(b),
    );
    assert.deepEqual(
      left,
      entries.filter((e) => keep(e.key)).map((e) => e.key),
    );
    assert.deepEqual(
      (await store.listReservations()).map((r) => r.podRef).sort(),
      entries
        .filter((e) => keep(e.key))
        .map((e) => e.allocation.podRef)
        .sort(),
    );
  });
});

test("releaseEntries() returns nothing when nothing matches, and on a missing pool", async () => {
  await withTempLocalStore(async (store) => {
    const options = { overlapping: true, networkName: "", deadline: deadlineIn(1_000) };
    assert.deepEqual(await releaseEntries(store, "missing", () => true, options), []);
  });
});

// ---- over a scripted memory store -----------------------------------------------------------

const owner = (i: number) => ({ containerId: `c${i}`, podRef: `ns/p${i}`, ifName: "eth0" });

/** Pool p of `count` entries (keys 1…count, owner i at key i), each with its reservation. */
function filled(count: number): Scene {
  const s = scene();
  s.store.data.commit(
    poolChange("p", "10.0.0.0/16", {
      create: Array.from({ length: count }, (_, i) => [String(i + 1), owner(i + 1)] as const),
      reserve: Array.from({ length: count }, (_, i) => ({ name: `10.0.0.${i + 1}`, ...owner(i + 1) })),
    }),
  );
  return s;
}

const options = (s: Scene, more: Partial<ReleaseOptions> = {}): ReleaseOptions => ({
  overlapping: true,
  networkName: "",
  deadline: s.deadline(),
  ...more,
});

describe("releaseEntries() against other writers", () => {
  it("retries a conflicting removal with a fresh read: what another writer released meanwhile is not released twice", async () => {
    const s = filled(3);
    // A DEL elsewhere releases entry 2 between this read and this commit.
    s.store.next("commit", writtenBefore(poolChange("p", "", { remove: [["2", owner(2)]] })));
    const released = await releaseEntries(s.store, "p", () => true, options(s));
    assert.deepEqual(released.map((e) => e.key).sort(), ["1", "3"]);
    assert.deepEqual([s.store.count("getPool"), s.store.count("commit")], [2, 2]);
    assert.deepEqual(s.clock.sleeps, [1], "a backoff before the retry");
    assert.deepEqual((await s.store.getPool("p")).allocations.size, 0);
  });

  it("tells its observer of each removal that lost a race", async () => {
    const s = filled(3);
    s.store.next("commit", writtenBefore(poolChange("p", "", { remove: [["2", owner(2)]] })));
    const heard: string[] = [];
    await releaseEntries(s.store, "p", () => true, {
      ...options(s),
      observer: { lostRace: (operation) => heard.push(operation), allocated: () => heard.push("allocated") },
    });
    assert.deepEqual(heard, ["release"]);
  });

  it("releases nothing an entry's new holder took meanwhile", async () => {
    const s = filled(1);
    const successor = { ...owner(1), containerId: "c-new" };
    s.store.next(
      "commit",
      writtenBefore(poolChange("p", "", { update: [{ key: "1", from: owner(1), to: successor }] })),
    );
    const released = await releaseEntries(s.store, "p", (e) => e.allocation.containerId === "c1", options(s));
    assert.deepEqual(released, []);
    assert.deepEqual([...(await s.store.getPool("p")).allocations], [["1", successor]]);
    assert.deepEqual((await s.store.getReservation("10.0.0.1"))?.containerId, "c1");
  });

  it("gives up with code 11 when its removals keep conflicting until the deadline", async () => {
    const s = filled(1);
    // Someone rewrites the entry just before every commit, and back just after.
    const other = { ...owner(1), containerId: "c-other" };
    s.store.always("commit", {
      before: ({ data }) =>
        void data.commit(poolChange("p", "", { update: [{ key: "1", from: owner(1), to: other }] })),
      after: ({ data }) =>
        void data.commit(poolChange("p", "", { update: [{ key: "1", from: other, to: owner(1) }] })),
    });
    const deadline = s.deadline(500);
    await assert.rejects(
      releaseEntries(s.store, "p", () => true, { ...options(s), deadline }),
      (error: unknown) => {
        assert.ok(error instanceof StoreUnavailableError, String(error));
        assert.equal(error.kind, "unavailable");
        assert.match(error.message, /^gave up releasing from pool p after \d+ conflicting writes$/);
        return true;
      },
    );
    assert.equal(s.clock.now(), deadline.at);
  });

  it("commits in batches, reading again only after a full one", async () => {
    const s = filled(RELEASE_BATCH * 2);
    const released = await releaseEntries(s.store, "p", () => true, options(s));
    assert.equal(released.length, RELEASE_BATCH * 2);
    assert.deepEqual([s.store.count("getPool"), s.store.count("commit")], [2, 2]);
    assert.deepEqual(await s.store.listReservations(), []);
  });

  it("names each reservation once per change: two keys for one address go in two batches", async () => {
    const s = scene();
    const legacy = { containerId: "c5", podRef: "ns/p5", ifName: "" };
    s.store.data.commit(
      poolChange("p", "10.0.0.0/16", {
        create: [
          ["5", owner(5)],
          ["+5", legacy],
        ],
        reserve: [{ name: "10.0.0.5", ...owner(5) }],
      }),
    );
    const released = await releaseEntries(s.store, "p", () => true, options(s));
    assert.deepEqual(
      released.map((e) => e.key),
      ["5", "+5"],
    );
    assert.equal(s.store.count("commit"), 2);
    assert.deepEqual(await s.store.listReservations(), []);
  });

  it("drops every reservation of a released entry's owner only when asked (DEL)", async () => {
    for (const dropOwners of [false, true]) {
      const s = filled(1);
      const unnamed = { name: "10.0.0.99", ...owner(1) };
      s.store.data.commit(poolChange("p", "", { reserve: [unnamed] }));
      await releaseEntries(s.store, "p", () => true, options(s, { dropOwners }));
      assert.deepEqual(
        (await s.store.listReservations()).map((r) => r.name),
        dropOwners ? [] : ["10.0.0.99"],
      );
    }
  });

  it("tells a caching store, for one attachment's entries (DEL), that a view showing one will do", async () => {
    const s = filled(2);
    await releaseEntries(s.store, "p", (e) => e.key === "1", options(s, { onePerPool: true }));
    const read = s.store.calls[0]!.args[1] as ReadOptions;
    assert.ok(read.deadline !== undefined);
    const verifiable = read.verifiable!;
    const view = (keys: string[]) => ({
      name: "p",
      range: "10.0.0.0/16",
      allocations: new Map(keys.map((k) => [k, owner(Number(k))] as const)),
      released: new Map(),
      version: "1",
    });
    assert.equal(verifiable(view(["1", "2"])), true);
    assert.equal(verifiable(view(["2"])), false, "a view without it proves nothing");
    const plain = scene();
    await releaseEntries(plain.store, "p", () => true, options(plain));
    assert.equal((plain.store.calls[0]!.args[1] as ReadOptions).verifiable, undefined);
  });
});
