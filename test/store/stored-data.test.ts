// Stored data that does not match the configuration, on the embedded (sqlite) store, as the
// runtime sees it (plugin processes, alone and through a node agent): a pool whose stored range
// was edited, two network_names whose pool or reservation names collide, a store file with our
// schema version but no tables. Each is refused with code 5 and a message that says what to do;
// nothing is written, and nothing is handed out from the wrong pool.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { CACHE_MAX_AGE_MS } from "../../src/agent/agent-store.ts";
import { SCHEMA_VERSION } from "../../src/store/local/schema.ts";
import { openLocalStore } from "../../src/store/local/sqlite-store.ts";
import { type AgentProcess, startAgentProcess } from "../support/agent.ts";
import { add, addressesOf, netConf, type TempDir, tempDir } from "../support/plugin.ts";
import { assertRefusedByEveryVerb, failure } from "./stored-data-support.ts";

const ALONE = { THEREABOUTS_AGENT_SOCKET: "" };

function localConf(path: string, ipam: Record<string, unknown>): string {
  return netConf({ type: "thereabouts", datastore: "local", local: { path }, ...ipam }, "1.1.0");
}

/** Runs SQL on the store file behind the plugin's back (an operator's or another tool's edit). */
function edit(path: string, sql: string): void {
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    db.exec(sql);
  } finally {
    db.close();
  }
}

async function dump(path: string) {
  const store = await openLocalStore(path);
  try {
    return { pools: await store.listPools(), reservations: await store.listReservations() };
  } finally {
    await store.close();
  }
}

