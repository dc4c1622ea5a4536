// Many plugin processes at once on the embedded store, with and without SIGKILL mid-ADD.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { inParallel } from "../../src/cli/exec-plugin.ts";
import { openLocalStore } from "../../src/store/local/sqlite-store.ts";
import type { Store } from "../../src/store/store.ts";
import { assertEmpty, assertNoDuplicates, type Holding } from "../support/invariants.ts";
import { type AddCall, add, addressesOf, del, netConf, type TempDir, tempDir } from "../support/plugin.ts";

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
    const config = netConf({
      type: "thereabouts",
      range: "198.18.0.0/24",
      datastore: "local",
      local: { path },
    });
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

  it("SIGKILLed ADDs never cause a duplicate, and re-running them succeeds", async () => {
    const path = join(dir.path, "killed.db");
    const config = netConf({
      type: "thereabouts",
      range: "198.18.1.0/24",
      datastore: "local",
      local: { path },
    });
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
