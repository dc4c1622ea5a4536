// Stored data that does not match the configuration, on the Kubernetes datastore (the API double),
// as the runtime sees it (plugin processes): an IPPool whose spec.range was edited to another
// range or to something that is not a range; a Go-written spec.range with host bits (the same
// range: accepted, offsets from the IP written); two network_names whose pool or reservation
// names collide. Mismatches are refused with code 5 and a message that says what to do, and
// nothing is written.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type ApiDouble, startApiDouble } from "../k8s-api/harness.ts";
import { assertRefusedByEveryVerb, failure } from "../store/stored-data-support.ts";
import { add, addressesOf, netConf, type TempDir, tempDir } from "../support/plugin.ts";
import { kubeIpam } from "./go-runtime.ts";
import { GROUP_PATH, type RawObjects, rawObjects } from "./go-view.ts";

const ALONE = { THEREABOUTS_AGENT_SOCKET: "" };

describe("kubernetes: stored data that does not match the configuration (plugin processes)", () => {
  let api: ApiDouble;
  let dir: TempDir;
  before(async () => {
    api = await startApiDouble();
    dir = tempDir();
  });
  after(async () => {
    await api?.stop();
    dir?.remove();
  });

  const conf = (namespace: string, ipam: Record<string, unknown>) =>
    netConf(kubeIpam(api.kubeconfigPath(namespace), ipam), "1.1.0");

  async function setRange(namespace: string, pool: string, range: string): Promise<void> {
    const r = await api.request(
      "PATCH",
      `${GROUP_PATH}/namespaces/${namespace}/ippools/${pool}`,
      { spec: { range } },
      { "Content-Type": "application/merge-patch+json" },
    );
    assert.equal(r.status, 200, r.body);
  }

  /** The namespace's whereabouts objects as stored, compared whole (reads change nothing). */
  const objects = (namespace: string): Promise<RawObjects> => rawObjects(api, namespace);

  it("an edited spec.range (another range, or not a range) is refused by ADD, DEL, CHECK and status; restoring it is the cure", async () => {
    const ns = "edited";
    const config = conf(ns, { range: "10.194.0.0/24" });
    assert.deepEqual(addressesOf(await add({ config, pod: "a", containerId: "c-a", env: ALONE })), [
      "10.194.0.1/24",
    ]);
    await setRange(ns, "10.194.0.0-24", "10.194.1.0/24");
    const before = await objects(ns);
    await assertRefusedByEveryVerb(
      config,
      { pod: "a", containerId: "c-a" },
      /pool 10\.194\.0\.0-24 holds range 10\.194\.1\.0\/24 but this network configures 10\.194\.0\.0\/24: the pool's stored range was changed; restore it to 10\.194\.0\.0\/24/,
      { env: ALONE, dir: dir.path, gc: false },
    );
    assert.deepEqual(await objects(ns), before, "nothing written");
    await setRange(ns, "10.194.0.0-24", "garbage");
    assert.deepEqual(failure(await add({ config, pod: "b", containerId: "c-b", env: ALONE }), "ADD"), {
      code: 5,
      msg: 'pool 10.194.0.0-24 has spec.range "garbage", which is not an IPv4 CIDR: repair or delete the pool',
    });
    await setRange(ns, "10.194.0.0-24", "10.194.0.0/24");
    assert.deepEqual(addressesOf(await add({ config, pod: "b", containerId: "c-b", env: ALONE })), [
      "10.194.0.2/24",
    ]);
  });

  it("a Go-written spec.range with host bits is the same range: used, offsets counted from the IP written", async () => {
    const ns = "host-bits";
    const created = await api.request("POST", `${GROUP_PATH}/namespaces/${ns}/ippools`, {
      apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
      kind: "IPPool",
      metadata: { name: "10.194.8.96-28" },
      spec: { range: "10.194.8.97/28", allocations: { "1": { id: "c-go", podref: "default/go-pod" } } },
    });
    assert.equal(created.status, 201, created.body);
    const config = conf(ns, { range: "10.194.8.96/28" });
    assert.deepEqual(addressesOf(await add({ config, pod: "a", containerId: "c-a", env: ALONE })), [
      "10.194.8.97/28",
    ]);
    assert.deepEqual(addressesOf(await add({ config, pod: "b", containerId: "c-b", env: ALONE })), [
      "10.194.8.99/28",
    ]);
    const pool = (await objects(ns)).pools[0]!;
    assert.equal(pool.spec.range, "10.194.8.97/28");
    assert.deepEqual(Object.keys(pool.spec.allocations).sort(), ["0", "1", "2"]);
  });

  it("a pool name two network_names share (x + fd00:1::/64, x-fd00 + 1::/64): the second is refused naming both", async () => {
    const ns = "pool-collision";
    assert.deepEqual(
      addressesOf(
        await add({
          config: conf(ns, { range: "fd00:1::/64", network_name: "x" }),
          pod: "a",
          containerId: "c-a",
          env: ALONE,
        }),
      ),
      ["fd00:1::1/64"],
    );
    const before = await objects(ns);
    const xFd00 = conf(ns, { range: "1::/64", network_name: "x-fd00" });
    assert.deepEqual(failure(await add({ config: xFd00, pod: "b", containerId: "c-b", env: ALONE }), "ADD"), {
      code: 5,
      msg: 'pool x-fd00-1---64 holds range fd00:1::/64 of network_name "x"; this network (network_name "x-fd00") configures 1::/64: pool names collide, rename one network_name',
    });
    assert.deepEqual(await objects(ns), before, "nothing written");
  });

  it("a reservation name two network_names share fails the ADD naming both; our reservations carry the claim as annotations", async () => {
    const ns = "reservation-collision";
    assert.deepEqual(
      addressesOf(
        await add({
          config: conf(ns, { range: "fd00:1::/64", network_name: "x" }),
          pod: "a",
          containerId: "c-a",
          env: ALONE,
        }),
      ),
      ["fd00:1::1/64"],
    );
    const held = (await objects(ns)).reservations;
    assert.deepEqual(
      held.map((r) => [r.metadata.name, r.metadata["annotations"], r.spec]),
      [
        [
          "x-fd00-1--1",
          { "thereabouts.cni.cncf.io/address": "fd00:1::1", "thereabouts.cni.cncf.io/network-name": "x" },
          { podref: "default/a", ifname: "eth0", containerid: "c-a" },
        ],
      ],
    );
    const xFd00 = conf(ns, { range: "1::/48", network_name: "x-fd00" });
    assert.deepEqual(failure(await add({ config: xFd00, pod: "b", containerId: "c-b", env: ALONE }), "ADD"), {
      code: 5,
      msg: 'reservation x-fd00-1--1 holds fd00:1::1 of network_name "x"; this network (network_name "x-fd00") needs it for 1::1: reservation names collide, rename one network_name',
    });
    const after = await objects(ns);
    assert.deepEqual(
      after.reservations.map((r) => r.metadata.name),
      ["x-fd00-1--1"],
    );
    assert.deepEqual(
      after.pools.map((p) => [p.metadata.name, Object.keys(p.spec.allocations)]),
      [["x-fd00-1---64", ["1"]]],
    );
  });
});
