// One range of an ADD over a scripted memory store: lost races, spreading, reservations held by
// other ranges, the deadline, and what the read tells a caching store (ReadOptions.verifiable).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { load } from "../config/test-support.ts";
import type { IpamConfig } from "../config/types.ts";
import { StoreUnavailableError } from "../errors/errors.ts";
import { formatIP } from "../ip/index.ts";
import type { Allocation, PoolSnapshot } from "../pool/allocation.ts";
import { lostRace, RIVAL } from "../store/memory/script.ts";
import { poolChange, type ReadOptions } from "../store/store.ts";
import { allocateInRange, spreadAfter } from "./allocate-range.ts";
import type { RetryObserver } from "./observer.ts";
import { remainingMs } from "./retry.ts";
import { type Scene, scene } from "./test-support.ts";

const POOL = "10.0.0.0-24";
const me = { containerId: "c-a", podRef: "ns/a", ifName: "eth0" };

function allocate(s: Scene, config: IpamConfig, deadline = s.deadline(), observer?: RetryObserver) {
  return allocateInRange(s.store, config, config.ranges[0]!, me, deadline, s.log, observer);
}

/** An observer that writes down what it hears. */
function recorder(): RetryObserver & { heard: string[] } {
  const heard: string[] = [];
  return {
    heard,
    lostRace: (operation) => heard.push(`lost ${operation}`),
    allocated: (retries) => heard.push(`allocated after ${retries}`),
  };
}

async function entries(s: Scene): Promise<Record<string, Allocation>> {
  return Object.fromEntries((await s.store.getPool(POOL)).allocations);
}

