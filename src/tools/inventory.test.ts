import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { load } from "../config/test-support.ts";
import { formatIP } from "../ip/index.ts";
import type { Allocation, PoolSnapshot } from "../pool/allocation.ts";
import { MemoryStore } from "../store/memory/memory-store.ts";
import { poolChange } from "../store/store.ts";
import { inNetwork, poolRecord, readInventory } from "./inventory.ts";
import type { Target } from "./target.ts";

const owner = (pod: string, containerId = `ctr-${pod}`): Allocation => ({
  podRef: `default/${pod}`,
  containerId,
  ifName: "net1",
});

function snapshot(name: string, range: string, entries: Record<string, Allocation>): PoolSnapshot {
  return { name, range, allocations: new Map(Object.entries(entries)), released: new Map(), version: "1" };
}

function targetOf(store: MemoryStore, config?: ReturnType<typeof load>): Target {
  return { store, ...(config === undefined ? {} : { networkConfig: config }), close: () => store.close() };
}

describe("inventory: pool records", () => {
  it("entries decoded against the stored range, sorted by address; unreadable keys kept apart", () => {
    const record = poolRecord(
      snapshot("198.51.100.0-28", "198.51.100.0/28", {
        "9": owner("c"),
        "2": owner("a"),
        "10.0.0.1": owner("x"),
        "5": owner("b"),
      }),
    );
    assert.deepEqual(
      record.entries.map((e) => [formatIP(e.address), e.key, e.allocation.podRef]),
      [
        ["198.51.100.2", "2", "default/a"],
        ["198.51.100.5", "5", "default/b"],
        ["198.51.100.9", "9", "default/c"],
      ],
    );
    assert.deepEqual(record.unreadableKeys, ["10.0.0.1"]);
    assert.equal(record.networkName, "");
    // Without a configuration: the stored range's hosts (network and broadcast excluded).
    assert.equal(record.size, 14n);
    assert.equal(record.used, 4, "every key counts as used");
    assert.equal(record.free, 11n, "three of the handed-out addresses are held");
  });

  it("a pool of the --config network counts what its configuration hands out", async () => {
    const config = load({ range: "198.51.100.0/28", exclude: ["198.51.100.0/30"], gateway: "198.51.100.14" });
    const store = new MemoryStore();
    await store.commit(poolChange("198.51.100.0-28", "198.51.100.0/28", { create: [["5", owner("a")]] }));
    const [pool] = (await readInventory(targetOf(store, config))).pools;
    assert.equal(pool?.name, "198.51.100.0-28");
    assert.equal(pool.configured?.name, pool.name);
    assert.equal(pool.size, 10n, "14 hosts minus .1-.3 and the gateway");
    assert.equal(pool.free, 9n);
  });

  it("a stored range that is not a CIDR: no size, every key unreadable", () => {
    const record = poolRecord(snapshot("broken", "not-a-range", { "1": owner("a") }));
    assert.equal(record.cidr, undefined);
    assert.deepEqual(record.unreadableKeys, ["1"]);
    assert.equal(record.size, 0n);
    assert.equal(record.used, 1);
  });

  it("network membership: by the name's network_name, or the --config network's pools", () => {
    const ours = poolRecord(snapshot("blue-198.51.100.0-28", "198.51.100.0/28", {}));
    const plain = poolRecord(snapshot("198.51.100.0-28", "198.51.100.0/28", {}));
    assert.equal(ours.networkName, "blue");
    assert.equal(inNetwork(ours, "blue"), true);
    assert.equal(inNetwork(plain, "blue"), false);
    assert.equal(inNetwork(plain, ""), true);
  });
});

describe("inventory: reading a store", () => {
  it("every pool and reservation, pools of the --config network that do not exist yet, --network", async () => {
    const store = new MemoryStore();
    await store.commit(
      poolChange("blue-198.51.100.0-28", "198.51.100.0/28", {
        create: [["3", owner("a")]],
        reserve: [{ name: "blue-198.51.100.3", ...owner("a") }],
      }),
    );
    await store.commit(poolChange("red-203.0.113.0-24", "203.0.113.0/24", { create: [["7", owner("b")]] }));
    const config = load({ range: "192.0.2.0/29", network_name: "green" });
    const all = await readInventory(targetOf(store, config));
    assert.deepEqual(
      all.pools.map((p) => [p.name, p.exists, p.used, p.size]),
      [
        ["blue-198.51.100.0-28", true, 1, 14n],
        ["green-192.0.2.0-29", false, 0, 6n],
        ["red-203.0.113.0-24", true, 1, 254n],
      ],
    );
    assert.deepEqual(
      all.reservations.map((r) => r.name),
      ["blue-198.51.100.3"],
    );
    const red = await readInventory(targetOf(store, config), { network: "red" });
    assert.deepEqual(
      red.pools.map((p) => p.name),
      ["red-203.0.113.0-24"],
    );
    const byConfigName = await readInventory(targetOf(store, config), { network: "net1" });
    assert.deepEqual(
      byConfigName.pools.map((p) => p.name),
      ["green-192.0.2.0-29"],
      "the --config network's `name` selects its pools",
    );
    assert.equal(all.datastore, "local");
  });
});
