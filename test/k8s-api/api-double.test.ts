// The Kubernetes API double against plain HTTP requests: every semantic the datastore and the GC
// controller will rely on is proven here first, so client code is never the first to exercise it.
// One double runs as a separate process for the topic suites; TLS/token and special settings get
// their own instances (a process, or in-process via startApiDoubleServer).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type ApiDouble, startApiDouble } from "./harness.ts";
import { request, watch } from "./http-client.ts";
import { type ApiDoubleServer, startApiDoubleServer } from "./server.ts";
import { builtinsSuite } from "./suite/builtins.ts";
import { controlSuite } from "./suite/control.ts";
import { crdSuite } from "./suite/crds.ts";
import { crudSuite } from "./suite/crud.ts";
import { listWatchSuite } from "./suite/list-watch.ts";
import { patchSuite } from "./suite/patch.ts";
import { statefulSetsSuite } from "./suite/statefulsets.ts";
import { expectStatus, ipPool, POOLS } from "./suite/support.ts";

describe("API double (separate process, plain HTTP)", () => {
  let api: ApiDouble;
  before(async () => {
    api = await startApiDouble({
      bookmarkIntervalMs: 300,
      podTerminationMs: 150,
      maxObjectBytes: 64 * 1024,
      seed: 7,
    });
  });
  after(() => api.stop());
  crudSuite(() => api);
  patchSuite(() => api);
  listWatchSuite(() => api);
  builtinsSuite(() => api);
  statefulSetsSuite(() => api);
  controlSuite(() => api);
});

describe("API double: CRDs, Table and kubectl (a double of its own, TLS and token)", () => {
  let api: ApiDouble;
  before(async () => {
    api = await startApiDouble({ tls: true, token: "crd-token" });
  });
  after(() => api.stop());
  crdSuite(() => api);
});

describe("API double over TLS with a bearer token", () => {
  let api: ApiDouble;
  before(async () => {
    api = await startApiDouble({ tls: true, token: "s3cret" });
  });
  after(() => api.stop());

  it("serves HTTPS with the printed CA and writes an install-cni.sh shaped kubeconfig", async () => {
    assert.match(api.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(api.caPem!, /^-----BEGIN CERTIFICATE-----/);
    expectStatus(await api.request("GET", "/api/v1/namespaces/default/configmaps"), 200);
    await assert.rejects(request(`${api.url}/version`), /self-signed|unable to verify|certificate/);
    const kubeconfig = readFileSync(api.kubeconfigPath("whereabouts-ns"), "utf8");
    for (const line of [
      `    server: ${api.url}`,
      `    certificate-authority-data: ${api.caData}`,
      '    token: "s3cret"',
      "    namespace: whereabouts-ns",
      "current-context: whereabouts-context",
    ])
      assert.ok(kubeconfig.includes(line), `${line}\n${kubeconfig}`);
    assert.ok(
      readFileSync(api.kubeconfigPath("other", { insecureSkipTlsVerify: true }), "utf8").includes(
        "insecure-skip-tls-verify: true",
      ),
    );
  });

  it("answers 401 for a wrong token and 403 (system:anonymous) for none, except public paths and the control API", async () => {
    const wrong = await api.request("GET", POOLS, undefined, { Authorization: "Bearer nope" });
    assert.deepEqual(expectStatus(wrong, 401, "Unauthorized"), {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Unauthorized",
      reason: "Unauthorized",
      code: 401,
    });
    const anonymous = await request(`${api.url}/api/v1/namespaces/default/configmaps`, { ca: api.caPem! });
    assert.deepEqual(expectStatus(anonymous, 403, "Forbidden"), {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message:
        'configmaps is forbidden: User "system:anonymous" cannot list resource "configmaps" in API group "" in the namespace "default"',
      reason: "Forbidden",
      details: { kind: "configmaps" },
      code: 403,
    });
    const named = await request(`${api.url}${POOLS}/p1`, { ca: api.caPem! });
    assert.equal(
      expectStatus(named, 403, "Forbidden").message,
      'ippools.whereabouts.cni.cncf.io "p1" is forbidden: User "system:anonymous" cannot get resource "ippools" in API group "whereabouts.cni.cncf.io" in the namespace "kube-system"',
    );
    assert.equal((await request(`${api.url}/version`, { ca: api.caPem! })).status, 200);
    assert.equal((await request(`${api.url}/__control/health`, { ca: api.caPem! })).status, 200);
    await api.resetRequests();
    assert.equal((await api.requests()).total, 0);
  });

  it("streams watches over TLS", async () => {
    expectStatus(await api.request("POST", POOLS, ipPool("tls-pool")), 201);
    const w = await watch(`${api.url}${POOLS}?watch=1`, {
      ca: api.caPem!,
      headers: { Authorization: "Bearer s3cret" },
    });
    const e = await w.next();
    w.close();
    assert.equal(e?.type, "ADDED");
    assert.equal(e?.object.metadata.name, "tls-pool");
  });
});

describe("API double command line", () => {
  it("prints the ready line, takes --faults, and exits on SIGTERM", async () => {
    const server = join(dirname(fileURLToPath(import.meta.url)), "server.ts");
    const faults = JSON.stringify([
      { kind: "serviceUnavailable", verb: "get", resource: "/version", times: 1 },
    ]);
    const child = spawn(process.execPath, [server, "--port", "0", "--faults", faults], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.setEncoding("utf8").on("data", (d: string) => {
          out += d;
          if (out.includes("\n")) resolve(out.split("\n")[0]!);
        });
        child.once("exit", () => reject(new Error("exited early")));
      });
      const ready = JSON.parse(line) as { url: string; pid: number; caData?: string };
      assert.equal(ready.pid, child.pid);
      assert.equal(ready.caData, undefined);
      expectStatus(await request(`${ready.url}/version`), 503, "ServiceUnavailable");
      assert.equal((await request(`${ready.url}/version`)).status, 200);
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      assert.equal(await exited, 0);
    }
  });
});

