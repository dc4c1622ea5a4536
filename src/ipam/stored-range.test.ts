// The CNI verbs over a real local store whose stored data does not match the configuration: a
// pool with another stored range (edited, or another network's under a colliding name) and a
// reservation claimed by another network under a colliding name.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toCniError } from "../cni/skel.ts";
import { load } from "../config/test-support.ts";
import type { IpamConfig } from "../config/types.ts";
import { StoredDataError } from "../errors/errors.ts";
import { formatIP } from "../ip/index.ts";
import { silentLogger } from "../log/logger.ts";
import { withTempLocalStore } from "../store/local/test-support.ts";
import { poolChange, type Store } from "../store/store.ts";
import { addAttachment } from "./add.ts";
import { checkAttachment } from "./check.ts";
import { deleteAttachment } from "./del.ts";
import { collectGarbage } from "./gc.ts";
import { poolOf } from "./pool-ref.ts";
import { deadlineIn } from "./retry.ts";

const claimant = (pod: string) => ({ containerId: `c-${pod}`, podRef: `ns/${pod}`, ifName: "eth0" });

async function addOf(store: Store, config: IpamConfig, pod: string): Promise<string[]> {
  const outcome = await addAttachment(store, config, claimant(pod), deadlineIn(5_000), silentLogger);
  return outcome.addresses.map((a) => formatIP(a.address));
}

function storedDataError(message: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof StoredDataError, String(error));
    assert.equal(toCniError(error).code, 5);
    assert.match(error.message, message);
    return true;
  };
}

describe("a pool whose stored range is not the configured one", () => {
  it("is refused by ADD, DEL, CHECK and GC with code 5, and nothing is written", async () => {
    await withTempLocalStore(async (store) => {
      const config = load({ range: "10.190.0.0/24", network_name: "blue" });
      const pool = poolOf(config, config.ranges[0]!);
      // Another writer created the pool with another range (an edited spec.range reads the same).
      const held = { containerId: "c-old", podRef: "ns/old", ifName: "eth0" };
      assert.deepEqual(
        await store.commit(poolChange(pool.name, "10.190.1.0/24", { create: [["1", held]] })),
        { ok: true },
      );
      const before = await store.getPool(pool.name);
      const edited = storedDataError(
        /^pool blue-10\.190\.0\.0-24 holds range 10\.190\.1\.0\/24 but this network configures 10\.190\.0\.0\/24: .*restore it to 10\.190\.0\.0\/24/,
      );
      await assert.rejects(addOf(store, config, "new"), edited);
      await assert.rejects(
        deleteAttachment(
          store,
          config,
          { containerId: "c-old", ifName: "eth0" },
          "ns/old",
          deadlineIn(1_000),
        ),
        edited,
      );
      await assert.rejects(
        checkAttachment(
          store,
          config,
          { containerId: "c-old", ifName: "eth0" },
          undefined,
          deadlineIn(1_000),
        ),
        edited,
      );
      await assert.rejects(collectGarbage(store, config, [], deadlineIn(1_000)), edited);
      const after = await store.getPool(pool.name);
      assert.deepEqual([...after.allocations], [...before.allocations]);
      assert.equal(after.version, before.version);
      assert.deepEqual(await store.listReservations(), []);
    });
  });

  it("of another network under a colliding name: the ADD is refused naming both networks", async () => {
    await withTempLocalStore(async (store) => {
      const x = load({ range: "fd00:1::/64", network_name: "x" });
      const xFd00 = load({ range: "1::/64", network_name: "x-fd00" });
      assert.deepEqual(await addOf(store, x, "a"), ["fd00:1::1"]);
      await assert.rejects(
        addOf(store, xFd00, "b"),
        storedDataError(
          /^pool x-fd00-1---64 holds range fd00:1::\/64 of network_name "x"; this network \(network_name "x-fd00"\) configures 1::\/64: pool names collide, rename one network_name$/,
        ),
      );
      const pool = await store.getPool("x-fd00-1---64");
      assert.deepEqual(
        [...pool.allocations.values()].map((a) => a.podRef),
        ["ns/a"],
      );
      assert.deepEqual(
        (await store.listReservations()).map((r) => r.podRef),
        ["ns/a"],
      );
    });
  });
});

describe("a reservation claimed by another network under a colliding name", () => {
  it("fails the ADD with code 5 naming both, instead of skipping the address; a failed ADD leaves nothing", async () => {
    await withTempLocalStore(async (store) => {
      // x + fd00:1::1 and x-fd00 + 1::1 are both reservation x-fd00-1--1 (pools differ: /64, /48).
      const x = load({ range: "fd00:1::/64", network_name: "x" });
      const xFd00 = load({
        ipRanges: [{ range: "10.9.0.0/24" }, { range: "1::/48" }],
        network_name: "x-fd00",
      });
      assert.deepEqual(await addOf(store, x, "a"), ["fd00:1::1"]);
      await assert.rejects(
        addOf(store, xFd00, "b"),
        storedDataError(
          /^reservation x-fd00-1--1 holds fd00:1::1 of network_name "x"; this network \(network_name "x-fd00"\) needs it for 1::1: reservation names collide, rename one network_name$/,
        ),
      );
      // The first range's address was released again.
      assert.equal((await store.getPool("x-fd00-10.9.0.0-24")).allocations.size, 0);
      assert.equal((await store.getPool("x-fd00-1---48")).allocations.size, 0);
      assert.deepEqual(
        (await store.listReservations()).map((r) => `${r.name} ${r.podRef}`),
        ["x-fd00-1--1 ns/a"],
      );
    });
  });

  it("held without a claim (Go wrote it) is an overlap as before: the address is skipped", async () => {
    await withTempLocalStore(async (store) => {
      const goWritten = { name: "x-fd00-1--1", podRef: "ns/go-pod", ifName: "net1", containerId: "" };
      assert.deepEqual(await store.commit(poolChange("carrier", "10.0.0.0/24", { reserve: [goWritten] })), {
        ok: true,
      });
      const xFd00 = load({ range: "1::/48", network_name: "x-fd00" });
      assert.deepEqual(await addOf(store, xFd00, "b"), ["1::2"]);
      const claimed = await store.getReservation("x-fd00-1--2");
      assert.deepEqual(claimed?.claim, { address: "1::2", networkName: "x-fd00" });
    });
  });
});
