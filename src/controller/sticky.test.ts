// The release rule of sticky addresses: when an owner counts as gone, the grace that must pass
// without a break, the GC that never frees a sticky entry for its pod, and the release itself on
// the embedded store with its identity guards (owner and pod re-read, entry still as read).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Allocation } from "../pool/allocation.ts";
import type { StickyOwner } from "../pool/owner.ts";
import { withTempLocalStore } from "../store/local/test-support.ts";
import { poolChange, type Store } from "../store/store.ts";
import type { PodState } from "./liveness.ts";
import { stickyCounts } from "./metrics.ts";
import { type PodReader, reclaim } from "./reconcile.ts";
import { GoneClock, type OwnerWorld, ownerGone, statefulSetSlots } from "./sticky.ts";
import { releaseSticky, type StickyRelease } from "./sticky-run.ts";

const sts = (name: string, ordinal: number): StickyOwner => ({
  kind: "statefulset",
  namespace: "db",
  name,
  ordinal,
});
const vm = (name: string): StickyOwner => ({ kind: "vm", namespace: "vms", name });

function world(
  statefulSets: Record<string, { replicas: number; start?: number }>,
  vms: string[],
): OwnerWorld {
  return {
    statefulSet: (ns, name) => {
      const s = statefulSets[`${ns}/${name}`];
      return s === undefined ? null : { replicas: s.replicas, start: s.start ?? 0 };
    },
    vmExists: (ns, name) => vms.includes(`${ns}/${name}`),
  };
}

describe("ownerGone", () => {
  it("a StatefulSet slot is gone when the StatefulSet is missing or the ordinal is outside start..start+replicas", () => {
    const w = world({ "db/web": { replicas: 3 }, "db/shifted": { replicas: 2, start: 5 } }, []);
    assert.equal(ownerGone(sts("web", 2), w), false);
    assert.equal(ownerGone(sts("web", 3), w), true);
    assert.equal(ownerGone(sts("gone", 0), w), true);
    assert.equal(ownerGone(sts("shifted", 4), w), true);
    assert.equal(ownerGone(sts("shifted", 5), w), false);
    assert.equal(ownerGone(sts("shifted", 6), w), false);
    assert.equal(ownerGone(sts("shifted", 7), w), true);
    assert.equal(ownerGone(sts("web", 0), world({ "db/web": { replicas: 0 } }, [])), true);
  });
  it("a VM is gone only when neither its VirtualMachine nor its VirtualMachineInstance exists; unknown stays unknown", () => {
    assert.equal(ownerGone(vm("a"), world({}, ["vms/a"])), false);
    assert.equal(ownerGone(vm("b"), world({}, ["vms/a"])), true);
    const unknown: OwnerWorld = { statefulSet: () => undefined, vmExists: () => undefined };
    assert.equal(ownerGone(vm("a"), unknown), undefined);
    assert.equal(ownerGone(sts("web", 0), unknown), undefined);
  });
  it("reads spec.replicas and spec.ordinals.start of a StatefulSet object", () => {
    assert.deepEqual(statefulSetSlots({ spec: { replicas: 4, ordinals: { start: 2 } } }), {
      replicas: 4,
      start: 2,
    });
    assert.deepEqual(statefulSetSlots({ spec: {} }), { replicas: 1, start: 0 });
  });
});

