// The IPPool status the Kubernetes store writes ({used, free}, docs/kubernetes-store.md), against
// the API double: with our CRDs (deploy/crds/, applied by the real kubectl) every pool write sets
// it in the same request, counted on the pool as it will be after the write, for IPv4 windows
// narrowed by range_start/range_end/exclude/gateway and for an IPv6 /64 (a count past 2^53);
// `kubectl get ippools` shows it; a Go writer leaves it as it was and our next write counts Go's
// entries too; the controller (no configuration) carries the free count on. With Go's CRDs
// (v0.9.4's, and ≤ v0.7's) the apiserver prunes it and ADD/DEL work as before.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { IpamConfig } from "../../src/config/types.ts";
import { formatIP } from "../../src/ip/index.ts";
import { addAttachment } from "../../src/ipam/add.ts";
import { deleteAttachment } from "../../src/ipam/del.ts";
import { releaseEntries } from "../../src/ipam/release.ts";
import { deadlineIn } from "../../src/ipam/retry.ts";
import type { Logger } from "../../src/log/logger.ts";
import { type KubernetesStore, openKubernetesStore } from "../../src/store/kubernetes/kubernetes-store.ts";
import { type ApiDouble, startApiDouble } from "../k8s-api/harness.ts";
import { networkOn, requestsIn } from "./double-support.ts";
import { GoWriter } from "./go-writer.ts";

const here = dirname(fileURLToPath(import.meta.url));
const DEPLOY_CRDS = join(here, "..", "..", "deploy", "crds");
const WB = "/apis/whereabouts.cni.cncf.io/v1alpha1";
const quiet: Logger = { debug() {}, verbose() {}, error() {} };
let serial = 0;
const freshNamespace = (): string => `ps-${process.pid % 10_000}-${serial++}`;

