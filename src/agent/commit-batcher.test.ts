import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Deadline, deadlineIn } from "../ipam/retry.ts";
import type { Allocation } from "../pool/allocation.ts";
import { type CallOptions, type CommitResult, type PoolChange, poolChange } from "../store/store.ts";
import { CommitBatcher, MAX_BATCH, MAX_IN_FLIGHT, mergeChanges, takeBatch } from "./commit-batcher.ts";

const a = (id: string): Allocation => ({ containerId: id, podRef: `ns/${id}`, ifName: "eth0" });
const create = (key: string, pool = "p") =>
  poolChange(pool, "10.0.0.0/24", { create: [[key, a(`c${key}`)]] });

/** A store double: entries by key, each commit checks its creates are free; a gate holds commits. */
function fakeStore() {
  const held = new Map<string, Allocation>();
  const sent: PoolChange[] = [];
  let release: () => void = () => {};
  let gate: Promise<void> | undefined;
  return {
    held,
    sent,
    hold() {
      gate = new Promise((resolve) => {
        release = resolve;
      });
    },
    open() {
      gate = undefined;
      release();
    },
    deadlines: [] as (Deadline | undefined)[],
    async commit(change: PoolChange, options?: CallOptions): Promise<CommitResult> {
      sent.push(change);
      this.deadlines.push(options?.deadline);
      if (gate !== undefined) await gate;
      for (const [key] of change.create) if (held.has(key)) return { ok: false, conflict: "entry", key };
      for (const [key, value] of change.create) held.set(key, value);
      return { ok: true };
    },
  };
}

describe("CommitBatcher", () => {
  it("sends a lone change as it is", async () => {
    const store = fakeStore();
    const batcher = new CommitBatcher((c) => store.commit(c));
    assert.deepEqual(await batcher.commit(create("1")), { ok: true });
    assert.equal(store.sent.length, 1);
    assert.deepEqual(batcher.stats, { commits: 1, changes: 1 });
  });

  /** MAX_IN_FLIGHT single commits held in flight, then `queued` more changes behind them. */
  function saturated(batcher: CommitBatcher, queued: readonly string[]) {
    const first = Array.from({ length: MAX_IN_FLIGHT }, (_, i) => batcher.commit(create(`f${i}`)));
    return { first, rest: queued.map((k) => batcher.commit(create(k))) };
  }

  it("merges the changes that queue behind the commits in flight into one commit", async () => {
    const store = fakeStore();
    const batcher = new CommitBatcher((c) => store.commit(c));
    store.hold();
    const { first, rest } = saturated(batcher, ["2", "3", "4"]);
    assert.equal(store.sent.length, MAX_IN_FLIGHT, `${MAX_IN_FLIGHT} commits go out at once`);
    store.open();
    assert.deepEqual(await Promise.all([...first, ...rest]), Array(MAX_IN_FLIGHT + 3).fill({ ok: true }));
    assert.equal(store.sent.length, MAX_IN_FLIGHT + 1, "then the three queued ones together");
    assert.deepEqual(
      store.sent[MAX_IN_FLIGHT]!.create.map(([k]) => k),
      ["2", "3", "4"],
    );
    assert.equal(store.held.size, MAX_IN_FLIGHT + 3);
  });

  it("bounds a merged commit by the soonest deadline of its group, and each part alone by its own", async () => {
    const store = fakeStore();
    store.held.set("3", a("other"));
    const batcher = new CommitBatcher((c, o) => store.commit(c, o));
    store.hold();
    const first = Array.from({ length: MAX_IN_FLIGHT }, (_, i) => batcher.commit(create(`f${i}`)));
    const late = deadlineIn(60_000);
    const soon = deadlineIn(30_000);
    const rest = [
      batcher.commit(create("2"), late),
      batcher.commit(create("3"), soon),
      batcher.commit(create("4")),
    ];
    store.open();
    await Promise.all([...first, ...rest]);
    assert.deepEqual(store.deadlines.slice(MAX_IN_FLIGHT), [soon, late, soon, undefined]);
  });

  it("answers each part on its own when a merged commit conflicts", async () => {
    const store = fakeStore();
    store.held.set("3", a("other"));
    const batcher = new CommitBatcher((c) => store.commit(c));
    store.hold();
    const { first, rest } = saturated(batcher, ["2", "3", "4"]);
    store.open();
    assert.deepEqual(await Promise.all(first), Array(MAX_IN_FLIGHT).fill({ ok: true }));
    const results = await Promise.all(rest);
    assert.deepEqual(results, [{ ok: true }, { ok: false, conflict: "entry", key: "3" }, { ok: true }]);
    assert.equal(store.held.get("3")?.containerId, "other", "the conflicting part wrote nothing");
  });

  it("retries the parts of a merged commit that throws one by one", async () => {
    const store = fakeStore();
    const batcher = new CommitBatcher(async (c) => {
      if (c.create.length > 1) throw new Error("connection reset");
      if (c.create[0]![0] === "3") throw new Error("store down");
      return store.commit(c);
    });
    store.hold();
    const { first, rest: queued } = saturated(batcher, ["2", "3", "4"]);
    store.open();
    assert.deepEqual(await Promise.all(first), Array(MAX_IN_FLIGHT).fill({ ok: true }));
    assert.deepEqual(await queued[0], { ok: true });
    await assert.rejects(queued[1]!, /store down/);
    assert.deepEqual(await queued[2], { ok: true });
    assert.ok(store.held.has("2") && store.held.has("4") && !store.held.has("3"));
  });

  it("keeps changes to different pools apart", async () => {
    const store = fakeStore();
    const batcher = new CommitBatcher((c) => store.commit(c));
    await Promise.all([batcher.commit(create("1", "p")), batcher.commit(create("1", "q"))]);
    assert.deepEqual(store.sent.map((c) => c.pool).sort(), ["p", "q"]);
  });
});

