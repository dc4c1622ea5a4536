// Freeing a release plan on the embedded store: the guard asked before each change, and entries
// that changed since they were read left alone.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Allocation } from "../../pool/allocation.ts";
import { withTempLocalStore } from "../../store/local/test-support.ts";
import { poolChange, type Store } from "../../store/store.ts";
import { modelOf } from "../check/model.ts";
import { freePlan } from "./free.ts";
import { planRelease } from "./plan.ts";

const a = (podRef: string, containerId = `c-${podRef}`): Allocation => ({
  containerId,
  podRef,
  ifName: "net1",
});

async function seed(store: Store): Promise<void> {
  const result = await store.commit(
    poolChange("net-10.6.0.0-24", "10.6.0.0/24", {
      create: [
        ["5", a("ns/p1")],
        ["6", a("ns/p2")],
      ],
      reserve: [
        { name: "net-10.6.0.5", ...a("ns/p1") },
        { name: "net-10.6.0.6", ...a("ns/p2") },
        { name: "net-10.6.0.9", ...a("ns/p1") },
      ],
    }),
  );
  assert.deepEqual(result, { ok: true });
}

async function planOf(store: Store, podRef: string) {
  return planRelease(modelOf(await store.listPools(), await store.listReservations()), { podRef }, undefined);
}

describe("freePlan", () => {
  it("frees entries with their reservations, and reservations without entries, asking the guard before each", async () => {
    await withTempLocalStore(async (store) => {
      await seed(store);
      const asked: string[][] = [];
      const report = await freePlan(store, await planOf(store, "ns/p1"), async (refs) => {
        asked.push([...refs]);
        return undefined;
      });
      assert.deepEqual(asked, [["ns/p1"], ["ns/p1"]]);
      assert.deepEqual(report.notDone, []);
      assert.deepEqual(
        report.freed.map((f) => `${f.pool} ${f.address} ${f.reservation}`),
        // no entry, and written without a claim: no pool, no address known
        ["net-10.6.0.0-24 10.6.0.5 net-10.6.0.5", "  net-10.6.0.9"],
      );
      assert.deepEqual([...(await store.getPool("net-10.6.0.0-24")).allocations.keys()], ["6"]);
      assert.deepEqual(
        (await store.listReservations()).map((r) => r.name),
        ["net-10.6.0.6"],
      );
    });
  });

  it("changes nothing the guard refuses, nor an entry rewritten since it was read", async () => {
    await withTempLocalStore(async (store) => {
      await seed(store);
      const refused = await freePlan(
        store,
        await planOf(store, "ns/p1"),
        async (refs) => `pod ${refs[0]} is back`,
      );
      assert.deepEqual(refused.freed, []);
      assert.deepEqual(refused.notDone, [
        "did not free 10.6.0.5 from pool net-10.6.0.0-24: pod ns/p1 is back",
        "did not drop reservation net-10.6.0.9: pod ns/p1 is back",
      ]);
      const plan = await planOf(store, "ns/p2");
      // p2's successor rewrote the entry (a new container) after the plan was made
      const rewritten = await store.commit(
        poolChange("net-10.6.0.0-24", "10.6.0.0/24", {
          update: [{ key: "6", from: a("ns/p2"), to: a("ns/p2", "c-new") }],
        }),
      );
      assert.deepEqual(rewritten, { ok: true });
      const report = await freePlan(store, plan, async () => undefined);
      assert.deepEqual(report.freed, []);
      assert.deepEqual(report.notDone, [
        "1 entries of pool net-10.6.0.0-24 changed since they were read: not freed",
      ]);
      assert.equal((await store.getPool("net-10.6.0.0-24")).allocations.size, 2);
    });
  });
});