async function withStore<T>(api: ApiDouble, ns: string, run: (s: KubernetesStore) => Promise<T>): Promise<T> {
  const store = await openKubernetesStore(api.kubeconfigPath(ns), { timeoutMs: 5_000 });
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

const add = async (store: KubernetesStore, config: IpamConfig, id: string) =>
  (
    await addAttachment(
      store,
      config,
      { containerId: id, podRef: `ns/${id}`, ifName: "eth0" },
      deadlineIn(20_000),
      quiet,
    )
  ).addresses.map((a) => formatIP(a.address));

const del = (store: KubernetesStore, config: IpamConfig, id: string) =>
  deleteAttachment(store, config, { containerId: id, ifName: "eth0" }, undefined, deadlineIn(20_000));

/** The pool as the API serves it. */
async function pool(api: ApiDouble, ns: string, name: string) {
  const r = await api.request("GET", `${WB}/namespaces/${ns}/ippools/${name}`);
  assert.equal(r.status, 200, r.body);
  return r.json() as {
    spec: { allocations: Record<string, unknown> };
    status?: { used: number; free: string };
  };
}

describe("IPPool status with our CRDs (deploy/crds applied by kubectl)", () => {
  let api: ApiDouble;
  before(async () => {
    // Plain HTTP without authentication: kubectl (clientcmd) sends credentials only over TLS, and
    // the Go writer speaks plain HTTP.
    api = await startApiDouble();
    const applied = await api.kubectl(["apply", "-k", DEPLOY_CRDS, "--validate=false"]);
    assert.equal(applied.code, 0, applied.stderr);
  });
  after(() => api?.stop());

  it("is set on the create and on every patch, in the same request: ADD still costs 3 requests, DEL 3–4", async () => {
    const ns = freshNamespace();
    // window .10–.20 (11) minus exclude .12/31 (2) minus the gateway .15: 8 to hand out
    const config = networkOn(api, ns, {
      range: "10.40.0.0/24",
      range_start: "10.40.0.10",
      range_end: "10.40.0.20",
      exclude: ["10.40.0.12/31"],
      gateway: "10.40.0.15",
    });
    await withStore(api, ns, async (store) => {
      await api.resetRequests();
      assert.deepEqual(await add(store, config, "a"), ["10.40.0.10"]);
      assert.deepEqual(await requestsIn(api, ns), {
        "get ippools": 1,
        "create ippools": 1,
        "create overlappingrangeipreservations": 1,
      });
      assert.deepEqual((await pool(api, ns, "10.40.0.0-24")).status, { used: 1, free: "7" });
      const expected = ["10.40.0.11", "10.40.0.14", "10.40.0.16"];
      for (const [i, id] of ["b", "c", "d"].entries()) {
        await api.resetRequests();
        assert.deepEqual(await add(store, config, id), [expected[i]]);
        assert.deepEqual(await requestsIn(api, ns), {
          "get ippools": 1,
          "patch ippools": 1,
          "create overlappingrangeipreservations": 1,
        });
        assert.deepEqual((await pool(api, ns, "10.40.0.0-24")).status, { used: i + 2, free: String(6 - i) });
      }
      await api.resetRequests();
      await del(store, config, "b");
      const counts = await requestsIn(api, ns);
      assert.equal(counts["patch ippools"], 1, "one pool write");
      assert.ok((counts["get ippools"] ?? 0) <= 2);
      assert.deepEqual((await pool(api, ns, "10.40.0.0-24")).status, { used: 3, free: "5" });
    });
  });

  it("counts an IPv6 /64 exactly: free is 2^64 − 2 − used, as a decimal string", async () => {
    const ns = freshNamespace();
    const config = networkOn(api, ns, { range: "fd00:40::/64" });
    await withStore(api, ns, async (store) => {
      for (const id of ["a", "b", "c"]) await add(store, config, id);
      await del(store, config, "b");
      const p = await pool(api, ns, "fd00-40---64");
      assert.deepEqual(Object.keys(p.spec.allocations).sort(), ["1", "3"]);
      assert.deepEqual(p.status, { used: 2, free: String(2n ** 64n - 2n - 2n) });
      assert.equal(p.status?.free, "18446744073709551612");
    });
  });

  it("kubectl get ippools shows Range, Used and Free as the allocations are", async () => {
    const ns = freshNamespace();
    const config = networkOn(api, ns, { range: "10.41.0.0/28", exclude: ["10.41.0.1"] });
    await withStore(api, ns, async (store) => {
      for (const id of ["a", "b", "c"]) await add(store, config, id);
    });
    const got = await api.kubectl(["get", "ippools"], { namespace: ns });
    assert.equal(got.code, 0, got.stderr);
    const [head, row, ...rest] = got.stdout
      .trim()
      .split("\n")
      .map((l) => l.trim().split(/\s+/));
    assert.deepEqual(head, ["NAME", "RANGE", "USED", "FREE", "AGE"]);
    // a /28 hands out .1–.14 (14), minus the excluded .1: 13, of which 3 are taken
    assert.deepEqual(row!.slice(0, 4), ["10.41.0.0-28", "10.41.0.0/28", "3", "10"]);
    assert.equal(rest.length, 0);
  });

  it("a Go writer leaves the status as it was; our next write counts Go's entries too", async () => {
    const ns = freshNamespace();
    const config = networkOn(api, ns, { range: "10.42.0.0/24" });
    await withStore(api, ns, async (store) => {
      await add(store, config, "ours-1");
      const go = new GoWriter({ url: api.url, namespace: ns });
      const r = await go.add(
        { range: "10.42.0.0/24" },
        { containerId: "go-1", podRef: "ns/go-1", ifName: "eth0" },
      );
      assert.equal(r.ok, true, JSON.stringify(r));
      const afterGo = await pool(api, ns, "10.42.0.0-24");
      assert.equal(Object.keys(afterGo.spec.allocations).length, 2);
      assert.deepEqual(afterGo.status, { used: 1, free: "253" }, "as of our last write");
      await add(store, config, "ours-2");
      assert.deepEqual((await pool(api, ns, "10.42.0.0-24")).status, { used: 3, free: "251" });
    });
  });

  it("the controller's releases (no configuration) carry the free count on", async () => {
    const ns = freshNamespace();
    const config = networkOn(api, ns, { range: "10.43.0.0/24", range_end: "10.43.0.100" });
    await withStore(api, ns, async (store) => {
      for (const id of ["a", "b", "c"]) await add(store, config, id);
      assert.deepEqual((await pool(api, ns, "10.43.0.0-24")).status, { used: 3, free: "97" });
      const released = await releaseEntries(store, "10.43.0.0-24", (e) => e.allocation.containerId !== "b", {
        overlapping: true,
        networkName: "",
        deadline: deadlineIn(10_000),
      });
      assert.equal(released.length, 2);
      assert.deepEqual((await pool(api, ns, "10.43.0.0-24")).status, { used: 1, free: "99" });
    });
  });
});

for (const [crds, legacy] of [
  ["v0.9.4", false],
  ["≤ v0.7", true],
] as const)
  describe(`IPPool status on a cluster still serving Go's ${crds} CRDs`, () => {
    let api: ApiDouble;
    before(async () => {
      api = await startApiDouble({ tls: true, token: "go-crds", legacyWhereaboutsCrds: legacy });
    });
    after(() => api?.stop());

    it("is pruned by the apiserver without a word, and ADD and DEL work", async () => {
      const ns = freshNamespace();
      const config = networkOn(api, ns, { range: "10.44.0.0/24", exclude: ["10.44.0.1"] });
      await withStore(api, ns, async (store) => {
        assert.deepEqual(await add(store, config, "a"), ["10.44.0.2"]);
        assert.deepEqual(await add(store, config, "b"), ["10.44.0.3"]);
        // ≤ v0.7's schema prunes ifname too: a repeated ADD cannot find its entry there (the
        // "old CRDs, new code" hazard), so only v0.9.4's is asked to keep the address
        if (!legacy)
          assert.deepEqual(
            await add(store, config, "a"),
            ["10.44.0.2"],
            "the repeated ADD keeps its address",
          );
        const p = await pool(api, ns, "10.44.0.0-24");
        assert.equal(p.status, undefined);
        assert.deepEqual(Object.keys(p.spec.allocations).sort(), ["2", "3"]);
        assert.equal((await del(store, config, "a")).length, 1);
        assert.deepEqual(Object.keys((await pool(api, ns, "10.44.0.0-24")).spec.allocations), ["3"]);
        const stored = (await api.objects()).collections["ippools.whereabouts.cni.cncf.io"] as {
          status?: unknown;
        }[];
        assert.ok(
          stored.every((o) => o.status === undefined),
          "nothing of it reaches etcd",
        );
      });
    });
  });
