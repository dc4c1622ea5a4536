// The controller shares the Kubernetes client and store with the plugin, but its log gives its own
// advice: a refused token or a missing permission names the controller's credentials and role,
// never install-cni.sh or the plugin's ServiceAccount (what the plugin's errors say).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import type { ApiDouble } from "../k8s-api/harness.ts";
import { BINARY, buildOnce, type Controller, NS, startApi, startController, TEST_ARGS } from "./support.ts";

describe("controller: API failures in its log, with the controller's advice", () => {
  let api: ApiDouble;
  const running: Controller[] = [];
  before(async () => {
    api = await startApi({ token: "controller-token" });
  });
  after(async () => {
    for (const c of running) await c.kill("SIGKILL");
    await api?.stop();
  });

  it("a refused token (401): what the controller's operator can check, not the plugin's installer", async () => {
    const kubeconfig = api.kubeconfigPath(NS, { token: "wrong" });
    const controller = await startController(api, ["--kubeconfig", kubeconfig]);
    running.push(controller);
    const line = await controller.waitForLog((l) => l.msg === "lease request failed");
    assert.match(String(line["error"]), /Unauthorized \(HTTP 401\)/);
    assert.equal(line["status"], 401);
    assert.equal(
      line["hint"],
      `the controller's credentials (${kubeconfig}) were refused: check its ServiceAccount token, or the user of its kubeconfig`,
    );
    assert.ok(!controller.logs.some((l) => /install-cni/.test(JSON.stringify(l))), "no plugin advice");
  });

  it("forbidden (403): names the controller's role and the lease permissions it lacks", async () => {
    const controller = await startController(api, ["--kubeconfig", api.kubeconfigPath(NS, { token: null })]);
    running.push(controller);
    const line = await controller.waitForLog((l) => l.msg === "lease request failed");
    assert.match(String(line["error"]), /forbidden.*\(HTTP 403\)/);
    assert.equal(line["status"], 403);
    assert.match(String(line["hint"]), /^the controller's ServiceAccount lacks a permission of its role/);
    assert.match(String(line["hint"]), /leases get, create, patch/);
    assert.ok(!controller.logs.some((l) => /install-cni|plugin/.test(JSON.stringify(l))), "no plugin advice");
  });

  it("a kubeconfig that is not there: exits 1 saying so, with advice about --kubeconfig", () => {
    buildOnce();
    const run = spawnSync(BINARY, ["controller", "--kubeconfig", "/nonexistent/kubeconfig", ...TEST_ARGS], {
      encoding: "utf8",
      env: { PATH: process.env["PATH"] ?? "" },
      timeout: 20_000,
    });
    assert.equal(run.status, 1, run.stderr);
    const line = JSON.parse(run.stderr.trim().split("\n").at(-1)!) as Record<string, unknown>;
    assert.equal(line["msg"], "cannot use the connection settings");
    assert.equal(line["error"], "open /nonexistent/kubeconfig: no such file or directory");
    assert.match(
      String(line["hint"]),
      /^--kubeconfig \(or \$KUBECONFIG\) must name a readable kubeconfig file/,
    );
    assert.doesNotMatch(run.stderr, /install-cni|kubernetes\.kubeconfig/);
  });
});
