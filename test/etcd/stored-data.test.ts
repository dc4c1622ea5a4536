// Stored data that does not match the configuration, on real etcd, as the runtime sees it (plugin
// processes): a pool whose meta key was edited to another range, or to something that is not a
// range; two network_names whose pool or reservation names collide. Each is refused with code 5
// and a message that says what to do, and nothing is written.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertRefusedByEveryVerb, failure } from "../store/stored-data-support.ts";
import { add, addressesOf, netConf, type TempDir, tempDir } from "../support/plugin.ts";
import { EtcdCluster } from "./etcd-cluster.ts";

const ALONE = { THEREABOUTS_AGENT_SOCKET: "" };
let serial = 0;

describe("etcd: stored data that does not match the configuration (plugin processes)", () => {
  let cluster: EtcdCluster;
  let dir: TempDir;
  before(async () => {
    cluster = await EtcdCluster.start({ inMemory: true });
    dir = tempDir();
  });
  after(async () => {
    await cluster?.stop();
    dir?.remove();
  });

  /** A fresh installation (key prefix) and a config builder on it. */
  function installation(): { prefix: string; conf: (ipam: Record<string, unknown>) => string } {
    const prefix = `/stored-${process.pid}-${serial++}`;
    return {
      prefix,
      conf: (ipam) => netConf({ type: "thereabouts", ...cluster.ipamKeys({ prefix }), ...ipam }, "1.1.0"),
    };
  }

  async function put(key: string, value: string): Promise<void> {
    await cluster.call(0, "/v3/kv/put", {
      key: Buffer.from(key).toString("base64"),
      value: Buffer.from(value).toString("base64"),
    });
  }

  /** Every key under the prefix with its value, read behind the plugin's back. */
  async function dump(prefix: string): Promise<Record<string, string>> {
    const reply = (await cluster.call(0, "/v3/kv/range", {
      key: Buffer.from(`${prefix}/`).toString("base64"),
      range_end: Buffer.from(`${prefix}0`).toString("base64"),
    })) as { kvs?: { key: string; value: string }[] };
    return Object.fromEntries(
      (reply.kvs ?? []).map((kv) => [
        Buffer.from(kv.key, "base64").toString(),
        Buffer.from(kv.value, "base64").toString(),
      ]),
    );
  }

  it("an edited meta key (another range, or not a range) is refused by ADD, DEL, CHECK and status; restoring it is the cure", async () => {
    const { prefix, conf } = installation();
    const config = conf({ range: "10.193.0.0/24" });
    assert.deepEqual(addressesOf(await add({ config, pod: "a", containerId: "c-a", env: ALONE })), [
      "10.193.0.1/24",
    ]);
    const meta = `${prefix}/pools/10.193.0.0-24/meta`;
    assert.equal((await dump(prefix))[meta], '{"range":"10.193.0.0/24"}');
    await put(meta, '{"range":"10.193.1.0/24"}');
    const before = await dump(prefix);
    await assertRefusedByEveryVerb(
      config,
      { pod: "a", containerId: "c-a" },
      /pool 10\.193\.0\.0-24 holds range 10\.193\.1\.0\/24 but this network configures 10\.193\.0\.0\/24: the pool's stored range was changed; restore it to 10\.193\.0\.0\/24/,
      { env: ALONE, dir: dir.path, gc: false },
    );
    await put(meta, '{"range":"garbage"}');
    const garbage = failure(await add({ config, pod: "b", containerId: "c-b", env: ALONE }), "ADD");
    assert.deepEqual(garbage, {
      code: 5,
      msg: 'pool 10.193.0.0-24 has spec.range "garbage", which is not an IPv4 CIDR: repair or delete the pool',
    });
    await put(meta, '{"range":"10.193.1.0/24"}');
    assert.deepEqual(await dump(prefix), before, "nothing written");
    await put(meta, '{"range":"10.193.0.0/24"}');
    assert.deepEqual(addressesOf(await add({ config, pod: "b", containerId: "c-b", env: ALONE })), [
      "10.193.0.2/24",
    ]);
  });

  it("a pool name two network_names share (x + fd00:1::/64, x-fd00 + 1::/64): the second is refused naming both", async () => {
    const { prefix, conf } = installation();
    const x = conf({ range: "fd00:1::/64", network_name: "x" });
    const xFd00 = conf({ range: "1::/64", network_name: "x-fd00" });
    assert.deepEqual(addressesOf(await add({ config: x, pod: "a", containerId: "c-a", env: ALONE })), [
      "fd00:1::1/64",
    ]);
    const before = await dump(prefix);
    const error = failure(await add({ config: xFd00, pod: "b", containerId: "c-b", env: ALONE }), "ADD");
    assert.deepEqual(error, {
      code: 5,
      msg: 'pool x-fd00-1---64 holds range fd00:1::/64 of network_name "x"; this network (network_name "x-fd00") configures 1::/64: pool names collide, rename one network_name',
    });
    assert.deepEqual(await dump(prefix), before, "nothing written");
  });

  it("a reservation name two network_names share fails the ADD naming both; reservations record their claim", async () => {
    const { prefix, conf } = installation();
    const x = conf({ range: "fd00:1::/64", network_name: "x" });
    const xFd00 = conf({ range: "1::/48", network_name: "x-fd00" });
    assert.deepEqual(addressesOf(await add({ config: x, pod: "a", containerId: "c-a", env: ALONE })), [
      "fd00:1::1/64",
    ]);
    const key = `${prefix}/reservations/x-fd00-1--1`;
    assert.deepEqual(JSON.parse((await dump(prefix))[key]!), {
      podref: "default/a",
      ifname: "eth0",
      containerid: "c-a",
      address: "fd00:1::1",
      network_name: "x",
    });
    const error = failure(await add({ config: xFd00, pod: "b", containerId: "c-b", env: ALONE }), "ADD");
    assert.deepEqual(error, {
      code: 5,
      msg: 'reservation x-fd00-1--1 holds fd00:1::1 of network_name "x"; this network (network_name "x-fd00") needs it for 1::1: reservation names collide, rename one network_name',
    });
    const after = await dump(prefix);
    assert.deepEqual(
      Object.keys(after).filter((k) => k.includes("/reservations/")),
      [key],
    );
    assert.deepEqual(
      Object.keys(after).filter((k) => k.includes("/entries/")),
      [`${prefix}/pools/x-fd00-1---64/entries/1`],
    );
  });
});