describe("API double in-process, with special settings", () => {
  let double: ApiDoubleServer;
  before(async () => {
    double = await startApiDoubleServer({
      token: "t",
      anonymousAuth: false,
      watchCacheMinEvents: 3,
      watchCacheFreshMs: 0,
      legacyWhereaboutsCrds: true,
      tooLargeResourceVersionWaitMs: 100,
    });
  });
  after(() => double.close());
  const auth = { Authorization: "Bearer t" };

  it("answers 401 without a token when anonymous auth is off", async () => {
    expectStatus(await request(`${double.url}${POOLS}`), 401, "Unauthorized");
  });

  it("forgets events beyond the watch-cache window: a watch from before it gets 410", async () => {
    const first = await request(`${double.url}${POOLS}`, {
      method: "POST",
      headers: auth,
      body: ipPool("w0"),
    });
    const rv = expectStatus(first, 201).metadata.resourceVersion;
    for (let i = 1; i <= 6; i++)
      await request(`${double.url}${POOLS}`, { method: "POST", headers: auth, body: ipPool(`w${i}`) });
    const w = await watch(`${double.url}${POOLS}?watch=1&resourceVersion=${rv}`, { headers: auth });
    const e = await w.next();
    w.close();
    assert.equal(e?.type, "ERROR");
    assert.equal(e?.object.reason, "Expired");
    const recent = (await request(`${double.url}${POOLS}`, { headers: auth })).json().metadata
      .resourceVersion;
    const ok = await watch(`${double.url}${POOLS}?watch=1&resourceVersion=${Number(recent) - 2}`, {
      headers: auth,
    });
    assert.equal((await ok.next())?.type, "ADDED");
    ok.close();
  });

  it("serves the ≤ v0.7 CRD schemas when asked: `ifname` is pruned, ORIPs need `containerid`", async () => {
    const r = await request(`${double.url}${POOLS}`, {
      method: "POST",
      headers: auth,
      body: ipPool("legacy", { "1": { id: "c", podref: "ns/p", ifname: "eth0" } }),
    });
    assert.deepEqual(expectStatus(r, 201).spec.allocations, { "1": { id: "c", podref: "ns/p" } });
    const orip = await request(`${double.url}${POOLS.replace("ippools", "overlappingrangeipreservations")}`, {
      method: "POST",
      headers: auth,
      body: {
        apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
        kind: "OverlappingRangeIPReservation",
        metadata: { name: "10.0.0.1" },
        spec: { podref: "ns/p", ifname: "eth0" },
      },
    });
    assert.equal(
      expectStatus(orip, 422, "Invalid").message,
      'OverlappingRangeIPReservation.whereabouts.cni.cncf.io "10.0.0.1" is invalid: spec.containerid: Required value',
    );
  });

  it("waits for a future resourceVersion, then answers 504 ResourceVersionTooLarge", async () => {
    const r = await request(`${double.url}${POOLS}?resourceVersion=999999999`, { headers: auth });
    const body = expectStatus(r, 504, "Timeout");
    assert.match(body.message, /^Timeout: Too large resource version: 999999999, current: \d+$/);
    assert.deepEqual(body.details.causes, [
      { reason: "ResourceVersionTooLarge", message: "Too large resource version" },
    ]);
  });
});
