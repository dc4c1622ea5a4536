// The Kubernetes client against the API double: an answer that retrying will not change is a
// StoreRefusedError carrying the facts (status, server, request, kubeconfig, what it is about) and
// no advice — the store (for the plugin) and the controller share this client, and each caller
// says its own way what to fix (src/cni/error-codes.ts, src/controller/advice.ts).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { StoreRefusedError } from "../../src/errors/errors.ts";
import { KubeClient, KubeUnavailableError } from "../../src/kube/client.ts";
import { loadKubeconfig } from "../../src/kube/kubeconfig.ts";
import { createTransport } from "../../src/net/http-transport.ts";
import { type ApiDouble, type KubeconfigOptions, startApiDouble } from "../k8s-api/harness.ts";

const TOKEN = "s3cret-token";
const NS = "client-ns";
const WB = `/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/${NS}`;
const LEASES = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;

let api: ApiDouble;
before(async () => {
  api = await startApiDouble({ tls: true, token: TOKEN });
});
after(() => api.stop());

async function client(options?: KubeconfigOptions): Promise<KubeClient> {
  const connection = await loadKubeconfig(api.kubeconfigPath(NS, options));
  return new KubeClient({ connection, transport: createTransport(connection.tls), attemptTimeoutMs: 2_000 });
}

/** The error `send` rejects with, after exactly one request (not retried). */
async function refusal(
  kube: KubeClient,
  request: Parameters<KubeClient["send"]>[0],
): Promise<StoreRefusedError> {
  const error = await kube.send(request, Date.now() + 5_000, "reach").then(
    () => assert.fail("expected a refusal"),
    (e: unknown) => e,
  );
  kube.close();
  assert.ok(error instanceof StoreRefusedError, String(error));
  assert.equal(kube.requests, 1, "not retried");
  assert.doesNotMatch(`${error.message} ${error.details ?? ""}`, /install-cni|ServiceAccount|RBAC|deploy\//);
  return error;
}

describe("KubeClient: refusals say what happened, with the facts, and no advice", () => {
  it("401: the credentials", async () => {
    const kubeconfig = api.kubeconfigPath(NS, { token: "wrong" });
    const error = await refusal(await client({ token: "wrong" }), { method: "GET", path: `${WB}/ippools/p` });
    assert.equal(error.message, `Cannot reach the Kubernetes API at ${api.url}: Unauthorized (HTTP 401)`);
    assert.equal(error.details, undefined);
    assert.deepEqual(error.facts, {
      server: api.url,
      status: 401,
      resource: `${WB}/ippools/p`,
      settings: kubeconfig,
      namespace: NS,
      topic: "credentials",
    });
  });

  it("403: the permissions (anonymous, on a lease as the controller asks)", async () => {
    const error = await refusal(await client({ token: null }), {
      method: "POST",
      path: LEASES,
      body: { metadata: { name: "l" } },
    });
    assert.match(error.message, /forbidden.*\(HTTP 403\)$/);
    assert.deepEqual(
      [error.facts.status, error.facts.topic, error.facts.resource],
      [403, "permissions", LEASES],
    );
  });

  it("404 on a resource type the server does not serve: missing", async () => {
    const error = await refusal(await client(), { method: "GET", path: `${WB}/ippoolz` });
    assert.deepEqual([error.facts.status, error.facts.topic], [404, "missing"]);
  });

  it("422, an object the server refuses: the status, nothing to advise", async () => {
    const error = await refusal(await client(), {
      method: "POST",
      path: `${WB}/ippools`,
      body: {
        apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
        kind: "IPPool",
        metadata: { name: "Upper-Case" },
        spec: { range: "10.0.0.0/24", allocations: {} },
      },
    });
    assert.match(error.message, /metadata\.name: Invalid value: "Upper-Case"/);
    assert.equal(error.facts.status, 422);
    assert.equal(error.facts.topic, undefined);
  });

  it("a server that cannot be reached: unavailable, naming it; a write refused a connection was not applied", async () => {
    const path = api.kubeconfigPath(NS);
    const connection = { ...(await loadKubeconfig(path)), server: "https://127.0.0.1:1" };
    const kube = new KubeClient({
      connection,
      transport: createTransport(connection.tls),
      attemptTimeoutMs: 200,
    });
    const error = await kube
      .send({ method: "POST", path: `${WB}/ippools`, body: {} }, Date.now() + 300, "create pool p at")
      .then(
        () => assert.fail("expected unavailable"),
        (e: unknown) => e,
      );
    kube.close();
    assert.ok(error instanceof KubeUnavailableError, String(error));
    assert.match(error.message, /^Cannot create pool p at the Kubernetes API at https:\/\/127\.0\.0\.1:1: /);
    assert.deepEqual(error.facts, { server: "https://127.0.0.1:1" });
    assert.equal(error.mayHaveApplied, false);
  });
});