describe("local store: stored data that does not match the configuration (plugin processes)", () => {
  let dir: TempDir;
  let agent: AgentProcess;
  before(async () => {
    dir = tempDir();
    agent = await startAgentProcess();
  });
  after(async () => {
    await agent?.stop();
    dir?.remove();
  });

  for (const [how, env] of [
    ["alone", ALONE],
    ["through the agent", undefined],
  ] as const) {
    it(`an edited stored range is refused by ADD, DEL, CHECK, GC and status (${how}); restoring it is the cure`, async () => {
      const path = join(dir.path, `edited-${how.replaceAll(" ", "-")}.db`);
      const config = localConf(path, { range: "10.190.0.0/24" });
      const routed = env ?? agent.env;
      assert.deepEqual(addressesOf(await add({ config, pod: "a", containerId: "c-a", env: routed })), [
        "10.190.0.1/24",
      ]);
      edit(path, `UPDATE pools SET "range" = '10.190.1.0/24'`);
      // The agent answers reads from its cache for up to its cache age: the edit shows after it.
      if (env === undefined) await sleep(CACHE_MAX_AGE_MS + 100);
      const before = await dump(path);
      await assertRefusedByEveryVerb(
        config,
        { pod: "a", containerId: "c-a" },
        /pool 10\.190\.0\.0-24 holds range 10\.190\.1\.0\/24 but this network configures 10\.190\.0\.0\/24: the pool's stored range was changed; restore it to 10\.190\.0\.0\/24/,
        { env: routed, dir: dir.path, gc: true },
      );
      assert.deepEqual(await dump(path), before, "nothing written");
      edit(path, `UPDATE pools SET "range" = '10.190.0.0/24'`);
      if (env === undefined) await sleep(CACHE_MAX_AGE_MS + 100);
      assert.deepEqual(addressesOf(await add({ config, pod: "b", containerId: "c-b", env: routed })), [
        "10.190.0.2/24",
      ]);
    });
  }

  it("a pool name two network_names share (x + fd00:1::/64, x-fd00 + 1::/64): the second is refused naming both", async () => {
    const path = join(dir.path, "pool-collision.db");
    const x = localConf(path, { range: "fd00:1::/64", network_name: "x" });
    const xFd00 = localConf(path, { range: "1::/64", network_name: "x-fd00" });
    assert.deepEqual(addressesOf(await add({ config: x, pod: "a", containerId: "c-a", env: ALONE })), [
      "fd00:1::1/64",
    ]);
    const before = await dump(path);
    for (const env of [ALONE, agent.env]) {
      const error = failure(await add({ config: xFd00, pod: "b", containerId: "c-b", env }), "ADD");
      assert.equal(error.code, 5);
      assert.equal(
        error.msg,
        'pool x-fd00-1---64 holds range fd00:1::/64 of network_name "x"; this network (network_name "x-fd00") configures 1::/64: pool names collide, rename one network_name',
      );
    }
    assert.deepEqual(await dump(path), before, "nothing written");
  });

  it("a reservation name two network_names share (x + fd00:1::1, x-fd00 + 1::1) fails the ADD naming both; one written by Go is skipped as before", async () => {
    const path = join(dir.path, "reservation-collision.db");
    const x = localConf(path, { range: "fd00:1::/64", network_name: "x" });
    const xFd00 = localConf(path, { range: "1::/48", network_name: "x-fd00" });
    assert.deepEqual(addressesOf(await add({ config: x, pod: "a", containerId: "c-a", env: ALONE })), [
      "fd00:1::1/64",
    ]);
    const before = await dump(path);
    for (const env of [ALONE, agent.env]) {
      const error = failure(await add({ config: xFd00, pod: "b", containerId: "c-b", env }), "ADD");
      assert.equal(error.code, 5);
      assert.equal(
        error.msg,
        'reservation x-fd00-1--1 holds fd00:1::1 of network_name "x"; this network (network_name "x-fd00") needs it for 1::1: reservation names collide, rename one network_name',
      );
    }
    assert.deepEqual((await dump(path)).reservations, before.reservations);
    // A reservation without a claim (as Go writes them) says nothing about its network: the
    // address may be another range's of this network, so it is skipped, never a duplicate.
    edit(path, `UPDATE reservations SET address = NULL, network_name = NULL`);
    assert.deepEqual(addressesOf(await add({ config: xFd00, pod: "b", containerId: "c-b", env: ALONE })), [
      "1::2/48",
    ]);
  });

  for (const version of [1, SCHEMA_VERSION]) {
    it(`a file with schema version ${version} but no tables is stored-data trouble (code 5) with what to do`, async () => {
      const path = join(dir.path, `no-tables-${version}.db`);
      edit(path, `PRAGMA user_version = ${version}`);
      const config = localConf(path, { range: "10.191.0.0/24" });
      for (const env of [ALONE, agent.env]) {
        const error = failure(await add({ config, pod: "a", containerId: "c-a", env }), "ADD");
        assert.equal(error.code, 5, JSON.stringify(error));
        assert.match(error.msg, new RegExp(`local store ${path.replaceAll(".", "\\.")}`));
        assert.match(error.msg, /no such table/);
        assert.match(
          error.msg,
          /move it aside \(a new store is created on the next call\) or restore it from a backup/,
        );
      }
    });
  }

  it("a store at schema version 1 is upgraded in place: its data stays, new reservations carry a claim", async () => {
    const path = join(dir.path, "v1.db");
    edit(
      path,
      `CREATE TABLE pools (name TEXT NOT NULL PRIMARY KEY, "range" TEXT NOT NULL, version INTEGER NOT NULL) STRICT, WITHOUT ROWID;
       CREATE TABLE allocations (pool TEXT NOT NULL, key TEXT NOT NULL, container_id TEXT NOT NULL, podref TEXT NOT NULL, ifname TEXT NOT NULL, PRIMARY KEY (pool, key)) STRICT, WITHOUT ROWID;
       CREATE TABLE reservations (name TEXT NOT NULL PRIMARY KEY, podref TEXT NOT NULL, ifname TEXT NOT NULL, container_id TEXT NOT NULL) STRICT, WITHOUT ROWID;
       INSERT INTO pools VALUES ('10.192.0.0-24', '10.192.0.0/24', 1);
       INSERT INTO allocations VALUES ('10.192.0.0-24', '1', 'c-old', 'default/old', 'eth0');
       INSERT INTO reservations VALUES ('10.192.0.1', 'default/old', 'eth0', 'c-old');
       PRAGMA user_version = 1;`,
    );
    const config = localConf(path, { range: "10.192.0.0/24" });
    assert.deepEqual(addressesOf(await add({ config, pod: "new", containerId: "c-new", env: ALONE })), [
      "10.192.0.2/24",
    ]);
    const { reservations } = await dump(path);
    assert.deepEqual(reservations, [
      { name: "10.192.0.1", podRef: "default/old", ifName: "eth0", containerId: "c-old" },
      {
        name: "10.192.0.2",
        podRef: "default/new",
        ifName: "eth0",
        containerId: "c-new",
        claim: { address: "10.192.0.2", networkName: "" },
      },
    ]);
    const db = new DatabaseSync(path);
    assert.equal(db.prepare("PRAGMA user_version").get()?.["user_version"], SCHEMA_VERSION);
    db.close();
  });
});