describe("GoneClock", () => {
  it("counts from the first observation of gone; any observation of the owner there starts it again", () => {
    const clock = new GoneClock();
    clock.observe("statefulset/db/web/2", true, 1_000);
    clock.observe("statefulset/db/web/2", true, 5_000);
    assert.equal(clock.since("statefulset/db/web/2"), 1_000);
    assert.deepEqual(clock.due(60_999, 60_000), []);
    assert.deepEqual(clock.due(61_000, 60_000), ["statefulset/db/web/2"]);
    // scaled back up for a moment: the grace starts over
    clock.observe("statefulset/db/web/2", false, 61_500);
    clock.observe("statefulset/db/web/2", true, 62_000);
    assert.deepEqual(clock.due(100_000, 60_000), []);
    assert.equal(clock.nextDue(60_000), 122_000);
    clock.observe("statefulset/db/web/2", undefined, 130_000);
    assert.equal(clock.since("statefulset/db/web/2"), 62_000, "not knowing changes nothing");
  });
  it("forgets owners no entry names, and counts the gone ones by kind", () => {
    const clock = new GoneClock();
    clock.observe("statefulset/db/web/0", true, 0);
    clock.observe("vm/vms/a", true, 0);
    clock.observe("vm/vms/b", true, 0);
    assert.deepEqual(clock.counts(), { statefulset: 1, vm: 2 });
    clock.retain(new Set(["vm/vms/a"]));
    assert.deepEqual(clock.counts(), { statefulset: 0, vm: 1 });
    assert.equal(clock.nextDue(10), 10);
  });
});

const POOL = "blue-10.1.0.0-24";
const RANGE = "10.1.0.0/24";

function pod(ref: string): PodState {
  const [namespace = "", name = ""] = ref.split("/");
  return { ref, namespace, name, uid: `uid-${ref}`, resourceVersion: "1", gone: undefined };
}

function reader(
  alive: readonly string[],
  onGet?: (ref: string) => Promise<void>,
): PodReader & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    async get(namespace, name) {
      const ref = `${namespace}/${name}`;
      reads.push(ref);
      await onGet?.(ref);
      return alive.includes(ref) ? pod(ref) : undefined;
    },
  };
}

const entry = (podRef: string, extra: Partial<Allocation> = {}): Allocation => ({
  containerId: `c-${podRef}`,
  podRef,
  ifName: "net1",
  ...extra,
});

async function put(store: Store, key: string, a: Allocation): Promise<void> {
  const name = `blue-10.1.0.${key}`;
  assert.deepEqual(
    await store.commit(poolChange(POOL, RANGE, { create: [[key, a]], reserve: [{ name, ...a }] })),
    {
      ok: true,
    },
  );
}

async function held(store: Store): Promise<Record<string, string>> {
  const snapshot = await store.getPool(POOL);
  return Object.fromEntries([...snapshot.allocations].map(([k, a]) => [k, a.podRef]));
}

async function reservations(store: Store): Promise<string[]> {
  return (await store.listReservations()).map((r) => r.name).sort();
}

describe("the GC and sticky entries", () => {
  it("never frees a sticky entry (held or parked) or its reservation for its pod being gone; a Go-written entry of a gone pod goes as before", async () => {
    await withTempLocalStore(async (store) => {
      await put(store, "1", entry("db/web-0", { owner: "statefulset/db/web/0" }));
      await put(
        store,
        "2",
        entry("db/web-1", { owner: "statefulset/db/web/1", parkedAt: 1_700_000_000_000 }),
      );
      await put(store, "3", entry("vms/virt-launcher-a-xyz", { owner: "vm/vms/a" }));
      await put(store, "4", entry("default/plain"));
      const pods = reader([]);
      const result = await reclaim(store, pods);
      assert.equal(result.addresses, 1);
      assert.deepEqual(await held(store), {
        "1": "db/web-0",
        "2": "db/web-1",
        "3": "vms/virt-launcher-a-xyz",
      });
      assert.deepEqual(await reservations(store), ["blue-10.1.0.1", "blue-10.1.0.2", "blue-10.1.0.3"]);
      assert.deepEqual(pods.reads, ["default/plain"], "the pods of sticky entries are not even read");
      const counts = stickyCounts([await store.getPool(POOL)]);
      assert.deepEqual(Object.fromEntries(counts), {
        "held/statefulset": 1,
        "parked/statefulset": 1,
        "held/vm": 1,
      });
    });
  });
});

