// CNI protocol behaviour of the shipped executable: VERSION, both names, CLI mode, DEL
// idempotency, CHECK, GC, STATUS, rollback of a failed multi-range ADD.
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { execPlugin } from "../../src/cli/exec-plugin.ts";
import { openLocalStore } from "../../src/store/local/sqlite-store.ts";
import { poolChange } from "../../src/store/store.ts";
import { storedHoldings } from "../support/invariants.ts";
import {
  add,
  addressesOf,
  BINARY,
  del,
  netConf,
  run,
  type TempDir,
  tempDir,
  WHEREABOUTS_BINARY,
} from "../support/plugin.ts";

const VERSION_TEXT =
  '{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}';

let dir: TempDir;
let n = 0;
before(() => {
  dir = tempDir();
});
after(() => dir.remove());

function store(): string {
  return join(dir.path, `p${n++}.db`);
}

describe("the executable", () => {
  it("answers VERSION under both names, ignoring stdin", async () => {
    for (const binary of [BINARY, WHEREABOUTS_BINARY]) {
      const out = await run({ command: "VERSION", config: "not json at all" }, binary);
      assert.equal(out.code, 0);
      assert.equal(out.stdout.trim(), VERSION_TEXT);
    }
  });

  it("is a CLI without CNI_COMMAND", async () => {
    const help = await execPlugin(BINARY, { command: "VERSION", config: "", env: { CNI_COMMAND: "" } });
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: thereabouts <command>/);
  });

  it("serves ipam type whereabouts when installed as whereabouts", async () => {
    const config = netConf({
      type: "whereabouts",
      range: "192.0.2.0/24",
      datastore: "local",
      local: { path: store() },
    });
    const out = await run(
      {
        command: "ADD",
        config,
        containerId: "c1",
        ifName: "eth0",
        netns: "/x",
        cniArgs: "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p",
      },
      WHEREABOUTS_BINARY,
    );
    assert.deepEqual(addressesOf(out), ["192.0.2.1/24"]);
  });

  it("DEL is idempotent and succeeds for attachments it never saw", async () => {
    const config = netConf({
      type: "thereabouts",
      range: "192.0.2.0/24",
      datastore: "local",
      local: { path: store() },
    });
    const call = { config, pod: "p", containerId: "c1" };
    assert.equal((await del(call)).code, 0);
    addressesOf(await add(call));
    for (let i = 0; i < 2; i++) {
      const out = await del(call);
      assert.equal(out.code, 0, out.stdout);
      assert.equal(out.stdout, "");
    }
  });

  it("DEL releases entries written by Whereabouts <= v0.7 (no ifname) by container id", async () => {
    const path = store();
    const s = await openLocalStore(path);
    await s.commit(
      poolChange("192.0.2.0-24", "192.0.2.0/24", {
        create: [["5", { containerId: "legacy", podRef: "default/old", ifName: "" }]],
      }),
    );
    const config = netConf({
      type: "thereabouts",
      range: "192.0.2.0/24",
      datastore: "local",
      local: { path },
    });
    assert.equal((await del({ config, pod: "old", containerId: "legacy" })).code, 0);
    assert.deepEqual(await storedHoldings(s), []);
    await s.close();
  });

  it("CHECK succeeds only for the attachment holding its addresses", async () => {
    const path = store();
    const config = netConf(
      { type: "thereabouts", range: "192.0.2.0/24", datastore: "local", local: { path } },
      "1.0.0",
    );
    addressesOf(await add({ config, pod: "p", containerId: "c1" }));
    const check = (containerId: string, conf = config) =>
      run({
        command: "CHECK",
        config: conf,
        containerId,
        ifName: "eth0",
        netns: "/x",
        cniArgs: "K8S_POD_NAME=p",
      });
    const ok = await check("c1");
    assert.equal(ok.code, 0, ok.stdout);
    assert.equal(ok.stdout, "");
    const other = await check("c2");
    assert.equal(other.code, 1);
    assert.equal(JSON.parse(other.stdout).code, 101);
    const withPrev = JSON.stringify({
      ...JSON.parse(config),
      prevResult: { cniVersion: "1.0.0", ips: [{ address: "192.0.2.9/24" }] },
    });
    assert.equal(JSON.parse((await check("c1", withPrev)).stdout).code, 101);
    const old = await check(
      "c1",
      netConf({ type: "thereabouts", range: "192.0.2.0/24", datastore: "local", local: { path } }, "0.3.1"),
    );
    assert.equal(JSON.parse(old.stdout).code, 1);
  });

  it("GC releases this network's allocations that are not valid attachments", async () => {
    const path = store();
    const ipam = { type: "thereabouts", range: "192.0.2.0/24", datastore: "local", local: { path } };
    const config = netConf(ipam, "1.1.0");
    for (const id of ["keep", "drop"]) addressesOf(await add({ config, pod: id, containerId: id }));
    const gcConfig = JSON.stringify({
      ...JSON.parse(config),
      "cni.dev/valid-attachments": [{ containerID: "keep", ifname: "eth0" }],
    });
    const out = await run({ command: "GC", config: gcConfig });
    assert.equal(out.code, 0, out.stdout);
    const s = await openLocalStore(path);
    assert.deepEqual(await storedHoldings(s), [{ address: "192.0.2.1", podRef: "default/keep" }]);
    assert.deepEqual(
      (await s.listReservations()).map((r) => r.podRef),
      ["default/keep"],
    );
    await s.close();
  });

  it("STATUS reports an unreachable store with code 50", async () => {
    const blocker = join(dir.path, "a-file");
    writeFileSync(blocker, "");
    const bad = netConf(
      {
        type: "thereabouts",
        range: "192.0.2.0/24",
        datastore: "local",
        local: { path: join(blocker, "store.db") },
      },
      "1.1.0",
    );
    const down = await run({ command: "STATUS", config: bad });
    assert.equal(down.code, 1);
    assert.equal(JSON.parse(down.stdout).code, 50);
    const good = netConf(
      { type: "thereabouts", range: "192.0.2.0/24", datastore: "local", local: { path: store() } },
      "1.1.0",
    );
    const up = await run({ command: "STATUS", config: good });
    assert.equal(up.code, 0, up.stdout);
    assert.equal(up.stdout, "");
  });

  it("a failed multi-range ADD rolls back the ranges it had allocated", async () => {
    const path = store();
    const v6 = { range: "2001:db8::/126" };
    const full = netConf({ type: "thereabouts", ipRanges: [v6], datastore: "local", local: { path } });
    for (const id of ["x", "y"]) addressesOf(await add({ config: full, pod: id, containerId: id }));
    const dual = netConf({
      type: "thereabouts",
      ipRanges: [{ range: "192.0.2.0/24" }, v6],
      datastore: "local",
      local: { path },
    });
    const out = await add({ config: dual, pod: "z", containerId: "z" });
    assert.equal(out.code, 1);
    assert.equal(JSON.parse(out.stdout).code, 100);
    const s = await openLocalStore(path);
    assert.deepEqual(
      (await storedHoldings(s)).map((h) => h.podRef).sort(),
      ["default/x", "default/y"],
      "nothing of pod z is left",
    );
    assert.ok(!(await s.listReservations()).some((r) => r.podRef === "default/z"));
    await s.close();
  });

  it("network_name separates the pools and reservations of networks sharing a range", async () => {
    const path = store();
    const net = (networkName: string, name: string) =>
      netConf(
        {
          type: "thereabouts",
          range: "192.0.2.0/24",
          network_name: networkName,
          datastore: "local",
          local: { path },
        },
        "0.3.1",
        name,
      );
    assert.deepEqual(
      addressesOf(await add({ config: net("blue", "blue-net"), pod: "a", containerId: "a" })),
      ["192.0.2.1/24"],
    );
    assert.deepEqual(addressesOf(await add({ config: net("red", "red-net"), pod: "b", containerId: "b" })), [
      "192.0.2.1/24",
    ]);
    const s = await openLocalStore(path);
    assert.deepEqual((await s.listPools()).map((p) => p.name).sort(), [
      "blue-192.0.2.0-24",
      "red-192.0.2.0-24",
    ]);
    assert.deepEqual((await s.listReservations()).map((r) => r.name).sort(), [
      "blue-192.0.2.1",
      "red-192.0.2.1",
    ]);
    assert.equal((await del({ config: net("blue", "blue-net"), pod: "a", containerId: "a" })).code, 0);
    assert.deepEqual(
      (await s.listReservations()).map((r) => r.name),
      ["red-192.0.2.1"],
    );
    await s.close();
  });

  it("results follow the requested cniVersion", async () => {
    const ipam = { type: "thereabouts", range: "192.0.2.0/24", gateway: "192.0.2.254", datastore: "local" };
    const old = await add({
      config: netConf({ ...ipam, local: { path: store() } }, "0.2.0"),
      pod: "p",
      containerId: "c",
    });
    assert.deepEqual(JSON.parse(old.stdout), {
      cniVersion: "0.2.0",
      ip4: { ip: "192.0.2.1/24", gateway: "192.0.2.254" },
      dns: {},
    });
    const now = await add({
      config: netConf({ ...ipam, local: { path: store() } }, "1.1.0"),
      pod: "p",
      containerId: "c",
    });
    assert.deepEqual(JSON.parse(now.stdout), {
      cniVersion: "1.1.0",
      ips: [{ address: "192.0.2.1/24", gateway: "192.0.2.254" }],
      dns: {},
    });
  });

  it("a failed ADD never creates the store", async () => {
    const path = store();
    const out = await add({
      config: netConf({ type: "thereabouts", range: "192.0.2.0/33", datastore: "local", local: { path } }),
      pod: "p",
      containerId: "c",
    });
    assert.equal(out.code, 1);
    assert.ok(!existsSync(path));
  });
});
