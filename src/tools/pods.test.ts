import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StoreRefusedError } from "../errors/errors.ts";
import { KubeClient } from "../kube/client.ts";
import type { Transport } from "../net/http-transport.ts";
import { MemoryStore } from "../store/memory/memory-store.ts";
import { podsIfAllowed, podsOf } from "./inventory.ts";
import { NETWORK_STATUS_ANNOTATION, networkStatusOf, podInfo, readPods } from "./pods.ts";

describe("pods: what the cluster says of a pod", () => {
  it("node, phase, uid, creation time, liveness and the network-status IPs", () => {
    const pod = podInfo({
      metadata: {
        namespace: "default",
        name: "web-1",
        uid: "u-1",
        resourceVersion: "42",
        creationTimestamp: "2025-01-02T03:04:05Z",
        annotations: {
          [NETWORK_STATUS_ANNOTATION]: JSON.stringify([
            { name: "cbr0", interface: "eth0", ips: ["10.244.0.5"], default: true },
            { name: "default/storage-net", interface: "net1", ips: ["198.51.100.3", 7] },
          ]),
        },
      },
      spec: { nodeName: "node-2" },
      status: { phase: "Running" },
    });
    assert.deepEqual(pod, {
      ref: "default/web-1",
      namespace: "default",
      name: "web-1",
      uid: "u-1",
      resourceVersion: "42",
      gone: undefined,
      node: "node-2",
      phase: "Running",
      created: "2025-01-02T03:04:05Z",
      networkStatus: [
        { name: "cbr0", interface: "eth0", ips: ["10.244.0.5"] },
        { name: "default/storage-net", interface: "net1", ips: ["198.51.100.3"] },
      ],
    });
    assert.equal(podInfo({ metadata: { name: "x" }, status: { phase: "Failed" } }).gone, "phase Failed");
  });

  it("an annotation that is absent, or not a list of attachments", () => {
    assert.equal(networkStatusOf(undefined), "absent");
    assert.equal(networkStatusOf("{not json"), "unreadable");
    assert.equal(networkStatusOf('{"name":"x"}'), "unreadable");
    assert.equal(networkStatusOf("[1]"), "unreadable");
    assert.deepEqual(networkStatusOf("[]"), []);
  });
});

/** A fake API: pods by namespace, every request recorded; `forbidden` answers 403 to everything. */
function fakeKube(pods: Record<string, string[]>, forbidden = false) {
  const requests: string[] = [];
  const pod = (namespace: string, name: string) => ({
    metadata: { namespace, name, uid: `uid-${name}` },
    spec: { nodeName: "n1" },
    status: { phase: "Running" },
  });
  const transport: Transport = {
    async request(method, url) {
      const path = new URL(url).pathname;
      requests.push(`${method} ${path}`);
      const reply = (status: number, body: unknown) => ({ status, body: JSON.stringify(body) });
      if (forbidden) return reply(403, { kind: "Status", message: "pods is forbidden", code: 403 });
      const one = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(path);
      if (one !== null)
        return (pods[one[1]!] ?? []).includes(one[2]!)
          ? reply(200, pod(one[1]!, one[2]!))
          : reply(404, { kind: "Status", code: 404 });
      const inNs = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(path);
      const namespaces = inNs === null ? Object.keys(pods) : [inNs[1]!];
      return reply(200, {
        items: namespaces.flatMap((ns) => (pods[ns] ?? []).map((n) => pod(ns, n))),
        metadata: {},
      });
    },
    close() {},
  };
  const connection = {
    kubeconfig: "k",
    server: "http://api.test",
    namespace: "kube-system",
    tls: undefined,
    authorization: undefined,
  };
  return { kube: new KubeClient({ connection, transport, attemptTimeoutMs: 1000 }), requests };
}

describe("pods: reading them", () => {
  it("a few pods of a namespace one by one, more with a list of it, many namespaces with one list", async () => {
    const cluster = { a: ["p1", "p2", "p3", "p4"], b: ["q1"] };
    const few = fakeKube(cluster);
    const got = await readPods(few.kube, ["a/p1", "a/gone", "b/q1", "", "no-slash"], Date.now() + 5000);
    assert.deepEqual([...got.keys()].sort(), ["a/p1", "b/q1"], "a missing pod is not in the map");
    assert.deepEqual(few.requests, [
      "GET /api/v1/namespaces/a/pods/p1",
      "GET /api/v1/namespaces/a/pods/gone",
      "GET /api/v1/namespaces/b/pods/q1",
    ]);
    const more = fakeKube(cluster);
    const four = await readPods(more.kube, ["a/p1", "a/p2", "a/p3", "a/p4"], Date.now() + 5000);
    assert.equal(four.size, 4);
    assert.deepEqual(more.requests, ["GET /api/v1/namespaces/a/pods"]);
    const spread = fakeKube(cluster);
    await readPods(
      spread.kube,
      Array.from({ length: 9 }, (_, i) => `ns${i}/p`),
      Date.now() + 5000,
    );
    assert.deepEqual(spread.requests, ["GET /api/v1/pods"]);
  });

  it("show does without pods it may not read; a command that judges them gets the refusal", async () => {
    const { kube } = fakeKube({}, true);
    const store = new MemoryStore(undefined, { datastore: "kubernetes" });
    const target = { store, kube, close: () => store.close() };
    const shown = await podsIfAllowed(target, ["a/p1"]);
    assert.equal(shown.pods, undefined);
    assert.match(shown.refused ?? "", /not allowed to read pods \(HTTP 403\)/);
    await assert.rejects(podsOf(target, ["a/p1"]), StoreRefusedError);
    assert.equal(
      await podsOf({ store, close: () => store.close() }, ["a/p1"]),
      undefined,
      "no cluster, no pods",
    );
  });
});
