// The reconcile core on the embedded store with a scripted pod reader: the reconciler scenarios
// of Whereabouts' own reconciler tests adapted to the fixed semantics (README, Differences item 15), plus the
// races that the identity guard exists for.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Allocation, Reservation } from "../pool/allocation.ts";
import { withTempLocalStore } from "../store/local/test-support.ts";
import { poolChange, type Store } from "../store/store.ts";
import type { GoneReason, PodState } from "./liveness.ts";
import { type PodReader, type Release, reclaim } from "./reconcile.ts";

function pod(ref: string, uid = `uid-${ref}`, gone?: GoneReason): PodState {
  const [namespace = "", name = ""] = ref.split("/");
  return { ref, namespace, name, uid, resourceVersion: "1", gone };
}

/** Pods by ref; a missing ref reads as not found. `onGet` runs before answering (to race). */
function reader(
  pods: readonly PodState[],
  onGet?: (ref: string) => Promise<void>,
): PodReader & { reads: string[] } {
  const byRef = new Map(pods.map((p) => [p.ref, p]));
  const reads: string[] = [];
  return {
    reads,
    async get(namespace, name) {
      const ref = `${namespace}/${name}`;
      reads.push(ref);
      await onGet?.(ref);
      return byRef.get(ref);
    },
  };
}

const alloc = (podRef: string, containerId = `c-${podRef}`, ifName = "net1"): Allocation => ({
  containerId,
  podRef,
  ifName,
});

async function put(
  store: Store,
  pool: string,
  range: string,
  key: string,
  a: Allocation,
  reservation?: string,
): Promise<void> {
  const result = await store.commit(
    poolChange(pool, range, {
      create: [[key, a]],
      reserve: reservation === undefined ? [] : [{ name: reservation, ...a }],
    }),
  );
  assert.deepEqual(result, { ok: true });
}

async function entries(store: Store, pool: string): Promise<Record<string, string>> {
  const snapshot = await store.getPool(pool);
  return Object.fromEntries([...snapshot.allocations].map(([k, a]) => [k, `${a.podRef} ${a.containerId}`]));
}

async function reservationNames(store: Store): Promise<string[]> {
  return (await store.listReservations()).map((r: Reservation) => r.name).sort();
}

