import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Allocation } from "../pool/allocation.ts";
import { type CommitResult, type PoolChange, poolChange } from "../store/store.ts";
import { CommitBatcher, MAX_BATCH, mergeChanges, takeBatch } from "./commit-batcher.ts";

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
    async commit(change: PoolChange): Promise<CommitResult> {
      sent.push(change);
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

  it("merges the changes that queue behind a commit in flight into one commit", async () => {
    const store = fakeStore();
    const batcher = new CommitBatcher((c) => store.commit(c));
    store.hold();
    const first = batcher.commit(create("1"));
    const rest = ["2", "3", "4"].map((k) => batcher.commit(create(k)));
    store.open();
    assert.deepEqual(await Promise.all([first, ...rest]), Array(4).fill({ ok: true }));
    assert.equal(store.sent.length, 2, "the first alone, then the three queued together");
    assert.deepEqual(
      store.sent[1]!.create.map(([k]) => k),
      ["2", "3", "4"],
    );
    assert.deepEqual([...store.held.keys()].sort(), ["1", "2", "3", "4"]);
  });

  it("answers each part on its own when a merged commit conflicts", async () => {
    const store = fakeStore();
    store.held.set("3", a("other"));
    const batcher = new CommitBatcher((c) => store.commit(c));
    store.hold();
    const first = batcher.commit(create("1"));
    const rest = ["2", "3", "4"].map((k) => batcher.commit(create(k)));
    store.open();
    const results = await Promise.all([first, ...rest]);
    assert.deepEqual(results, [
      { ok: true },
      { ok: true },
      { ok: false, conflict: "entry", key: "3" },
      { ok: true },
    ]);
    assert.equal(store.held.get("3")?.containerId, "other", "the conflicting part wrote nothing");
  });

  it("rejects every part of a merged commit that throws", async () => {
    const store = fakeStore();
    const batcher = new CommitBatcher(async (c) => {
      if (c.create.length > 1) throw new Error("store down");
      return store.commit(c);
    });
    store.hold();
    const first = batcher.commit(create("1"));
    const queued = [batcher.commit(create("2")), batcher.commit(create("3"))];
    store.open();
    assert.deepEqual(await first, { ok: true });
    for (const q of queued) await assert.rejects(q, /store down/);
    assert.deepEqual([...store.held.keys()], ["1"]);
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
});
