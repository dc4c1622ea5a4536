import assert from "node:assert/strict";
import { test } from "node:test";
import { withTempLocalStore } from "../store/local/test-support.ts";
import { poolChange } from "../store/store.ts";
import { RELEASE_BATCH, releaseEntries } from "./release.ts";
import { deadlineIn } from "./retry.ts";

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
