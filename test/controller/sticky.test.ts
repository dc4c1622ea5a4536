// Sticky addresses and the controller (bin/thereabouts controller on the API double, with
// thereabouts' CRDs and KubeVirt's): an entry with an owner (a StatefulSet slot, a VM) outlives its
// pod and is freed, with its reservation, only once the owner has been gone for good for the whole
// --sticky-release-after; a scale to zero and back or a VM restart inside it keeps it; an owner's
// live pod keeps it whatever the owner says; an entry without an owner (as Go writes them) is
// freed with its pod as before.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ApiDouble } from "../k8s-api/harness.ts";
import { statefulSet } from "../k8s-api/suite/statefulsets.ts";
import {
  type Controller,
  createPod,
  createPool,
  createReservation,
  createVmObject,
  deletePod,
  type Entry,
  expectOk,
  installKubevirtCrds,
  KUBEVIRT,
  poolEntries,
  ROOT,
  reservationNames,
  startApi,
  startController,
  waitFor,
} from "./support.ts";

const GRACE_MS = 3_000;
const POOL = "10.90.0.0-24";
const MERGE = { "Content-Type": "application/merge-patch+json" };
const parkedAt = () => new Date(Date.now() - 60_000).toISOString();

const sts = (ns: string, name: string) => `/apis/apps/v1/namespaces/${ns}/statefulsets/${name}`;

async function createStatefulSet(api: ApiDouble, ns: string, name: string, replicas: number): Promise<void> {
  expectOk(
    await api.request("POST", `/apis/apps/v1/namespaces/${ns}/statefulsets`, statefulSet(name, replicas)),
  );
}

async function scale(api: ApiDouble, ns: string, name: string, replicas: number): Promise<void> {
  expectOk(await api.request("PATCH", sts(ns, name), { spec: { replicas } }, MERGE));
}

/** A sticky entry at `key` of the pool (and its reservation), as the plugin's DEL leaves it parked. */
async function stickyEntry(
  api: ApiDouble,
  key: number,
  podref: string,
  owner: string,
  parked = true,
): Promise<void> {
  const entry: Entry = {
    id: `c-${key}`,
    podref,
    ifname: "net1",
    owner,
    ...(parked ? { parkedat: parkedAt() } : {}),
  };
  expectOk(
    await api.request(
      "PATCH",
      `/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/kube-system/ippools/${POOL}`,
      { spec: { allocations: { [String(key)]: entry } } },
      MERGE,
    ),
  );
  await createReservation(api, `10.90.0.${key}`, podref, `c-${key}`);
}

async function held(api: ApiDouble, key: number): Promise<boolean> {
  return (await poolEntries(api, POOL))[String(key)] !== undefined;
}

/** Waits out two graces and checks the entry and its reservation are both still there. */
async function keptThrough(api: ApiDouble, key: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 2 * GRACE_MS));
  assert.ok(await held(api, key), `entry ${key} kept`);
  assert.ok((await reservationNames(api)).includes(`10.90.0.${key}`), `reservation 10.90.0.${key} kept`);
}

/** Waits for the entry and its reservation to go; returns how long after `since` they went. */
async function releasedAfter(api: ApiDouble, key: number, since: number): Promise<number> {
  await waitFor(
    `entry ${key} and its reservation to be released`,
    async () => !(await held(api, key)) && !(await reservationNames(api)).includes(`10.90.0.${key}`),
    GRACE_MS + 15_000,
  );
  return Date.now() - since;
}

