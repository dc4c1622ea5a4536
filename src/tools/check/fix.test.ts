// check --fix on the embedded store with a scripted pod reader: what it repairs, the identity guard,
// and a store that checks clean afterwards.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GoneReason, PodState } from "../../controller/liveness.ts";
import type { PodReader } from "../../controller/reconcile.ts";
import type { Allocation } from "../../pool/allocation.ts";
import { withTempLocalStore } from "../../store/local/test-support.ts";
import { poolChange, type Store } from "../../store/store.ts";
import { checkStore, type PodReading } from "./check.ts";
import { fixFindings } from "./fix.ts";

const a = (podRef: string, containerId = `c-${podRef}`): Allocation => ({
  containerId,
  podRef,
  ifName: "net1",
});

function pod(ref: string, uid: string, gone?: GoneReason): PodState {
  const [namespace = "", name = ""] = ref.split("/");
  return { ref, namespace, name, uid, resourceVersion: "1", gone };
}

/** A pod reader over a mutable table; `onGet` runs before each answer (to race). */
function reader(pods: Map<string, PodState>, onGet?: (ref: string) => void): PodReader {
  return {
    async get(namespace, name) {
      const ref = `${namespace}/${name}`;
      onGet?.(ref);
      return pods.get(ref);
    },
  };
}

async function put(store: Store, key: string, owner: Allocation, reserved = true): Promise<void> {
  const reservation = { name: `net-10.9.0.${key}`, ...owner };
  const result = await store.commit(
    poolChange("net-10.9.0.0-24", "10.9.0.0/24", {
      create: [[key, owner]],
      reserve: reserved ? [reservation] : [],
    }),
  );
  assert.deepEqual(result, { ok: true });
}

async function findingsOf(store: Store, pods: Map<string, PodState>) {
  const pools = await store.listPools();
  const reservations = await store.listReservations();
  const refs = new Set([
    ...pools.flatMap((p) => [...p.allocations.values()].map((x) => x.podRef)),
    ...reservations.map((r) => r.podRef),
  ]);
  const readings = new Map<string, PodReading>();
  for (const ref of refs) {
    const p = pods.get(ref);
    readings.set(
      ref,
      p === undefined
        ? { kind: "not found" }
        : { kind: "found", pod: { ...p, node: "n1", phase: "", created: "", networkStatus: "absent" } },
    );
  }
  return checkStore({ pools, reservations, pods: readings });
}

describe("fixFindings", () => {
  it("frees gone pods' entries and reservations, creates missing reservations, and leaves a clean store", async () => {
    await withTempLocalStore(async (store) => {
      await put(store, "5", a("ns/live"));
      await put(store, "6", a("ns/deleted"));
      await put(store, "7", a("ns/failed"));
      await put(store, "8", a("ns/unreserved"), false);
      const leftover = await store.commit(
        poolChange("net-10.9.0.0-24", "10.9.0.0/24", {
          reserve: [{ name: "net-10.9.0.9", ...a("ns/deleted") }],
        }),
      );
      assert.deepEqual(leftover, { ok: true });
      const pods = new Map([
        ["ns/live", pod("ns/live", "u1")],
        ["ns/failed", pod("ns/failed", "u2", "phase Failed")],
        ["ns/unreserved", pod("ns/unreserved", "u3")],
      ]);
      const findings = await findingsOf(store, pods);
      assert.deepEqual(
        findings.map((f) => `${f.kind} ${f.address || f.reservation}`),
        [
          "pod-gone 10.9.0.6",
          "pod-gone 10.9.0.7",
          "orphan-reservation net-10.9.0.9",
          "missing-reservation 10.9.0.8",
        ],
      );
      const report = await fixFindings(store, reader(pods), findings);
      assert.deepEqual(report.notDone, []);
      assert.deepEqual([...report.done].sort(), [
        "created reservation net-10.9.0.8 for 10.9.0.8 (pool net-10.9.0.0-24, ns/unreserved (net1))",
        "freed 10.9.0.6 from pool net-10.9.0.0-24 and reservation net-10.9.0.6 of ns/deleted (pod not found)",
        "freed 10.9.0.7 from pool net-10.9.0.0-24 and reservation net-10.9.0.7 of ns/failed (pod phase Failed)",
        "freed reservation net-10.9.0.9 of ns/deleted (pod not found)",
      ]);
      assert.deepEqual(await findingsOf(store, pods), [], "the store checks clean afterwards");
      assert.deepEqual([...(await store.getPool("net-10.9.0.0-24")).allocations.keys()].sort(), ["5", "8"]);
    });
  });

  it("keeps what a pod holds when it was re-created under the same name since the check", async () => {
    await withTempLocalStore(async (store) => {
      await put(store, "5", a("ns/web-0"));
      await put(store, "6", a("ns/web-1"));
      const pods = new Map([["ns/web-1", pod("ns/web-1", "old", "phase Failed")]]);
      const findings = await findingsOf(store, pods);
      assert.deepEqual(
        findings.map((f) => f.kind),
        ["pod-gone", "pod-gone"],
      );
      // Between the check and the fix both come back: web-0 (judged not found) as a new pod, web-1
      // with a new uid and, like its predecessor, Failed.
      pods.set("ns/web-0", pod("ns/web-0", "new-0"));
      pods.set("ns/web-1", pod("ns/web-1", "new-1", "phase Failed"));
      const report = await fixFindings(store, reader(pods), findings);
      assert.deepEqual(report.done, []);
      assert.deepEqual([...report.notDone].sort(), [
        "kept what ns/web-0 holds: the pod was re-created since the check (uid new-0)",
        "kept what ns/web-1 holds: the pod was re-created since the check (uid new-1)",
      ]);
      assert.equal((await store.getPool("net-10.9.0.0-24")).allocations.size, 2);
      assert.equal((await store.listReservations()).length, 2);
    });
  });

  it("creates no reservation for an entry that changed since the check, nor one held by another", async () => {
    await withTempLocalStore(async (store) => {
      await put(store, "5", a("ns/p1"), false);
      await put(store, "6", a("ns/p2"), false);
      await put(store, "7", a("ns/p3"));
      const pods = new Map([
        ["ns/p1", pod("ns/p1", "u1")],
        ["ns/p2", pod("ns/p2", "u2")],
        ["ns/p3", pod("ns/p3", "u3")],
      ]);
      const findings = await findingsOf(store, pods);
      assert.deepEqual(
        findings.map((f) => `${f.kind} ${f.address}`),
        ["missing-reservation 10.9.0.5", "missing-reservation 10.9.0.6"],
      );
      // p1 restarted (new container id) and another attachment took p2's reservation name.
      const rewritten = await store.commit(
        poolChange("net-10.9.0.0-24", "10.9.0.0/24", {
          update: [{ key: "5", from: a("ns/p1"), to: a("ns/p1", "c-new") }],
          reserve: [{ name: "net-10.9.0.6", ...a("ns/other") }],
        }),
      );
      assert.deepEqual(rewritten, { ok: true });
      const report = await fixFindings(store, undefined, findings);
      assert.deepEqual(report.done, []);
      assert.deepEqual(report.notDone, [
        "did not create reservation net-10.9.0.5 for 10.9.0.5 (pool net-10.9.0.0-24, ns/p1 (net1)): the entry changed since the check",
        "did not create reservation net-10.9.0.6 for 10.9.0.6 (pool net-10.9.0.0-24, ns/p2 (net1)): it is held by ns/other (net1)",
      ]);
      assert.equal(await store.getReservation("net-10.9.0.5"), undefined);
    });
  });
});
