// The controller's fast path and startup resync against the API double: one controller, many pods.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ApiDouble } from "../k8s-api/harness.ts";
import {
  addEntry,
  type Controller,
  createPod,
  createPool,
  createReservation,
  deletePod,
  events,
  poolEntries,
  reservationNames,
  setPodStatus,
  startApi,
  startController,
  waitFor,
} from "./support.ts";

const POOL = "10.10.0.0-24";
const SLICE = "blue-node-1-10.20.0.0-26";
const FAST_MS = 15_000;

describe("controller fast path", () => {
  let api: ApiDouble;
  let controller: Controller;

  before(async () => {
    api = await startApi({ tls: true, token: "fast-path-token" }); // the controller's TLS and token paths
    // Before the controller starts: live pods (one without any annotation, one Pending), and an
    // entry whose pod no longer exists (leaked while no controller ran).
    await createPod(api, "default", "plain");
    await createPod(api, "default", "pending", { phase: "Pending" });
    await createPod(api, "default", "annotated", {
      annotations: {
        "k8s.v1.cni.cncf.io/network-status": JSON.stringify([{ name: "default/net", ips: ["10.10.0.99"] }]),
      },
    });
    const entry = (n: number, pod: string) => [
      String(n),
      { id: `c-${pod}`, podref: `default/${pod}`, ifname: "net1" },
    ];
    await createPool(
      api,
      POOL,
      "10.10.0.0/24",
      Object.fromEntries([
        entry(1, "plain"),
        entry(2, "pending"),
        entry(3, "annotated"),
        entry(4, "leaked"),
        entry(5, "forced"),
        entry(6, "succeeded"),
        entry(7, "failed"),
        entry(8, "evicted"),
        entry(9, "graceful"),
      ]),
    );
    for (const name of ["forced", "succeeded", "failed", "evicted", "graceful"])
      await createPod(api, "default", name);
    await createReservation(api, "10.10.0.4", "default/leaked", "c-leaked");
    await createReservation(api, "10.10.0.5", "default/forced", "c-forced");
    await createReservation(api, "10.10.0.1", "default/plain", "c-plain");
    controller = await startController(api);
    await controller.waitForLog(
      (l) => l.msg === "reconciled" && l["trigger"] === "startup",
      20_000,
      "startup resync",
    );
  });

  after(async () => {
    await controller?.kill();
    await api?.stop();
  });

  it("resyncs at startup: frees what leaked while it was down, keeps live pods (no network-status needed)", async () => {
    const entries = await poolEntries(api, POOL);
    assert.equal(entries["4"], undefined, "the leaked entry is freed");
    for (const key of ["1", "2", "3", "5", "6", "7", "8", "9"])
      assert.ok(entries[key], `entry ${key} is kept`);
    const names = await reservationNames(api);
    assert.ok(!names.includes("10.10.0.4"), "the leaked reservation is dropped with its entry");
    assert.ok(names.includes("10.10.0.1") && names.includes("10.10.0.5"));
  });

  it("frees a force-deleted pod's address and reservation within 15 s, with an Event on the pod", async () => {
    await deletePod(api, "default", "forced");
    const { ms } = await waitFor(
      "the forced pod's entry to go",
      async () => !(await poolEntries(api, POOL))["5"],
      FAST_MS,
    );
    assert.ok(ms < FAST_MS);
    // The store drops a reservation after the pool write (never an entry without its reservation).
    await waitFor(
      "the reservation to go",
      async () => !(await reservationNames(api)).includes("10.10.0.5"),
      5_000,
    );
    const { value: event } = await waitFor(
      "the release event",
      async () => (await events(api, "default")).find((e) => e.involvedObject.name === "forced"),
      5_000,
    );
    assert.equal(event.reason, "IPAddressGarbageCollected");
    assert.equal(event.type, "Normal");
    assert.equal(event.involvedObject.kind, "Pod");
    assert.equal(event.source?.component, "thereabouts-controller");
    assert.match(event.message, /10\.10\.0\.5/);
    assert.match(event.message, new RegExp(POOL));
  });

  it("frees pods that reach phase Succeeded or Failed while their objects remain", async () => {
    await setPodStatus(api, "default", "succeeded", { phase: "Succeeded" });
    await setPodStatus(api, "default", "failed", { phase: "Failed" });
    await waitFor(
      "both entries to go",
      async () => {
        const e = await poolEntries(api, POOL);
        return !e["6"] && !e["7"];
      },
      FAST_MS,
    );
    await waitFor(
      "events naming the phases",
      async () => {
        const messages = (await events(api, "default")).map((e) => `${e.involvedObject.name}: ${e.message}`);
        return (
          messages.some((m) => m.startsWith("succeeded:") && m.includes("phase Succeeded")) &&
          messages.some((m) => m.startsWith("failed:") && m.includes("phase Failed"))
        );
      },
      5_000,
    );
  });

  it("frees a pod the taint manager is evicting (DisruptionTarget, DeletionByTaintManager)", async () => {
    await setPodStatus(api, "default", "evicted", {
      conditions: [
        {
          type: "DisruptionTarget",
          status: "True",
          reason: "DeletionByTaintManager",
          message: "Taint manager: deleting due to NoExecute taint",
        },
      ],
    });
    await waitFor("the evicted pod's entry to go", async () => !(await poolEntries(api, POOL))["8"], FAST_MS);
  });

  it("frees a gracefully deleted pod once it is gone, not while its containers stop", async () => {
    await deletePod(api, "default", "graceful", false);
    await waitFor(
      "the graceful pod's entry to go",
      async () => !(await poolEntries(api, POOL))["9"],
      FAST_MS,
    );
    // The log line follows the write the pool shows: wait for it too.
    const released = () =>
      controller.logs.find((l) => l.msg === "released" && l["podRef"] === "default/graceful");
    await waitFor("the release to be logged", async () => released() !== undefined, 5_000);
    assert.equal(released()?.["why"], "not found");
  });

  it("frees a named network's node-slice entries with their reservations, matched by podref", async () => {
    await createPod(api, "apps", "web");
    await createPod(api, "apps", "db");
    await createPool(api, SLICE, "10.20.0.0/26", {
      "5": { id: "c-web", podref: "apps/web", ifname: "net1" },
      "6": { id: "c-db", podref: "apps/db", ifname: "net1" },
    });
    await createReservation(api, "blue-10.20.0.5", "apps/web", "c-web");
    await createReservation(api, "blue-10.20.0.6", "apps/db", "c-db");
    await deletePod(api, "apps", "web");
    await waitFor("the slice entry to go", async () => !(await poolEntries(api, SLICE))["5"], FAST_MS);
    await waitFor(
      "its reservation to go",
      async () => !(await reservationNames(api)).includes("blue-10.20.0.5"),
      5_000,
    );
    assert.ok(
      (await reservationNames(api)).includes("blue-10.20.0.6"),
      "the live pod's named-network reservation stays",
    );
    const { value: event } = await waitFor(
      "the event",
      async () => (await events(api, "apps")).find((e) => e.involvedObject.name === "web"),
      5_000,
    );
    assert.match(event.message, /network blue/);
  });

  it("frees an entry written after its pod was already gone (an ADD that finished late)", async () => {
    await createPool(api, "10.11.0.0-24", "10.11.0.0/24", {});
    await addEntry(api, "10.11.0.0-24", "3", { id: "c-late", podref: "default/late", ifname: "net1" });
    await waitFor(
      "the late entry to go",
      async () => !(await poolEntries(api, "10.11.0.0-24"))["3"],
      FAST_MS,
    );
    assert.ok(
      controller.logs.some((l) => l.msg === "pod entry for a gone pod" && l["pod"] === "default/late"),
    );
  });

  it("ignores pods that nothing names (no reads, no runs)", async () => {
    const runs = controller.logs.filter((l) => l.msg === "reconciled").length;
    await createPod(api, "default", "unrelated");
    await deletePod(api, "default", "unrelated");
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(controller.logs.filter((l) => l.msg === "reconciled").length, runs);
    assert.ok(!controller.logs.some((l) => l["pod"] === "default/unrelated"));
  });

  it("keeps every live pod's entries through all of the above", async () => {
    const entries = await poolEntries(api, POOL);
    assert.deepEqual(Object.keys(entries).sort(), ["1", "2", "3"]);
    assert.deepEqual(await poolEntries(api, "10.11.0.0-24"), {});
  });

  it("serves /healthz, /readyz and Prometheus metrics", async () => {
    assert.equal((await controller.get("/healthz")).status, 200);
    const ready = await controller.get("/readyz");
    assert.equal(ready.status, 200);
    assert.match(ready.body, /^leader /);
    const metrics = (await controller.get("/metrics")).body;
    const value = (name: string) => {
      const line = metrics.split("\n").find((l) => l.startsWith(name));
      assert.ok(line, `${name} in\n${metrics}`);
      return Number(line.slice(line.lastIndexOf(" ") + 1));
    };
    assert.equal(value(`thereabouts_pool_size{pool="${POOL}",namespace="kube-system"}`), 254);
    assert.equal(value(`thereabouts_pool_used{pool="${POOL}",namespace="kube-system"}`), 3);
    assert.equal(value(`thereabouts_pool_free{pool="${POOL}",namespace="kube-system"}`), 251);
    assert.equal(value(`thereabouts_pool_size{pool="${SLICE}",namespace="kube-system"}`), 62);
    assert.equal(value('thereabouts_addresses_reclaimed_total{trigger="startup"}'), 1);
    assert.equal(value('thereabouts_addresses_reclaimed_total{trigger="fast"}'), 7);
    assert.ok(value('thereabouts_reconcile_runs_total{trigger="fast"}') >= 1);
    assert.equal(value('thereabouts_reconcile_errors_total{trigger="fast"}'), 0);
    assert.equal(value("thereabouts_leader"), 1);
    assert.equal((await controller.get("/nope")).status, 404);
  });
});