describe("controller: sticky addresses (StatefulSets, KubeVirt VMs)", () => {
  let api: ApiDouble;
  let controller: Controller;
  before(async () => {
    api = await startApi();
    const applied = await api.kubectl(["apply", "-k", join(ROOT, "deploy", "crds"), "--validate=false"]);
    assert.equal(applied.code, 0, applied.stderr);
    await installKubevirtCrds(api);
    await createPool(api, POOL, "10.90.0.0/24", {});
    controller = await startController(api, ["--sticky-release-after", `${GRACE_MS}ms`]);
    await controller.waitForLog((l) => l.msg === "listed virtualmachineinstances", 10_000);
  });
  after(async () => {
    if (controller) assert.equal(await controller.kill("SIGTERM"), 0);
    await api?.stop();
  });

  it("keeps a deleted StatefulSet pod's address while the StatefulSet counts its ordinal", async () => {
    await createStatefulSet(api, "keep", "web", 3);
    await stickyEntry(api, 1, "keep/web-1", "statefulset/keep/web/1");
    await keptThrough(api, 1);
  });

  it("frees it, with its reservation, a grace after the StatefulSet is scaled below the ordinal", async () => {
    await createStatefulSet(api, "shrink", "web", 3);
    await stickyEntry(api, 2, "shrink/web-2", "statefulset/shrink/web/2");
    await stickyEntry(api, 3, "shrink/web-1", "statefulset/shrink/web/1");
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // the controller has seen both
    const scaled = Date.now();
    await scale(api, "shrink", "web", 2);
    const ms = await releasedAfter(api, 2, scaled);
    assert.ok(
      ms >= GRACE_MS,
      `released ${ms} ms after the scale-down, not before the grace (${GRACE_MS} ms)`,
    );
    assert.ok(await held(api, 3), "ordinal 1 is still counted: kept");
    const line = await controller.waitForLog(
      (l) => l.msg.startsWith("released a sticky address") && l["owner"] === "statefulset/shrink/web/2",
    );
    assert.deepEqual(line["addresses"], ["10.90.0.2"]);
    assert.deepEqual(line["reservations"], ["10.90.0.2"]);
  });

  it("frees it a grace after the StatefulSet is deleted", async () => {
    await createStatefulSet(api, "deleted", "db", 1);
    await stickyEntry(api, 4, "deleted/db-0", "statefulset/deleted/db/0");
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const gone = Date.now();
    expectOk(await api.request("DELETE", sts("deleted", "db")));
    const ms = await releasedAfter(api, 4, gone);
    assert.ok(ms >= GRACE_MS, `released ${ms} ms after the delete`);
  });

  it("keeps it through a scale to zero and back within the grace", async () => {
    await createStatefulSet(api, "bounce", "web", 2);
    await stickyEntry(api, 5, "bounce/web-1", "statefulset/bounce/web/1");
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await scale(api, "bounce", "web", 0);
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS / 3));
    await scale(api, "bounce", "web", 2);
    await keptThrough(api, 5);
  });

  it("keeps a VM's address across a VMI restart, and frees it a grace after both VM and VMI are gone", async () => {
    await createVmObject(api, "vms", "virtualmachines", "vm-a");
    await createVmObject(api, "vms", "virtualmachineinstances", "vm-a");
    await stickyEntry(api, 6, "vms/virt-launcher-vm-a-abcde", "vm/vms/vm-a", false);
    // The VM restarts: its VMI goes and comes back (the VM object stays throughout).
    expectOk(await api.request("DELETE", `${KUBEVIRT}/namespaces/vms/virtualmachineinstances/vm-a`));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await createVmObject(api, "vms", "virtualmachineinstances", "vm-a");
    await keptThrough(api, 6);
    // A stopped VM (no VMI) keeps it too.
    expectOk(await api.request("DELETE", `${KUBEVIRT}/namespaces/vms/virtualmachineinstances/vm-a`));
    await keptThrough(api, 6);
    const gone = Date.now();
    expectOk(await api.request("DELETE", `${KUBEVIRT}/namespaces/vms/virtualmachines/vm-a`));
    const ms = await releasedAfter(api, 6, gone);
    assert.ok(ms >= GRACE_MS, `released ${ms} ms after the VM was deleted`);
  });

  it("never touches an entry whose pod is live, whatever its owner says", async () => {
    await createPod(api, "orphans", "web-0");
    await stickyEntry(api, 7, "orphans/web-0", "statefulset/orphans/web/0", false); // no such StatefulSet
    await keptThrough(api, 7);
    const metrics = await controller.get("/metrics");
    assert.match(
      metrics.body,
      /^thereabouts_sticky_owners_gone\{kind="statefulset"\} 1$/m,
      "its owner is gone, waiting",
    );
  });

  it("frees an entry without an owner (as Go writes them) with its pod, as before", async () => {
    await createPod(api, "plain", "p");
    expectOk(
      await api.request(
        "PATCH",
        `/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/kube-system/ippools/${POOL}`,
        { spec: { allocations: { "8": { id: "c-8", podref: "plain/p", ifname: "net1" } } } },
        MERGE,
      ),
    );
    await createReservation(api, "10.90.0.8", "plain/p", "c-8");
    const deleted = Date.now();
    await deletePod(api, "plain", "p");
    const ms = await releasedAfter(api, 8, deleted);
    assert.ok(ms < GRACE_MS, `freed by the fast path in ${ms} ms, no grace`);
  });

  it("reports sticky entries by state and kind, and the releases, in /metrics", async () => {
    const metrics = await controller.get("/metrics");
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^thereabouts_sticky_entries\{state="parked",kind="statefulset"\} [1-9]/m);
    assert.match(metrics.body, /^thereabouts_sticky_entries\{state="held",kind="statefulset"\} 1$/m);
    assert.match(metrics.body, /^thereabouts_sticky_released_total\{kind="statefulset"\} 2$/m);
    assert.match(metrics.body, /^thereabouts_sticky_released_total\{kind="vm"\} 1$/m);
    assert.match(metrics.body, /^thereabouts_sticky_owners_gone\{kind="vm"\} 0$/m);
  });
});

describe("controller: VM addresses on a cluster without KubeVirt", () => {
  it("takes the 404 as no VMs (logged once) and frees a VM's address a grace later", async () => {
    const api = await startApi();
    try {
      const applied = await api.kubectl(["apply", "-k", join(ROOT, "deploy", "crds"), "--validate=false"]);
      assert.equal(applied.code, 0, applied.stderr);
      await createPool(api, POOL, "10.90.0.0/24", {});
      await stickyEntry(api, 9, "vms/virt-launcher-old-xyz", "vm/vms/old");
      const started = Date.now();
      const controller = await startController(api, ["--sticky-release-after", `${GRACE_MS}ms`]);
      try {
        const ms = await releasedAfter(api, 9, started);
        assert.ok(ms >= GRACE_MS, `released ${ms} ms after the start`);
        assert.equal(
          controller.logs.filter((l) => l.msg === "virtualmachines are not served (404): taken as none")
            .length,
          1,
        );
      } finally {
        assert.equal(await controller.kill("SIGTERM"), 0);
      }
    } finally {
      await api.stop();
    }
  });
});
