// Restarts and races: a pod deleted while no controller ran is freed after a restart (within 60 s,
// the Lease of the killed process included), and a StatefulSet pod recreated under the same name
// while a sweep is releasing its predecessor's entry keeps its address.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ApiDouble } from "../k8s-api/harness.ts";
import {
  createPod,
  createPool,
  deletePod,
  leaseHolder,
  poolEntries,
  rewriteEntry,
  startApi,
  startController,
  waitFor,
} from "./support.ts";

describe("controller restarts", () => {
  let api: ApiDouble;
  before(async () => {
    api = await startApi();
  });
  after(async () => {
    await api?.stop();
  });

  it("frees a pod deleted while the controller was stopped (killed, lease still held) within 60 s of restart", async () => {
    await createPod(api, "default", "a");
    await createPod(api, "default", "b");
    await createPool(api, "10.30.0.0-24", "10.30.0.0/24", {
      "1": { id: "c-a", podref: "default/a", ifname: "net1" },
      "2": { id: "c-b", podref: "default/b", ifname: "net1" },
    });
    const first = await startController(api);
    await first.waitForLog((l) => l.msg === "reconciled" && l["trigger"] === "startup");
    const firstHolder = await leaseHolder(api);
    await first.kill("SIGKILL"); // no chance to release the Lease
    await deletePod(api, "default", "a");
    const restarted = Date.now();
    const second = await startController(api);
    try {
      const { ms } = await waitFor(
        "a's entry to go",
        async () => !(await poolEntries(api, "10.30.0.0-24"))["1"],
        60_000,
        250,
      );
      assert.ok(Date.now() - restarted < 60_000, `freed ${ms} ms after the restart`);
      assert.ok((await poolEntries(api, "10.30.0.0-24"))["2"], "the live pod keeps its entry");
      const holder = await leaseHolder(api);
      assert.notEqual(holder, firstHolder, "the new process holds the Lease");
      const freed = second.logs.find((l) => l.msg === "released" && l["podRef"] === "default/a");
      assert.equal(freed?.["trigger"], "startup");
    } finally {
      await second.kill();
    }
    assert.equal(await leaseHolder(api), "", "a clean stop gives the Lease up");
  });

  it("keeps the address of a StatefulSet pod recreated with the same name during a sweep", async () => {
    // web-0 was deleted while no controller ran; its entry is left. The startup sweep reads the
    // pool, finds web-0 gone, and releases: the PATCH is held 3 s, and meanwhile web-0 is recreated
    // and its ADD reuses the entry (same podref and interface: the container id is rewritten).
    // web-1's successor already exists when the sweep checks: kept without a race.
    await createPool(api, "10.31.0.0-24", "10.31.0.0/24", {
      "7": { id: "c-old", podref: "default/web-0", ifname: "net1" },
      "8": { id: "c-old-1", podref: "default/web-1", ifname: "net1" },
    });
    await createPod(api, "default", "web-1");
    await api.resetRequests();
    await api.setFaults([
      { kind: "delay", verb: "patch", resource: "ippools", name: "10.31.0.0-24", holdMs: 3_000, times: 1 },
    ]);
    const controller = await startController(api);
    try {
      // The release's own read of the pool, after web-0's: from then on the release is decided on
      // the old entry and its PATCH is held, so web-0 comes back while it waits (recreated any
      // sooner, the release would read the new entry and never send the PATCH this test is about).
      await waitFor(
        "the sweep's read of web-0 (not found), then the release's read of the pool",
        async () => {
          const log = (await api.requests()).log;
          const gone = log.findIndex(
            (r) => r.verb === "get" && r.resource === "pods" && r.name === "web-0" && r.code === 404,
          );
          return (
            gone >= 0 &&
            log
              .slice(gone + 1)
              .some((r) => r.verb === "get" && r.resource.startsWith("ippools") && r.name === "10.31.0.0-24")
          );
        },
        20_000,
        20,
      );
      await createPod(api, "default", "web-0");
      await rewriteEntry(api, "10.31.0.0-24", "7", { id: "c-new", podref: "default/web-0", ifname: "net1" });
      await controller.waitForLog((l) => l.msg === "reconciled" && l["trigger"] === "startup", 20_000);
      const entries = await poolEntries(api, "10.31.0.0-24");
      assert.deepEqual(entries["7"], { id: "c-new", podref: "default/web-0", ifname: "net1" });
      assert.deepEqual(entries["8"], { id: "c-old-1", podref: "default/web-1", ifname: "net1" });
      const held = (await api.requests()).log.filter((r) => r.verb === "patch" && r.name === "10.31.0.0-24");
      assert.ok(
        held.some((r) => r.code === 422),
        "the held release failed its test and was not applied",
      );
      assert.ok(
        !controller.logs.some((l) => l.msg === "released" && String(l["podRef"]).startsWith("default/web-")),
      );
    } finally {
      await api.clearFaults();
      await controller.kill();
    }
  });

  it("never releases an entry without a podref", async () => {
    await createPool(api, "10.32.0.0-24", "10.32.0.0/24", { "1": { id: "c-x", podref: "" } });
    const controller = await startController(api);
    try {
      await controller.waitForLog((l) => l.msg === "reconciled" && l["trigger"] === "startup");
      assert.ok((await poolEntries(api, "10.32.0.0-24"))["1"]);
    } finally {
      await controller.kill();
    }
  });
});