describe("reclaim (A.5 reconciler scenarios, fixed semantics)", () => {
  it("R1: frees the entry of a deleted pod (offset from the IP written in spec.range)", async () => {
    await withTempLocalStore(async (store) => {
      await put(store, "10.10.0.0-16", "10.10.10.0/16", "1", alloc("default/pod1"));
      const released: Release[] = [];
      const result = await reclaim(store, reader([]), {}, { released: (r) => released.push(r) });
      assert.equal(result.addresses, 1);
      assert.deepEqual(released[0]?.addresses, ["10.10.10.1"]);
      assert.equal(released[0]?.why, "not found");
      assert.deepEqual(await entries(store, "10.10.0.0-16"), {});
    });
  });

  it("R2: frees only the deleted pod's entry; a live pod keeps its own without any network-status", async () => {
    await withTempLocalStore(async (store) => {
      await put(store, "10.10.0.0-16", "10.10.0.0/16", "1", alloc("default/pod1"));
      await put(store, "10.10.0.0-16", "10.10.0.0/16", "2", alloc("default/pod2"));
      await reclaim(store, reader([pod("default/pod2")]));
      assert.deepEqual(await entries(store, "10.10.0.0-16"), { "2": "default/pod2 c-default/pod2" });
    });
  });

  it("R3 (fixed): a live pod keeps every entry it holds, listed in its network-status or not", async () => {
    await withTempLocalStore(async (store) => {
      await put(store, "10.10.0.0-16", "10.10.0.0/16", "1", alloc("default/pod1", "c1", "net1"));
      await put(store, "10.10.0.0-16", "10.10.0.0/16", "2", alloc("default/pod1", "c1", "net2"));
      const result = await reclaim(store, reader([pod("default/pod1")]));
      assert.equal(result.addresses, 0);
      assert.equal(Object.keys(await entries(store, "10.10.0.0-16")).length, 2);
    });
  });

  it("R4: drops the deleted pod's reservation with its entry; the live pods' stay", async () => {
    await withTempLocalStore(async (store) => {
      for (const i of [1, 2, 3])
        await put(
          store,
          "10.10.10.0-24",
          "10.10.10.0/24",
          String(i),
          alloc(`default/pod${i}`),
          `10.10.10.${i}`,
        );
      const result = await reclaim(store, reader([pod("default/pod2"), pod("default/pod3")]));
      assert.deepEqual([result.addresses, result.reservations], [1, 1]);
      assert.deepEqual(await reservationNames(store), ["10.10.10.2", "10.10.10.3"]);
    });
  });

  it("R5 (fixed): reservations of named networks and IPv6 names are matched by podref, not by name", async () => {
    await withTempLocalStore(async (store) => {
      await put(store, "net-10.0.0.0-24", "10.0.0.0/24", "1", alloc("default/live"), "net-10.0.0.1");
      await put(store, "net-10.0.0.0-24", "10.0.0.0/24", "2", alloc("default/dead"), "net-10.0.0.2");
      await put(store, "2001-db8---64", "2001:db8::/64", "1", alloc("default/live6"), "2001-db8--1");
      await put(store, "net-2001-db8---64", "2001:db8::/64", "0", alloc("default/dead6"), "net-2001-db8--0");
      const result = await reclaim(store, reader([pod("default/live"), pod("default/live6")]));
      assert.deepEqual([result.addresses, result.reservations], [2, 2]);
      assert.deepEqual(await reservationNames(store), ["2001-db8--1", "net-10.0.0.1"]);
      assert.deepEqual(await entries(store, "net-2001-db8---64"), {});
    });
  });

  it("R6 (fixed): a Pending pod without network-status keeps its address", async () => {
    await withTempLocalStore(async (store) => {
      await put(store, "10.10.0.0-16", "10.10.0.0/16", "1", alloc("default/pending"));
      assert.equal((await reclaim(store, reader([pod("default/pending")]))).addresses, 0);
      assert.equal(Object.keys(await entries(store, "10.10.0.0-16")).length, 1);
    });
  });

  it("R7: of pods pod2 and pod3 only the gone one is freed; entries without a podref are never touched", async () => {
    await withTempLocalStore(async (store) => {
      await put(store, "192.168.14.0-24", "192.168.14.0/24", "2", alloc("default/pod2"));
      await put(store, "192.168.14.0-24", "192.168.14.0/24", "3", alloc("default/pod3"));
      await put(store, "192.168.14.0-24", "192.168.14.0/24", "4", {
        containerId: "c",
        podRef: "",
        ifName: "",
      });
      const pods = reader([pod("default/pod3")]);
      await reclaim(store, pods);
      assert.deepEqual(Object.keys(await entries(store, "192.168.14.0-24")).sort(), ["3", "4"]);
      assert.deepEqual(pods.reads.sort(), ["default/pod2", "default/pod3"]);
    });
  });

  it("frees pods in a terminal phase or evicted by the taint manager", async () => {
    await withTempLocalStore(async (store) => {
      for (const [i, name] of ["ok", "done", "failed", "evicted"].entries())
        await put(store, "10.0.0.0-24", "10.0.0.0/24", String(i + 1), alloc(`default/${name}`));
      const pods = [
        pod("default/ok"),
        pod("default/done", "u1", "phase Succeeded"),
        pod("default/failed", "u2", "phase Failed"),
        pod("default/evicted", "u3", "evicted by the taint manager"),
      ];
      const released: Release[] = [];
      await reclaim(store, reader(pods), {}, { released: (r) => released.push(r) });
      assert.deepEqual(Object.keys(await entries(store, "10.0.0.0-24")), ["1"]);
      assert.deepEqual(released.map((r) => `${r.podRef} ${r.uid} ${r.why}`).sort(), [
        "default/done u1 phase Succeeded",
        "default/evicted u3 evicted by the taint manager",
        "default/failed u2 phase Failed",
      ]);
    });
  });

  it("keeps the entry of a StatefulSet successor that exists under the same name", async () => {
    await withTempLocalStore(async (store) => {
      await put(store, "10.0.0.0-24", "10.0.0.0/24", "5", alloc("default/web-0", "old"));
      const kept: string[] = [];
      await reclaim(
        store,
        reader([pod("default/web-0", "new-uid")]),
        {},
        { kept: (ref, p) => kept.push(`${ref} ${p.uid}`) },
      );
      assert.deepEqual(await entries(store, "10.0.0.0-24"), { "5": "default/web-0 old" });
      assert.deepEqual(kept, ["default/web-0 new-uid"]);
    });
  });

  it("keeps an entry a successor's ADD rewrote after the pools were read (identity guard)", async () => {
    await withTempLocalStore(async (store) => {
      const before = alloc("default/web-0", "old");
      await put(store, "10.0.0.0-24", "10.0.0.0/24", "5", before, "10.0.0.5");
      // The old pod is gone when read; meanwhile the successor's ADD reuses the entry (idempotency).
      const pods = reader([], async () => {
        const after = alloc("default/web-0", "new");
        const change = poolChange("10.0.0.0-24", "10.0.0.0/24", {
          update: [{ key: "5", from: before, to: after }],
          reserve: [{ name: "10.0.0.5", ...after }],
        });
        assert.deepEqual(await store.commit(change), { ok: true });
      });
      const result = await reclaim(store, pods);
      assert.equal(result.addresses, 0);
      assert.deepEqual(await entries(store, "10.0.0.0-24"), { "5": "default/web-0 new" });
      assert.deepEqual(await reservationNames(store), ["10.0.0.5"]);
    });
  });

  it("frees a named network's node-slice entries with their reservations", async () => {
    await withTempLocalStore(async (store) => {
      await put(store, "blue-node-1-10.0.0.0-26", "10.0.0.0/26", "5", alloc("ns/a"), "blue-10.0.0.5");
      await put(store, "blue-node-1-10.0.0.0-26", "10.0.0.0/26", "6", alloc("ns/b"), "blue-10.0.0.6");
      const released: Release[] = [];
      await reclaim(store, reader([pod("ns/b")]), {}, { released: (r) => released.push(r) });
      assert.deepEqual(await reservationNames(store), ["blue-10.0.0.6"]);
      assert.deepEqual(
        released.map((r) => [r.pool, r.networkName, r.addresses, r.reservations]),
        [["blue-node-1-10.0.0.0-26", "blue", ["10.0.0.5"], ["blue-10.0.0.5"]]],
      );
    });
  });

  it("drops a gone pod's reservation that has no pool entry; a live pod's stays", async () => {
    await withTempLocalStore(async (store) => {
      await put(store, "10.0.0.0-24", "10.0.0.0/24", "9", alloc("ns/live"));
      for (const [name, owner] of [
        ["10.0.0.7", "ns/gone"],
        ["blue-10.0.0.8", "ns/live"],
      ] as const) {
        const r = { name, ...alloc(owner) };
        assert.deepEqual(await store.commit(poolChange("10.0.0.0-24", "10.0.0.0/24", { reserve: [r] })), {
          ok: true,
        });
      }
      const result = await reclaim(store, reader([pod("ns/live")]));
      assert.deepEqual([result.addresses, result.reservations], [0, 1]);
      assert.deepEqual(await reservationNames(store), ["blue-10.0.0.8"]);
    });
  });

  it("drops a gone pod's reservation when no pool is left at all", async () => {
    await withTempLocalStore(async (store) => {
      // Pools deleted by hand: the reservations are all that is left.
      for (const [name, owner] of [
        ["10.0.0.7", "ns/gone"],
        ["10.0.0.8", "ns/live"],
      ] as const) {
        const r = { name, ...alloc(owner) };
        assert.deepEqual(await store.commit(poolChange("10.0.0.0-24", "10.0.0.0/24", { reserve: [r] })), {
          ok: true,
        });
      }
      assert.deepEqual(await store.listPools(), []);
      const released: Release[] = [];
      const result = await reclaim(
        store,
        reader([pod("ns/live")]),
        {},
        { released: (r) => released.push(r) },
      );
      assert.deepEqual([result.addresses, result.reservations, result.errors], [0, 1, 0]);
      assert.deepEqual(await reservationNames(store), ["10.0.0.8"]);
      assert.deepEqual(
        released.map((r) => [r.podRef, r.reservations]),
        [["ns/gone", ["10.0.0.7"]]],
      );
    });
  });

  it("keeps a reservation a successor took again after the reservations were read", async () => {
    await withTempLocalStore(async (store) => {
      const old = { name: "10.0.0.7", ...alloc("default/web-0", "old") };
      assert.deepEqual(await store.commit(poolChange("10.0.0.0-24", "10.0.0.0/24", { reserve: [old] })), {
        ok: true,
      });
      // The old pod is gone when read; meanwhile its successor (same name and interface, new
      // container) holds the reservation again.
      const successor = { ...old, containerId: "new" };
      const pods = reader([], async () => {
        assert.deepEqual(await store.dropReservations([old]), [old]);
        assert.deepEqual(
          await store.commit(poolChange("10.0.0.0-24", "10.0.0.0/24", { reserve: [successor] })),
          { ok: true },
        );
      });
      const result = await reclaim(store, pods);
      assert.equal(result.reservations, 0);
      assert.deepEqual(await store.listReservations(), [successor]);
    });
  });

  it("limits the fast path to the pods named, and skips pods a cache vouches for", async () => {
    await withTempLocalStore(async (store) => {
      for (const [i, name] of ["a", "b", "c"].entries())
        await put(store, "10.0.0.0-24", "10.0.0.0/24", String(i + 1), alloc(`ns/${name}`));
      const pods = reader([]);
      await reclaim(store, pods, { refs: new Set(["ns/a", "ns/b"]), alive: (ref) => ref === "ns/b" });
      assert.deepEqual(pods.reads, ["ns/a"]);
      assert.deepEqual(Object.keys(await entries(store, "10.0.0.0-24")).sort(), ["2", "3"]);
    });
  });

  it("counts a failed pod read and leaves that pod's entries alone", async () => {
    await withTempLocalStore(async (store) => {
      await put(store, "10.0.0.0-24", "10.0.0.0/24", "1", alloc("ns/a"));
      await put(store, "10.0.0.0-24", "10.0.0.0/24", "2", alloc("ns/b"));
      const failures: string[] = [];
      const result = await reclaim(
        store,
        reader([], async (ref) => {
          if (ref === "ns/a") throw new Error("apiserver unavailable");
        }),
        {},
        { failed: (what) => failures.push(what) },
      );
      assert.equal(result.errors, 1);
      assert.deepEqual(failures, ["read pod ns/a"]);
      assert.deepEqual(Object.keys(await entries(store, "10.0.0.0-24")), ["1"]);
    });
  });

  it("says since when each released pod was gone: its object's time, else when the controller first saw it gone, else not known", async () => {
    await withTempLocalStore(async (store) => {
      const finishedAt = Date.parse("2026-03-01T10:05:00Z");
      const seen = Date.parse("2026-03-01T12:00:00Z");
      await put(store, "10.0.0.0-24", "10.0.0.0/24", "1", alloc("ns/job"));
      await put(store, "10.0.0.0-24", "10.0.0.0/24", "2", alloc("ns/deleted"));
      await put(store, "10.0.0.0-24", "10.0.0.0/24", "3", alloc("ns/found-by-sweep"));
      await put(store, "10.0.0.0-24", "10.0.0.0/24", "4", alloc("ns/was-done"));
      const job = { ...pod("ns/job", "u-job", "phase Succeeded"), goneAt: finishedAt };
      const lastSeen = { ...pod("ns/was-done", "u-done", "phase Failed"), goneAt: finishedAt + 1 };
      const released: Release[] = [];
      await reclaim(
        store,
        reader([job]),
        {
          lastSeen: (ref) => (ref === "ns/was-done" ? lastSeen : undefined),
          seenGone: (ref) => (ref === "ns/found-by-sweep" ? undefined : seen),
        },
        { released: (r) => released.push(r) },
      );
      assert.deepEqual(Object.fromEntries(released.map((r) => [r.podRef, r.goneSince])), {
        "ns/job": finishedAt,
        "ns/deleted": seen,
        "ns/found-by-sweep": undefined,
        "ns/was-done": finishedAt + 1,
      });
    });
  });
});
