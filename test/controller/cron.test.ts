// The reconciler's schedule: where the expression comes from, live changes (kubelet's `..data`
// symlink swap of a mounted ConfigMap), and invalid expressions (reported, never fatal).
import assert from "node:assert/strict";
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ApiDouble } from "../k8s-api/harness.ts";
import { tempDir } from "../support/plugin.ts";
import {
  type Controller,
  createPod,
  events,
  expectOk,
  NS,
  startApi,
  startController,
  waitFor,
} from "./support.ts";

const CONFIGMAP = `/api/v1/namespaces/${NS}/configmaps`;

function scheduleLogs(c: Controller) {
  return c.logs.filter((l) => l.msg === "reconciler schedule");
}

/** A directory laid out as kubelet mounts a ConfigMap volume, with one key `config`. */
function kubeletVolume(dir: string, value: string) {
  let version = 0;
  const publish = (text: string) => {
    const data = join(dir, `..2026_11_22_${version++}`);
    mkdirSync(data);
    writeFileSync(join(data, "config"), text);
    symlinkSync(data.slice(dir.length + 1), join(dir, "..data_tmp"));
    renameSync(join(dir, "..data_tmp"), join(dir, "..data")); // the atomic swap
  };
  publish(value);
  symlinkSync("..data/config", join(dir, "config"));
  return publish;
}

describe("controller cron schedule", () => {
  let api: ApiDouble;
  const dir = tempDir("thereabouts-cron-");
  before(async () => {
    api = await startApi();
  });
  after(async () => {
    await api?.stop();
    dir.remove();
  });

  it("reports an invalid ConfigMap expression with an Event, keeps running on the default, and picks up a fix", async () => {
    expectOk(
      await api.request("POST", CONFIGMAP, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "whereabouts-config" },
        data: { "cron-expression": "every day at noon" },
      }),
    );
    const c = await startController(api, ["--config-poll-interval", "300ms"]);
    try {
      const { value: event } = await waitFor(
        "the InvalidCronExpression event",
        async () => (await events(api, NS)).find((e) => e.reason === "InvalidCronExpression"),
        10_000,
      );
      assert.equal(event.type, "Warning");
      assert.deepEqual(
        [event.involvedObject.kind, event.involvedObject.name],
        ["ConfigMap", "whereabouts-config"],
      );
      assert.match(event.message, /every day at noon/);
      assert.match(event.message, /keeping the schedule "30 4 \* \* \*"/);
      assert.deepEqual(
        scheduleLogs(c).map((l) => l["expression"]),
        ["30 4 * * *"],
      );
      assert.ok(c.running);
      assert.equal((await c.get("/healthz")).status, 200);

      // OpenShift's key, then a valid cron-expression, both through the API.
      expectOk(
        await api.request(
          "PATCH",
          `${CONFIGMAP}/whereabouts-config`,
          { data: { "cron-expression": null, reconciler_cron_expression: "0 1 * * *" } },
          { "Content-Type": "application/merge-patch+json" },
        ),
      );
      await c.waitForLog((l) => l.msg === "reconciler schedule" && l["expression"] === "0 1 * * *", 5_000);
      expectOk(
        await api.request(
          "PATCH",
          `${CONFIGMAP}/whereabouts-config`,
          { data: { "cron-expression": "*/10 * * * *" } },
          { "Content-Type": "application/merge-patch+json" },
        ),
      );
      const line = await c.waitForLog(
        (l) => l.msg === "reconciler schedule" && l["expression"] === "*/10 * * * *",
        5_000,
      );
      assert.equal(line["source"], "configmap");
      assert.equal(line["where"], `${NS}/whereabouts-config key cron-expression`);
    } finally {
      await c.kill();
      await api.request("DELETE", `${CONFIGMAP}/whereabouts-config`);
    }
  });

  it("prefers the mounted file and follows kubelet's symlink swap; an invalid update keeps the schedule", async () => {
    const volume = join(dir.path, "cron-schedule");
    mkdirSync(volume);
    const publish = kubeletVolume(volume, "15 3 * * *\n");
    // No ConfigMap: the Event about an invalid expression goes to the controller's own pod.
    await createPod(api, NS, "thereabouts-controller-0");
    const c = await startController(
      api,
      ["--cron-file", join(volume, "config"), "--config-poll-interval", "60s"],
      { POD_NAME: "thereabouts-controller-0", POD_NAMESPACE: NS, WHEREABOUTS_RECONCILER_CRON: "45 * * * *" },
    );
    try {
      const first = await c.waitForLog((l) => l.msg === "reconciler schedule", 5_000);
      assert.deepEqual([first["expression"], first["source"]], ["15 3 * * *", "file"]);
      publish("*/5 * * * *");
      await c.waitForLog(
        (l) => l.msg === "reconciler schedule" && l["expression"] === "*/5 * * * *",
        5_000,
        "the swapped expression",
      );
      publish("*/5 * * *");
      await c.waitForLog((l) => l.msg === "invalid cron expression: keeping the schedule in force", 5_000);
      const { value: event } = await waitFor(
        "the event on the controller's pod",
        async () =>
          (await events(api, NS)).find(
            (e) => e.reason === "InvalidCronExpression" && e.involvedObject.kind === "Pod",
          ),
        5_000,
      );
      assert.equal(event.involvedObject.name, "thereabouts-controller-0");
      assert.match(event.message, /expected exactly 5 fields/);
      assert.match(event.message, /keeping the schedule "\*\/5 \* \* \* \*"/);
      assert.ok(c.running);
      assert.match((await c.get("/readyz")).body, /^leader kube-system\/thereabouts-controller-0/);
    } finally {
      await c.kill();
    }
  });

  it("falls back to the flat file's reconciler_cron_expression, then WHEREABOUTS_RECONCILER_CRON", async () => {
    const flat = join(dir.path, "whereabouts.conf");
    writeFileSync(
      flat,
      JSON.stringify({ datastore: "kubernetes", reconciler_cron_expression: "20 2 * * *" }),
    );
    const env = { WHEREABOUTS_RECONCILER_CRON: "45 * * * *" };
    const withFlat = await startController(api, ["--flat-file", flat], env);
    const fromFlat = await withFlat.waitForLog((l) => l.msg === "reconciler schedule", 5_000);
    await withFlat.kill();
    assert.deepEqual(
      [fromFlat["expression"], fromFlat["source"], fromFlat["where"]],
      ["20 2 * * *", "flat file", flat],
    );
    const withEnv = await startController(api, [], env);
    const fromEnv = await withEnv.waitForLog((l) => l.msg === "reconciler schedule", 5_000);
    await withEnv.kill();
    assert.deepEqual([fromEnv["expression"], fromEnv["source"]], ["45 * * * *", "environment"]);
  });
});
