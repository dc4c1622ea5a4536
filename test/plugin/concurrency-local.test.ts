// Many plugin processes at once on the embedded store, with and without SIGKILL mid-ADD.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { inParallel } from "../../src/cli/exec-plugin.ts";
import { openLocalStore } from "../../src/store/local/sqlite-store.ts";
import { poolChange, type Store } from "../../src/store/store.ts";
import { assertEmpty, assertNoDuplicates, type Holding } from "../support/invariants.ts";
import {
  type AddCall,
  add,
  addressesOf,
  del,
  localNetConf,
  type TempDir,
  tempDir,
} from "../support/plugin.ts";

const PODS = 200;
const IN_FLIGHT = 32;
const NODES = 4;

function attachments(config: string): AddCall[] {
  return Array.from({ length: PODS }, (_, i) => ({
    config,
    pod: `pod-${i}`,
    containerId: `ctr${i.toString(16).padStart(6, "0")}`,
    env: { NODENAME: `node-${i % NODES}` },
  }));
}

/** DEL of every attachment succeeds and leaves no allocation or reservation behind. */
async function deleteAllAndCheck(store: Store, calls: readonly AddCall[]): Promise<void> {
  const dels = await inParallel(calls, IN_FLIGHT, (c) => del(c));
  assert.deepEqual(
    dels.filter((o) => o.code !== 0).map((o) => o.stdout),
    [],
  );
  await assertEmpty(store);
}

describe("local store under concurrent plugin processes", () => {
  let dir: TempDir;
  before(() => {
    dir = tempDir();
  });
  after(() => dir.remove());

  it(`${PODS} ADDs, ${IN_FLIGHT} in flight from ${NODES} nodes, get distinct addresses; ${PODS} DELs empty the store`, async () => {
    const path = join(dir.path, "plain.db");
    const config = localNetConf(path, "198.18.0.0/24");
    const calls = attachments(config);
    const outcomes = await inParallel(calls, IN_FLIGHT, (c) => add(c));
    const reported: Holding[] = outcomes.map((o, i) => ({
      address: addressesOf(o)[0]!.split("/")[0]!,
      podRef: `default/${calls[i]!.pod}`,
    }));
    const store = await openLocalStore(path);
    try {
      await assertNoDuplicates(store, reported);
      assert.equal((await store.listReservations()).length, PODS, "one reservation per allocation");
      await deleteAllAndCheck(store, calls);
    } finally {
      await store.close();
    }
  });

  it("a pool holding 40,000 entries: lowest free first when uncontended, distinct addresses under 32 in flight, DELs leave only the fill", async () => {
    const path = join(dir.path, "full.db");
    const config = localNetConf(path, "198.19.0.0/16");
    // Offsets 1–40,000 held but for ten holes: 12,345, 12,352, … (every 7th).
    const holes = Array.from({ length: 10 }, (_, i) => 12_345 + 7 * i);
    const gaps = new Set(holes);
    const fill = Array.from({ length: 40_000 }, (_, i) => i + 1).filter((o) => !gaps.has(o));
    const store = await openLocalStore(path);
    try {
      const filled = await store.commit(
        poolChange("198.19.0.0-16", "198.19.0.0/16", {
          create: fill.map((o) => [
            String(o),
            { containerId: `f${o}`, podRef: `default/fill-${o}`, ifName: "eth0" },
          ]),
        }),
      );
      assert.deepEqual(filled, { ok: true });
      const address = (offset: number) => `198.19.${offset >> 8}.${offset & 255}`;
      const calls = attachments(config).slice(0, 100);
      // Uncontended: the holes, lowest first.
      for (const [i, c] of calls.slice(0, 3).entries()) {
        const outcome = await add(c);
        assert.equal(outcome.code, 0, outcome.stdout);
        assert.equal(addressesOf(outcome)[0], `${address(holes[i]!)}/16`);
      }
      const outcomes = await inParallel(calls.slice(3), IN_FLIGHT, (c) => add(c));
      const reported: Holding[] = [
        ...calls.slice(0, 3).map((c, i) => ({ address: address(holes[i]!), podRef: `default/${c.pod}` })),
      ];
      for (const [i, o] of outcomes.entries()) {
        assert.equal(o.code, 0, o.stdout);
        reported.push({ address: addressesOf(o)[0]!.split("/")[0]!, podRef: `default/${calls[i + 3]!.pod}` });
      }
      await assertNoDuplicates(store, reported);
      // Every hole was taken, and nothing far past the fill: the lowest free addresses went first.
      const taken = new Set(reported.map((r) => r.address));
      for (const hole of holes) assert.ok(taken.has(address(hole)), `hole ${address(hole)} taken`);
      const offsetOf = (a: string) =>
        a
          .split(".")
          .slice(2)
          .reduce((n, x) => n * 256 + Number(x), 0);
      const highest = Math.max(...reported.map((r) => offsetOf(r.address)));
      assert.ok(highest <= 40_000 + 100 + 64, `the highest address taken is offset ${highest}`);
      const dels = await inParallel(calls, IN_FLIGHT, (c) => del(c));
      assert.deepEqual(
        dels.filter((o) => o.code !== 0).map((o) => o.stdout),
        [],
      );
      const left = await store.getPool("198.19.0.0-16");
      assert.deepEqual([...left.allocations.keys()].sort(), fill.map(String).sort(), "only the fill is left");
      assert.deepEqual(await store.listReservations(), [], "no reservations left");
    } finally {
      await store.close();
    }
  });

  it("SIGKILLed ADDs never cause a duplicate, and re-running them succeeds", async () => {
    const path = join(dir.path, "killed.db");
    const config = localNetConf(path, "198.18.1.0/24");
    const calls = attachments(config);
    // Every 4th ADD is killed somewhere between process start and its commit.
    const outcomes = await inParallel(calls, IN_FLIGHT, (c, i) =>
      add(i % 4 === 0 ? { ...c, killAfterMs: 5 + ((i * 7) % 40) } : c),
    );
    const killed = calls.filter((_, i) => outcomes[i]!.signal === "SIGKILL");
    assert.ok(killed.length > 10, `enough ADDs were killed mid-flight (${killed.length})`);
    for (const [i, o] of outcomes.entries()) {
      if (o.signal === null) assert.equal(o.code, 0, `${calls[i]!.pod}: ${o.stdout}`);
    }
    const store = await openLocalStore(path);
    try {
      const survivors: Holding[] = outcomes.flatMap((o, i) =>
        o.code === 0
          ? [{ address: addressesOf(o)[0]!.split("/")[0]!, podRef: `default/${calls[i]!.pod}` }]
          : [],
      );
      await assertNoDuplicates(store, survivors);
      const retried = await inParallel(killed, IN_FLIGHT, (c) => add(c));
      const all = [
        ...survivors,
        ...retried.map((o, i) => ({
          address: addressesOf(o)[0]!.split("/")[0]!,
          podRef: `default/${killed[i]!.pod}`,
        })),
      ];
      assert.equal(all.length, PODS);
      await assertNoDuplicates(store, all);
      await deleteAllAndCheck(store, calls);
    } finally {
      await store.close();
    }
  });
});