describe("takeBatch", () => {
  const item = (change: PoolChange) => ({ change });

  it("defers a change that touches an entry or reservation already in the batch", () => {
    const r = { name: "10.0.0.5", podRef: "ns/x", ifName: "eth0", containerId: "x" };
    const queue = [
      item(create("5")),
      item(create("5")),
      item(poolChange("p", "", { reserve: [r] })),
      item(poolChange("p", "", { unreserve: [r] })),
      item(create("6")),
    ];
    const { batch, rest } = takeBatch(queue);
    assert.deepEqual(batch, [queue[0], queue[2], queue[4]]);
    assert.deepEqual(rest, [queue[1], queue[3]]);
  });

  it("defers a change that sets or forgets a release record already in the batch", () => {
    const queue = [
      item(poolChange("p", "", { release: [["5", 1]] })),
      item(poolChange("p", "", { forget: ["5"] })),
      item(poolChange("p", "", { release: [["6", 1]] })),
      item(poolChange("p", "", { release: [["5", 2]] })),
    ];
    const { batch, rest } = takeBatch(queue);
    assert.deepEqual(batch, [queue[0], queue[2]]);
    assert.deepEqual(rest, [queue[1], queue[3]]);
  });

  it("defers a change stating an attachment absent that another change in the batch states absent too", () => {
    // Each `absent` is checked before the merged commit's writes: two ADDs of one attachment, merged, would both pass.
    const absent = (key: string, podRef: string, ifName = "eth0") =>
      item(poolChange("p", "", { create: [[key, a(key)]], absent: [{ podRef, ifName }] }));
    const queue = [
      absent("1", "ns/x"),
      absent("2", "ns/x"),
      absent("3", "ns/x", "net1"),
      absent("4", "ns/y"),
    ];
    const { batch, rest } = takeBatch(queue);
    assert.deepEqual(batch, [queue[0], queue[2], queue[3]]);
    assert.deepEqual(rest, [queue[1]]);
    assert.deepEqual(mergeChanges(batch.map((b) => b.change)).absent, [
      { podRef: "ns/x", ifName: "eth0" },
      { podRef: "ns/x", ifName: "net1" },
      { podRef: "ns/y", ifName: "eth0" },
    ]);
    assert.equal("absent" in mergeChanges([create("5")]), false);
  });

  it(`takes at most ${MAX_BATCH} changes`, () => {
    const queue = Array.from({ length: MAX_BATCH + 3 }, (_, i) => item(create(String(i))));
    const { batch, rest } = takeBatch(queue);
    assert.equal(batch.length, MAX_BATCH);
    assert.equal(rest.length, 3);
  });
});

describe("mergeChanges", () => {
  it("concatenates every part, in order", () => {
    const r = { name: "n", podRef: "ns/x", ifName: "eth0", containerId: "x" };
    const merged = mergeChanges([
      poolChange("p", "10.0.0.0/24", { create: [["1", a("1")]], reserve: [r] }),
      poolChange("p", "10.0.0.0/24", { remove: [["2", a("2")]], unreserve: [r] }),
    ]);
    assert.deepEqual(merged, {
      pool: "p",
      range: "10.0.0.0/24",
      create: [["1", a("1")]],
      update: [],
      remove: [["2", a("2")]],
      reserve: [r],
      unreserve: [r],
    });
  });

  it("keeps each DEL's owners to sweep, and adds none to a group without them", () => {
    const owner = (id: string) => ({ podRef: `ns/${id}`, ifName: "eth0", containerId: id });
    const merged = mergeChanges([
      poolChange("p", "10.0.0.0/24", { remove: [["1", a("1")]], dropOwners: [owner("1")] }),
      poolChange("p", "10.0.0.0/24", { create: [["3", a("3")]] }),
      poolChange("p", "10.0.0.0/24", { remove: [["2", a("2")]], dropOwners: [owner("2")] }),
    ]);
    assert.deepEqual(merged.dropOwners, [owner("1"), owner("2")]);
    assert.equal("dropOwners" in mergeChanges([poolChange("p", "10.0.0.0/24", {})]), false);
  });

  it("keeps every part's release records and forgotten keys, and a takeover's replaced owner", () => {
    const owner = { podRef: "ns/virt-launcher-vm-a", ifName: "eth0", containerId: "a" };
    const takeover = {
      name: "n",
      podRef: "ns/virt-launcher-vm-b",
      ifName: "eth0",
      containerId: "b",
      replaces: owner,
    };
    const merged = mergeChanges([
      poolChange("p", "10.0.0.0/24", { remove: [["1", a("1")]], release: [["1", 10]] }),
      poolChange("p", "10.0.0.0/24", { create: [["3", a("3")]], forget: ["3"], reserve: [takeover] }),
      poolChange("p", "10.0.0.0/24", { remove: [["2", a("2")]], release: [["2", 20]] }),
    ]);
    assert.deepEqual(merged.release, [
      ["1", 10],
      ["2", 20],
    ]);
    assert.deepEqual(merged.forget, ["3"]);
    assert.deepEqual(merged.reserve, [takeover]);
    const plain = mergeChanges([poolChange("p", "10.0.0.0/24", {})]);
    assert.equal("release" in plain || "forget" in plain, false);
  });
});
