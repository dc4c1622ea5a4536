import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_CRON, nextRun, parseCron, resolveCron } from "./cron.ts";

describe("parseCron", () => {
  it("accepts 5-field expressions and robfig's descriptors, in UTC", () => {
    const from = new Date("2026-11-22T03:00:00Z");
    const next = (e: string) => {
      const parsed = parseCron(e);
      assert.ok(parsed.ok, e);
      return nextRun(parsed.pattern, from)?.toISOString();
    };
    assert.equal(next(DEFAULT_CRON), "2026-11-22T04:30:00.000Z");
    assert.equal(next("*/5 * * * *"), "2026-11-22T03:05:00.000Z");
    assert.equal(next("0/20 * * * *"), "2026-11-22T03:20:00.000Z", "robfig's N/step");
    assert.equal(next("  15 10 * * MON  "), "2026-11-23T10:15:00.000Z");
    assert.equal(next("@daily"), "2026-11-23T00:00:00.000Z");
    assert.equal(next("@midnight"), "2026-11-23T00:00:00.000Z");
    assert.equal(next("@hourly"), "2026-11-22T04:00:00.000Z");
  });

  it("rejects other field counts (seconds included), bad values and unknown descriptors", () => {
    for (const bad of [
      "",
      "bad",
      "* * * *",
      "0/1 2 3 * * *",
      "61 * * * *",
      "* 24 * * *",
      "@every 1h",
      "@often",
    ]) {
      const parsed = parseCron(bad);
      assert.equal(parsed.ok, false, bad);
      if (!parsed.ok) assert.ok(parsed.error.length > 0);
    }
  });
});

describe("resolveCron", () => {
  const file = (text: string | undefined) => ({ path: "/cron-schedule/config", text });
  const configMap = (data: Record<string, string> | undefined) => ({
    where: "kube-system/whereabouts-config",
    data,
  });
  const flatFile = (expression: string | undefined) => ({
    path: "/etc/cni/net.d/whereabouts.d/whereabouts.conf",
    expression,
  });

  it("takes the first source that sets an expression", () => {
    const all = {
      file: file("1 * * * *\n"),
      configMap: configMap({ "cron-expression": "2 * * * *" }),
      flatFile: flatFile("3 * * * *"),
      env: "4 * * * *",
    };
    assert.deepEqual(resolveCron(all), {
      expression: "1 * * * *",
      source: "file",
      where: "/cron-schedule/config",
    });
    assert.equal(resolveCron({ ...all, file: file(undefined) }).expression, "2 * * * *");
    assert.equal(
      resolveCron({ ...all, file: file(undefined), configMap: configMap(undefined) }).expression,
      "3 * * * *",
    );
    assert.equal(resolveCron({ env: "4 * * * *" }).source, "environment");
    assert.deepEqual(resolveCron({}), {
      expression: DEFAULT_CRON,
      source: "default",
      where: "built-in default",
    });
  });

  it("reads the ConfigMap's keys (cron-expression, then reconciler_cron_expression) only when no file is mounted", () => {
    const openshift = configMap({ reconciler_cron_expression: "5 * * * *" });
    assert.deepEqual(resolveCron({ file: file(undefined), configMap: openshift }), {
      expression: "5 * * * *",
      source: "configmap",
      where: "kube-system/whereabouts-config key reconciler_cron_expression",
    });
    assert.equal(
      resolveCron({ file: file("  "), configMap: openshift, env: "6 * * * *" }).expression,
      "6 * * * *",
    );
    assert.equal(
      resolveCron({
        configMap: configMap({ "cron-expression": "7 * * * *", reconciler_cron_expression: "8 * * * *" }),
      }).expression,
      "7 * * * *",
    );
  });
});

describe("schedule", () => {
  it("fires the job at each match and stops", async () => {
    const { schedule } = await import("./cron.ts");
    let fired = 0;
    const job = schedule("* * * * * *", () => fired++); // croner's seconds field, for the test only
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    job.stop();
    const seen = fired;
    assert.ok(seen >= 1, `fired ${seen} times`);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    assert.equal(fired, seen);
  });
});