describe("allocateInRange()", () => {
  it("spreads over 8, 32, then 64 of the lowest free addresses after lost races", () => {
    assert.deepEqual([1, 2, 3, 4, 9].map(spreadAfter), [8, 32, 64, 64, 64]);
  });

  it("takes the lowest free address with one read and one commit when uncontended", async () => {
    const s = scene();
    const held = await allocate(s, load({ range: "10.0.0.0/24" }));
    assert.equal(formatIP(held.address), "10.0.0.1");
    assert.deepEqual([held.key, held.created, held.prefix], ["1", true, 24]);
    assert.deepEqual([s.store.count("getPool"), s.store.count("commit")], [1, 1]);
    assert.deepEqual(await s.store.getReservation("10.0.0.1"), {
      name: "10.0.0.1",
      ...me,
      claim: { address: "10.0.0.1", networkName: "" },
    });
    assert.equal(s.clock.draws, 0, "no spread, no backoff");
  });

  it("after a lost race reads again and spreads among the lowest free addresses", async () => {
    const s = scene([0.5]);
    s.store.next("commit", lostRace());
    const held = await allocate(s, load({ range: "10.0.0.0/24" }));
    // The rival took .1; spread among 8 with random 0.5: the 5th lowest free (.2 … .6).
    assert.equal(formatIP(held.address), "10.0.0.6");
    assert.deepEqual([s.store.count("getPool"), s.store.count("commit")], [2, 2]);
    assert.deepEqual(s.clock.sleeps, [], "no backoff for the first races");
    assert.deepEqual(await entries(s), { "1": RIVAL, "6": me });
  });

  it("widens the spread with every race lost and backs off from the fourth", async () => {
    const s = scene(Array(20).fill(0.999));
    s.store.next("commit", lostRace(), lostRace(), lostRace(), lostRace(), lostRace());
    const held = await allocate(s, load({ range: "10.0.0.0/24" }));
    // Chosen: .1, then the 8th, 32nd, 64th, 64th, 64th lowest free address as the rival takes each.
    assert.equal(formatIP(held.address), "10.0.0.69");
    assert.equal(s.store.count("getPool"), 6);
    assert.deepEqual(
      Object.keys(await entries(s)).sort((x, y) => Number(x) - Number(y)),
      ["1", "9", "34", "67", "68", "69"],
    );
    assert.deepEqual(s.clock.sleeps, [3, 7], "full-jitter backoff for races 4 and 5");
  });

  it("tells its observer of every race lost and of the retries the address took", async () => {
    const s = scene(Array(20).fill(0.5));
    s.store.next("commit", lostRace(), lostRace());
    const heard = recorder();
    await allocate(s, load({ range: "10.0.0.0/24" }), s.deadline(), heard);
    assert.deepEqual(heard.heard, ["lost allocate", "lost allocate", "allocated after 2"]);

    const calm = scene();
    const quiet = recorder();
    await allocate(calm, load({ range: "10.0.0.0/24" }), calm.deadline(), quiet);
    assert.deepEqual(quiet.heard, ["allocated after 0"], "no race, no retry");

    const held = recorder();
    await allocate(
      calm,
      load({ range: "10.0.0.0/24", enable_overlapping_ranges: false }),
      calm.deadline(),
      held,
    );
    assert.deepEqual(held.heard, ["allocated after 0"], "an address already held counts as allocated");
  });

  it("counts an address reserved by another range as a retry, not as a lost race", async () => {
    const s = scene();
    const other = { name: "10.0.0.1", containerId: "c-o", podRef: "ns/other", ifName: "net1" };
    s.store.data.commit(poolChange("other-pool", "10.0.0.0/16", { reserve: [other] }));
    const heard = recorder();
    await allocate(s, load({ range: "10.0.0.0/24" }), s.deadline(), heard);
    assert.deepEqual(heard.heard, ["allocated after 1"]);
  });

  it("tells its observer nothing of an allocation that gave up", async () => {
    const s = scene();
    s.store.always("commit", lostRace());
    const heard = recorder();
    await assert.rejects(allocate(s, load({ range: "10.0.0.0/24" }), s.deadline(200), heard));
    assert.ok(heard.heard.length > 3);
    assert.ok(
      heard.heard.every((h) => h === "lost allocate"),
      heard.heard.join(),
    );
  });

  it("skips an address another network's range reserved, and takes the next", async () => {
    const s = scene();
    const other = { name: "10.0.0.1", containerId: "c-o", podRef: "ns/other", ifName: "net1" };
    s.store.data.commit(poolChange("other-pool", "10.0.0.0/16", { reserve: [other] }));
    const held = await allocate(s, load({ range: "10.0.0.0/24" }));
    assert.equal(formatIP(held.address), "10.0.0.2");
    assert.deepEqual(await entries(s), { "2": me });
    assert.deepEqual(await s.store.getReservation("10.0.0.1"), other);
    assert.ok(s.log.lines.includes("[verbose] 10.0.0.1 is reserved by ns/other; trying the next address"));
    assert.equal(s.store.count("commit"), 2);
  });

  it("gives up with code 11 at the deadline when every race is lost, holding nothing", async () => {
    const s = scene();
    s.store.always("commit", lostRace());
    const deadline = s.deadline(1_000);
    await assert.rejects(allocate(s, load({ range: "10.0.0.0/24" }), deadline), (error: unknown) => {
      assert.ok(error instanceof StoreUnavailableError, String(error));
      assert.equal(error.kind, "unavailable");
      assert.match(error.message, /^gave up allocating in pool 10\.0\.0\.0-24 after \d+ attempts$/);
      return true;
    });
    assert.equal(remainingMs(deadline), 0, "backoff slept up to the deadline, not past it");
    const ours = Object.values(await entries(s)).filter((a) => a.podRef === me.podRef);
    assert.deepEqual(ours, []);
  });

  it("keeps an address the attachment holds: no write without overlapping ranges, its reservation with them", async () => {
    const s = scene();
    s.store.data.commit(poolChange(POOL, "10.0.0.0/24", { create: [["7", me]] }));
    const plain = await allocate(s, load({ range: "10.0.0.0/24", enable_overlapping_ranges: false }));
    assert.deepEqual([formatIP(plain.address), plain.created], ["10.0.0.7", false]);
    assert.equal(s.store.count("commit"), 0);
    const overlapping = await allocate(s, load({ range: "10.0.0.0/24" }));
    assert.deepEqual([formatIP(overlapping.address), overlapping.created], ["10.0.0.7", false]);
    assert.equal(s.store.count("commit"), 1);
    assert.equal((await s.store.getReservation("10.0.0.7"))?.podRef, me.podRef);
  });

  it("rewrites the container id of an address the pod's interface holds from an earlier container", async () => {
    const s = scene();
    s.store.data.commit(poolChange(POOL, "10.0.0.0/24", { create: [["7", { ...me, containerId: "old" }]] }));
    const held = await allocate(s, load({ range: "10.0.0.0/24", enable_overlapping_ranges: false }));
    assert.deepEqual([formatIP(held.address), held.created], ["10.0.0.7", false]);
    assert.deepEqual(await entries(s), { "7": me });
  });

  it("tells a caching store that only views on which it writes an entry will do", async () => {
    const s = scene();
    await allocate(s, load({ range: "10.0.0.0/24" }));
    const options = s.store.calls[0]!.args[1] as ReadOptions;
    assert.ok(options.deadline !== undefined, "the call's deadline travels with the read");
    const verifiable = options.verifiable!;
    const pool = (held: Record<string, Allocation>): PoolSnapshot => ({
      name: POOL,
      range: "10.0.0.0/24",
      allocations: new Map(Object.entries(held)),
      released: new Map(),
      version: "1",
    });
    assert.equal(verifiable(pool({})), true, "a new address: the create is checked");
    assert.equal(verifiable(pool({ "3": { ...me, containerId: "old" } })), true, "an update is checked");
    assert.equal(verifiable(pool({ "3": me })), false, "keeping an address as it is is not");
    const full = Object.fromEntries(Array.from({ length: 254 }, (_, i) => [String(i + 1), RIVAL]));
    assert.equal(verifiable(pool(full)), false, "nor is a range found full");
  });
});