describe("releaseSticky", () => {
  const goneOwners = (gone: readonly string[], reads: string[] = []) => ({
    async gone(owner: StickyOwner) {
      const text =
        owner.kind === "vm"
          ? `vm/${owner.namespace}/${owner.name}`
          : `statefulset/${owner.namespace}/${owner.name}/${owner.ordinal}`;
      reads.push(text);
      return gone.includes(text);
    },
  });

  it("frees the due owners' entries with their reservations, and nothing else", async () => {
    await withTempLocalStore(async (store) => {
      await put(store, "1", entry("db/web-2", { owner: "statefulset/db/web/2", parkedAt: 1 }));
      await put(store, "2", entry("db/web-1", { owner: "statefulset/db/web/1", parkedAt: 1 }));
      await put(store, "3", entry("vms/virt-launcher-a-1", { owner: "vm/vms/a", parkedAt: 1 }));
      await put(store, "4", entry("default/plain"));
      const released: StickyRelease[] = [];
      const result = await releaseSticky(
        store,
        reader([]),
        goneOwners(["statefulset/db/web/2", "vm/vms/a"]),
        new Set(["statefulset/db/web/2", "vm/vms/a"]),
        { released: (r) => released.push(r) },
      );
      assert.deepEqual(result, { addresses: 2, reservations: 2, errors: 0 });
      assert.deepEqual(await held(store), { "2": "db/web-1", "4": "default/plain" });
      assert.deepEqual(await reservations(store), ["blue-10.1.0.2", "blue-10.1.0.4"]);
      assert.deepEqual(
        released.map((r) => `${r.owner} ${r.addresses.join(",")} ${r.reservations.join(",")}`).sort(),
        ["statefulset/db/web/2 10.1.0.1 blue-10.1.0.1", "vm/vms/a 10.1.0.3 blue-10.1.0.3"],
      );
    });
  });

  it("keeps an entry whose owner is back on the live read, or whose holder pod is alive", async () => {
    await withTempLocalStore(async (store) => {
      await put(store, "1", entry("db/web-2", { owner: "statefulset/db/web/2", parkedAt: 1 }));
      await put(store, "2", entry("vms/virt-launcher-a-1", { owner: "vm/vms/a" }));
      const kept: string[] = [];
      const result = await releaseSticky(
        store,
        reader(["vms/virt-launcher-a-1"]),
        goneOwners(["vm/vms/a"]),
        new Set(["statefulset/db/web/2", "vm/vms/a"]),
        { kept: (owner, why) => kept.push(`${owner}: ${why}`) },
      );
      assert.equal(result.addresses, 0);
      assert.deepEqual(await held(store), { "1": "db/web-2", "2": "vms/virt-launcher-a-1" });
      assert.deepEqual(kept.sort(), [
        "statefulset/db/web/2: the owner exists again",
        "vm/vms/a: its pod vms/virt-launcher-a-1 is alive",
      ]);
    });
  });

  it("keeps an entry a new pod of the slot took over after it was read (the release's precondition fails)", async () => {
    await withTempLocalStore(async (store) => {
      const parked = entry("db/web-2", { owner: "statefulset/db/web/2", parkedAt: 1 });
      await put(store, "1", parked);
      const successor = entry("db/web-2", { containerId: "c-new", owner: "statefulset/db/web/2" });
      const pods = reader([], async () => {
        const result = await store.commit(
          poolChange(POOL, RANGE, {
            update: [{ key: "1", from: parked, to: successor }],
            reserve: [
              {
                name: "blue-10.1.0.1",
                ...successor,
                replaces: { containerId: "c-db/web-2", podRef: "db/web-2", ifName: "net1" },
              },
            ],
          }),
        );
        assert.deepEqual(result, { ok: true });
      });
      const result = await releaseSticky(
        store,
        pods,
        goneOwners(["statefulset/db/web/2"]),
        new Set(["statefulset/db/web/2"]),
      );
      assert.equal(result.addresses, 0);
      const snapshot = await store.getPool(POOL);
      assert.equal(snapshot.allocations.get("1")?.containerId, "c-new");
      assert.deepEqual(await reservations(store), ["blue-10.1.0.1"]);
    });
  });
});
