// What a script makes a MemoryStore call meet (its Store rules are the conformance suite's:
// test/store/memory.test.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StoreUnavailableError } from "../../errors/errors.ts";
import { deadlineIn } from "../../ipam/retry.ts";
import { VirtualClock } from "../../ipam/test-support.ts";
import { poolChange } from "../store.ts";
import { MemoryData } from "./memory-data.ts";
import { MemoryStore } from "./memory-store.ts";
import { answerLost, lostRace, RIVAL, slow, unreachable, writtenAfter, writtenBefore } from "./script.ts";

const a = { containerId: "c1", podRef: "ns/a", ifName: "eth0" };
const b = { containerId: "c2", podRef: "ns/b", ifName: "eth0" };
const add = (key: string, who = a) => poolChange("p", "10.0.0.0/24", { create: [[key, who]] });

function unavailable(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof StoreUnavailableError, String(error));
    assert.equal(error.kind, "unavailable");
    assert.match(error.message, pattern);
    return true;
  };
}

describe("MemoryStore scripts", () => {
  it("queues steps per call, one per call, in order; calls are recorded", async () => {
    const store = new MemoryStore();
    store.next("commit", writtenBefore(add("1", b)), writtenAfter(add("3", b)));
    assert.deepEqual(await store.commit(add("1")), { ok: false, conflict: "entry", key: "1" });
    assert.deepEqual(await store.commit(add("2")), { ok: true });
    assert.deepEqual(await store.commit(add("4")), { ok: true });
    const pool = await store.getPool("p");
    assert.deepEqual([...pool.allocations].sort(), [
      ["1", b],
      ["2", a],
      ["3", b],
      ["4", a],
    ]);
    assert.deepEqual(
      store.calls.map((c) => c.call),
      ["commit", "commit", "commit", "getPool"],
    );
    assert.equal(store.count("commit"), 3);
  });

  it("lostRace(): a rival takes the keys a commit creates and rewrites those it updates or removes", async () => {
    const store = new MemoryStore();
    await store.commit(add("1"));
    store.next("commit", lostRace(), lostRace());
    assert.deepEqual(await store.commit(add("2")), { ok: false, conflict: "entry", key: "2" });
    assert.deepEqual(await store.commit(poolChange("p", "", { remove: [["1", a]] })), {
      ok: false,
      conflict: "entry",
      key: "1",
    });
    const pool = await store.getPool("p");
    assert.deepEqual(pool.allocations.get("1"), RIVAL);
    assert.deepEqual(pool.allocations.get("2"), RIVAL);
  });

  it("unreachable(): nothing is applied; answerLost(): all of it is, and the caller hears code 11", async () => {
    const store = new MemoryStore();
    store.next("commit", unreachable(), answerLost());
    await assert.rejects(store.commit(add("1")), unavailable(/unreachable/));
    assert.equal((await store.getPool("p")).version, undefined);
    await assert.rejects(store.commit(add("1")), unavailable(/answer was lost/));
    assert.deepEqual([...(await store.getPool("p")).allocations], [["1", a]]);
  });

  it("always(): every call meets the step until cleared", async () => {
    const store = new MemoryStore();
    store.always("ping", unreachable());
    await assert.rejects(store.ping(), unavailable(/ping/));
    await assert.rejects(store.ping(), unavailable(/ping/));
    store.always("ping", undefined);
    await store.ping();
  });

  it("a slow call waits on the store's clock, and fails at its deadline with code 11 when that comes first", async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore(new MemoryData(), { clock });
    store.next("commit", slow(300), slow(300));
    assert.deepEqual(await store.commit(add("1"), { deadline: deadlineIn(1_000, clock) }), { ok: true });
    assert.deepEqual(clock.sleeps, [300]);
    await assert.rejects(
      store.commit(add("2"), { deadline: deadlineIn(50, clock) }),
      unavailable(/no answer within the call's deadline \(50 ms\)/),
    );
    assert.deepEqual(clock.sleeps, [300, 50]);
    assert.deepEqual([...(await store.getPool("p")).allocations.keys()], ["1"]);
    await assert.rejects(
      store.getPool("p", { deadline: deadlineIn(0, clock) }),
      unavailable(/deadline has passed/),
    );
  });

  it("stores sharing one MemoryData see each other's writes; a closed one answers nothing", async () => {
    const data = new MemoryData();
    const one = new MemoryStore(data);
    const two = new MemoryStore(data, { datastore: "etcd" });
    await one.commit(add("1"));
    assert.deepEqual([...(await two.getPool("p")).allocations], [["1", a]]);
    assert.equal(two.datastore, "etcd");
    await one.close();
    await assert.rejects(one.getPool("p"), unavailable(/closed/));
  });
});
