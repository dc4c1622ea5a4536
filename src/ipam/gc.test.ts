// CNI GC over a memory store: the host-local store releases what the runtime no longer knows;
// a shared store is left to the cluster controller.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { load } from "../config/test-support.ts";
import { MemoryData } from "../store/memory/memory-data.ts";
import { MemoryStore } from "../store/memory/memory-store.ts";
import { poolChange } from "../store/store.ts";
import { collectGarbage } from "./gc.ts";
import { scene } from "./test-support.ts";

const config = load({ range: "10.0.0.0/24" });
const live = { containerId: "c-live", podRef: "ns/live", ifName: "eth0" };
const gone = { containerId: "c-gone", podRef: "ns/gone", ifName: "eth0" };
const liveLegacy = { containerId: "c-live", podRef: "ns/live", ifName: "" };
const goneLegacy = { containerId: "c-old", podRef: "ns/old", ifName: "" };
const liveOtherInterface = { containerId: "c-live", podRef: "ns/live", ifName: "net9" };

function seeded(data: MemoryData): void {
  const entries = [live, gone, liveLegacy, goneLegacy, liveOtherInterface];
  data.commit(
    poolChange("10.0.0.0-24", "10.0.0.0/24", {
      create: entries.map((a, i) => [String(i + 1), a] as const),
      reserve: entries.map((a, i) => ({ name: `10.0.0.${i + 1}`, ...a })),
    }),
  );
}

describe("collectGarbage()", () => {
  it("releases the entries (and reservations) of attachments not in the runtime's list", async () => {
    const s = scene();
    seeded(s.store.data);
    const released = await collectGarbage(
      s.store,
      config,
      [{ containerId: "c-live", ifName: "eth0" }],
      s.deadline(),
    );
    assert.equal(released, 3);
    assert.deepEqual([...(await s.store.getPool("10.0.0.0-24")).allocations.keys()], ["1", "3"]);
    assert.deepEqual(
      (await s.store.listReservations()).map((r) => r.name),
      ["10.0.0.1", "10.0.0.3"],
    );
  });

  it("leaves a shared store alone: other hosts' attachments are not in this runtime's list", async () => {
    const data = new MemoryData();
    seeded(data);
    const shared = new MemoryStore(data, { datastore: "etcd" });
    assert.equal(await collectGarbage(shared, config, [], scene().deadline()), "shared");
    assert.deepEqual(shared.calls, []);
    assert.equal(data.pool("10.0.0.0-24").allocations.size, 5);
  });

  it("parks a gone attachment's sticky entry (kept with its reservation, not counted as released)", async () => {
    const s = scene();
    const sticky = { ...gone, owner: "statefulset/ns/web/1" };
    s.store.data.commit(
      poolChange("10.0.0.0-24", "10.0.0.0/24", {
        create: [
          ["1", sticky],
          ["2", live],
        ],
        reserve: [
          { name: "10.0.0.1", ...gone },
          { name: "10.0.0.2", ...live },
        ],
      }),
    );
    const at = s.clock.now();
    assert.equal(
      await collectGarbage(s.store, config, [{ containerId: "c-live", ifName: "eth0" }], s.deadline()),
      0,
    );
    assert.deepEqual((await s.store.getPool("10.0.0.0-24")).allocations.get("1"), {
      ...sticky,
      parkedAt: at,
    });
    assert.equal((await s.store.listReservations()).length, 2);
  });
});