describe("allocateInRange() on a store that reads parts of pools", () => {
  const WIDE = "10.0.0.0-16";
  const fill = (s: Scene, offsets: Iterable<number>) =>
    s.store.data.commit(
      poolChange(WIDE, "10.0.0.0/16", {
        create: [...offsets].map((o) => [
          String(o),
          { containerId: `c${o}`, podRef: `ns/p${o}`, ifName: "eth0" },
        ]),
      }),
    );
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const partsRead = (s: Scene) => s.store.calls.filter((c) => c.call === "getPoolPart").length;

  it("takes the lowest free address of a pool with 60,000 entries from one part, never reading it whole", async () => {
    const s = scene([], { parts: true });
    fill(s, range(60_000));
    const held = await allocate(s, load({ range: "10.0.0.0/16" }));
    assert.equal(formatIP(held.address), "10.0.234.96");
    assert.deepEqual([s.store.count("getPool"), partsRead(s), s.store.count("commit")], [0, 1, 1]);
  });

  it("reads the next part when one holds free offsets but none it may hand out", async () => {
    const s = scene([], { parts: true });
    // Offsets 300–303 free but excluded; the first usable one is 1,001, two blocks further.
    fill(
      s,
      range(1001).filter((o) => o < 300 || o > 303),
    );
    const held = await allocate(s, load({ range: "10.0.0.0/16", exclude: ["10.0.1.44/30"] }));
    assert.equal(formatIP(held.address), "10.0.3.233");
    assert.deepEqual([s.store.count("getPool"), partsRead(s)], [0, 2]);
  });

  it("after a lost race reads parts again, spread among the lowest free addresses", async () => {
    const s = scene([0.999], { parts: true });
    fill(s, range(5000));
    s.store.next("commit", lostRace());
    const held = await allocate(s, load({ range: "10.0.0.0/16" }));
    // The rival took 5,000; the 8th lowest free after it: 5,008.
    assert.equal(held.key, "5008");
    assert.equal(s.store.count("getPool"), 0);
  });

  it("with a reuse cooldown, takes never-released addresses first, then the one released longest ago", async () => {
    const s = scene([], { parts: true });
    fill(
      s,
      range(65_535).filter((o) => o !== 7 && o !== 40_000 && o !== 65_534),
    );
    // Free: 7, 40,000 (both released), 65,534 (the window's last, released recently).
    s.store.data.commit(
      poolChange(WIDE, "10.0.0.0/16", {
        release: [
          ["7", 2_000],
          ["40000", 1_000],
          ["65534", s.clock.now()],
        ],
      }),
    );
    const config = load({ range: "10.0.0.0/16", reuse_cooldown_seconds: 10 });
    const held = await allocate(s, config);
    assert.equal(held.key, "40000");
    assert.equal(s.store.count("getPool"), 0);
  });

  it("reads a pool whose spec.range has host bits whole (its offsets do not count from the network)", async () => {
    const s = scene([], { parts: true });
    s.store.data.commit(poolChange(POOL, "10.0.0.5/24", { create: [["1", { ...me, podRef: "ns/x" }]] }));
    const held = await allocate(s, load({ range: "10.0.0.0/24" }));
    // Offset 1 from 10.0.0.5 is .6: .1 is free.
    assert.equal(formatIP(held.address), "10.0.0.1");
    assert.deepEqual([s.store.count("getPool"), partsRead(s)], [1, 1]);
  });
});
