// The Kubernetes store against the API double (test/k8s-api: a separate process with the
// apiserver's semantics), over TLS with a bearer token as install-cni.sh configures it: the Store
// conformance suite (a fresh namespace per test through the kubeconfig's context), the request
// budget of ADD and DEL, the objects exactly as Go Whereabouts writes them, reservations written
// by Go, faults (409/5xx/429/dropped connections, answers lost after a write landed) survived
// without a half-applied change, TLS and credential errors, an unreachable server, kubeconfig
// errors, the CRD manifests, and the store running under Bun.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { load as loadYaml } from "js-yaml";
import { viewPool } from "../../src/allocator/pool-view.ts";
import { toCniError } from "../../src/cni/skel.ts";
import type { IpamConfig } from "../../src/config/types.ts";
import { ConfigError, StoreRefusedError, StoreUnavailableError } from "../../src/errors/errors.ts";
import { formatIP, parseCidr } from "../../src/ip/index.ts";
import { addAttachment } from "../../src/ipam/add.ts";
import { deleteAttachment } from "../../src/ipam/del.ts";
import { type Deadline, deadlineIn } from "../../src/ipam/retry.ts";
import { KubeClient } from "../../src/kube/client.ts";
import { loadKubeconfig } from "../../src/kube/kubeconfig.ts";
import type { Logger } from "../../src/log/logger.ts";
import { createTransport, type Transport } from "../../src/net/http-transport.ts";
import { reservationName } from "../../src/pool/naming.ts";
import {
  KubernetesStore,
  type KubernetesStoreOptions,
  openKubernetesStore,
} from "../../src/store/kubernetes/kubernetes-store.ts";
import type { Store } from "../../src/store/store.ts";
import { IPPOOL_SCHEMA, NODESLICEPOOL_SCHEMA, ORIP_SCHEMA } from "../k8s-api/crds.ts";
import type { FaultRule } from "../k8s-api/faults.ts";
import { type ApiDouble, startApiDouble } from "../k8s-api/harness.ts";
import type { Schema } from "../k8s-api/schema.ts";
import { alloc, change, reservation, storeConformance } from "../store/conformance.ts";
import { networkOn, requestsIn as requestsServed } from "./double-support.ts";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const bun = join(root, "node_modules", "@oven", "bun-linux-x64", "bin", "bun");
const WB = "/apis/whereabouts.cni.cncf.io/v1alpha1";
const TOKEN = "s3cret-token";
const quiet: Logger = { debug() {}, verbose() {}, error() {} };

let api: ApiDouble;
let serial = 0;
/** A namespace no other test uses: every test gets empty collections. */
const freshNamespace = (): string => `st-${process.pid % 10_000}-${serial++}`;

before(async () => {
  api = await startApiDouble({ tls: true, token: TOKEN });
});
after(() => api?.stop());

function open(namespace: string, options: KubernetesStoreOptions = { timeoutMs: 5_000 }) {
  return openKubernetesStore(api.kubeconfigPath(namespace), options);
}

async function withStore<T>(
  namespace: string,
  run: (store: KubernetesStore) => Promise<T>,
  options?: KubernetesStoreOptions,
): Promise<T> {
  const store = await open(namespace, options);
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

/** Requests the double served in `namespace` since the last reset, as "verb plural" → count. */
const requestsIn = (namespace: string) => requestsServed(api, namespace);

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** A loaded IPAM config of one network (no flat file), stored in `namespace`. */
const network = (namespace: string, ipam: Record<string, unknown>): IpamConfig =>
  networkOn(api, namespace, ipam);

async function add(store: Store, config: IpamConfig, containerId: string, podRef: string, ifName = "eth0") {
  const outcome = await addAttachment(
    store,
    config,
    { containerId, podRef, ifName },
    deadlineIn(20_000),
    quiet,
  );
  return outcome.addresses.map((a) => formatIP(a.address));
}

async function del(store: Store, config: IpamConfig, containerId: string, ifName = "eth0") {
  return deleteAttachment(store, config, { containerId, ifName }, undefined, deadlineIn(20_000));
}

/**
 * No entry without its reservation (held by the entry's pod) and, when `exact`, no reservation
 * without its entry either.
 */
async function assertConsistent(
  store: Store,
  networkName: string,
  exact = true,
  pools?: readonly string[],
): Promise<void> {
  const reservations = new Map((await store.listReservations()).map((r) => [r.name, r]));
  const covered = new Set<string>();
  for (const pool of await store.listPools()) {
    if (pools !== undefined && !pools.includes(pool.name)) continue;
    const range = parseCidr(pool.range);
    assert.ok(range, `pool ${pool.name} has a range`);
    for (const e of viewPool(pool, { family: range.family, value: range.address }).entries) {
      const name = reservationName(e.address, networkName);
      assert.equal(reservations.get(name)?.podRef, e.allocation.podRef, `reservation of ${name}`);
      covered.add(name);
    }
  }
  if (exact)
    assert.deepEqual(
      [...reservations.keys()].filter((n) => !covered.has(n)),
      [],
      "stray reservations",
    );
}

function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

async function raw(path: string): Promise<Record<string, unknown>> {
  const r = await api.request("GET", path);
  assert.equal(r.status, 200, r.body);
  return r.json();
}

async function post(path: string, body: object): Promise<void> {
  const r = await api.request("POST", path, body);
  assert.equal(r.status, 201, r.body);
}

storeConformance("kubernetes (API double over TLS)", async () => {
  const namespace = freshNamespace();
  const store = await open(namespace);
  return {
    store,
    reopen: () => open(namespace),
    cleanup: () => store.close(),
    undoesPoolWrites: true,
    dropsUnnamedReservations: false,
  };
});

describe("Kubernetes store: requests per operation (uncontended)", () => {
  it("ADD costs 3 requests with overlapping ranges, 3 without (one a read of the NodeSlicePool); DEL 3; a new pool GET 404 + POSTs", async () => {
    const ns = freshNamespace();
    const overlapping = network(ns, { range: "10.20.0.0/24", enable_overlapping_ranges: true });
    const plain = network(ns, { range: "10.21.0.0/24", enable_overlapping_ranges: false });
    await withStore(ns, async (store) => {
      const step = async (run: () => Promise<unknown>) => {
        await api.resetRequests();
        const before = store.requests;
        await run();
        const counts = await requestsIn(ns);
        assert.equal(store.requests - before, total(counts), "the store counts what the server saw");
        return counts;
      };
      assert.deepEqual(await step(() => add(store, overlapping, "c1", "ns/p1")), {
        "get ippools": 1,
        "create overlappingrangeipreservations": 1,
        "create ippools": 1,
      });
      assert.deepEqual(await step(() => add(store, overlapping, "c2", "ns/p2")), {
        "get ippools": 1,
        "create overlappingrangeipreservations": 1,
        "patch ippools": 1,
      });
      // DEL at the store: read the pool, one commit (PATCH + DELETE collection) ...
      const held = (await store.getPool("10.20.0.0-24")).allocations.get("1")!;
      await api.resetRequests();
      assert.deepEqual(
        await store.commit(
          change("10.20.0.0-24", {
            remove: [["1", held]],
            unreserve: [{ name: "10.20.0.1", ...held }],
          }),
        ),
        { ok: true },
      );
      assert.deepEqual(await requestsIn(ns), {
        "patch ippools": 1,
        "deletecollection overlappingrangeipreservations": 1,
      });
      await add(store, overlapping, "c1", "ns/p1");
      // ... and the orchestration's DEL reads the pool once more after a successful batch to see
      // whether entries are left (src/ipam/release.ts): at most one more GET.
      const delCounts = await step(() => del(store, overlapping, "c1"));
      assert.deepEqual(
        { ...delCounts, "get ippools": 1 },
        {
          "get ippools": 1,
          "patch ippools": 1,
          "deletecollection overlappingrangeipreservations": 1,
        },
      );
      assert.ok(delCounts["get ippools"]! <= 2);
      // Without the reservations an ADD also looks whether the network is sliced elsewhere (a
      // whole-range ADD there is refused: nothing else would keep the two apart).
      assert.deepEqual(await step(() => add(store, plain, "c3", "ns/p3")), {
        "get nodeslicepools": 1,
        "get ippools": 1,
        "create ippools": 1,
      });
      assert.deepEqual(await step(() => add(store, plain, "c4", "ns/p4")), {
        "get nodeslicepools": 1,
        "get ippools": 1,
        "patch ippools": 1,
      });
      const plainDel = await step(() => del(store, plain, "c4"));
      assert.deepEqual({ ...plainDel, "get ippools": 1 }, { "get ippools": 1, "patch ippools": 1 });
      // A repeated ADD from a new container of the same pod: the entry and the reservation are
      // rewritten with the new container id (the reservation is looked up rather than created).
      assert.deepEqual(await step(() => add(store, overlapping, "c2-restarted", "ns/p2")), {
        "get ippools": 1,
        "get overlappingrangeipreservations": 1,
        "patch ippools": 1,
        "patch overlappingrangeipreservations": 1,
      });
      // ADD repeated as is: read pool, look at the reservation, nothing to write.
      assert.deepEqual(await step(() => add(store, overlapping, "c2-restarted", "ns/p2")), {
        "get ippools": 1,
        "get overlappingrangeipreservations": 1,
      });
      // DEL of an attachment that holds nothing: one read.
      assert.deepEqual(await step(() => del(store, overlapping, "c-unknown")), { "get ippools": 1 });
      await assertConsistent(store, "", true, ["10.20.0.0-24"]);
    });
  });

  it("a conflict costs the PATCH and one read, and the retry reuses that read", async () => {
    const ns = freshNamespace();
    await withStore(ns, async (store) => {
      assert.deepEqual(await store.commit(change("p", { create: [["1", alloc("c1", "ns/a")]] })), {
        ok: true,
      });
      await api.resetRequests();
      assert.deepEqual(await store.commit(change("p", { create: [["1", alloc("c2", "ns/b")]] })), {
        ok: false,
        conflict: "entry",
        key: "1",
      });
      assert.deepEqual(await requestsIn(ns), { "patch ippools": 1, "get ippools": 1 });
      await api.resetRequests();
      const pool = await store.getPool("p");
      assert.deepEqual([...pool.allocations.keys()], ["1"]);
      assert.deepEqual(await requestsIn(ns), {});
    });
  });
});

describe("Kubernetes store: listing and API errors", () => {
  it("lists pools and reservations page by page", async () => {
    const ns = freshNamespace();
    await withStore(
      ns,
      async (store) => {
        for (let i = 1; i <= 5; i++)
          await store.commit(
            change(`p${i}`, {
              create: [[String(i), alloc(`c${i}`, `ns/p${i}`)]],
              reserve: [reservation(`10.0.0.${i}`, `ns/p${i}`, "eth0", `c${i}`)],
            }),
          );
        await api.resetRequests();
        assert.deepEqual(
          (await store.listPools()).map((p) => p.name),
          ["p1", "p2", "p3", "p4", "p5"],
        );
        assert.equal((await store.listReservations()).length, 5);
        assert.deepEqual(await requestsIn(ns), {
          "list ippools": 3,
          "list overlappingrangeipreservations": 3,
        });
      },
      { timeoutMs: 5_000, listPageSize: 2 },
    );
  });

  it("an object the apiserver refuses (an invalid name) is a permanent error with its Status message", async () => {
    await withStore(freshNamespace(), async (store) => {
      const started = Date.now();
      await assert.rejects(
        store.commit(change("Blue-10.0.0.0-24", { create: [["1", alloc("c1", "ns/a")]] })),
        (error: unknown) => {
          assert.ok(error instanceof StoreRefusedError, String(error));
          assert.equal(toCniError(error).code, 5);
          assert.match(
            error.message,
            /metadata\.name: Invalid value: "Blue-10\.0\.0\.0-24": a lowercase RFC 1123/,
          );
          return true;
        },
      );
      assert.ok(Date.now() - started < 1_000, "not retried");
    });
  });
});

describe("Kubernetes store: objects exactly as Go Whereabouts writes them", () => {
  it("names pools and reservations, keys entries by offset, writes {id, podref, ifname} and the owner label", async () => {
    const ns = freshNamespace();
    const config = network(ns, {
      network_name: "blue",
      ipRanges: [{ range: "10.30.0.0/24" }, { range: "fd00:0:0:10::/120" }],
      enable_overlapping_ranges: true,
    });
    await withStore(ns, async (store) => {
      assert.deepEqual(await add(store, config, "c-dual", "ns/dual", "net1"), [
        "10.30.0.1",
        "fd00:0:0:10::1",
      ]);
    });
    const base = `${WB}/namespaces/${ns}`;
    const v4 = await raw(`${base}/ippools/blue-10.30.0.0-24`);
    assert.equal(v4["kind"], "IPPool");
    assert.deepEqual(v4["spec"], {
      range: "10.30.0.0/24",
      allocations: { "1": { id: "c-dual", podref: "ns/dual", ifname: "net1" } },
    });
    const v6 = await raw(`${base}/ippools/blue-fd00-0-0-10---120`);
    assert.deepEqual(v6["spec"], {
      range: "fd00:0:0:10::/120",
      allocations: { "1": { id: "c-dual", podref: "ns/dual", ifname: "net1" } },
    });
    for (const name of ["blue-10.30.0.1", "blue-fd00-0-0-10--1"]) {
      const orip = await raw(`${base}/overlappingrangeipreservations/${name}`);
      assert.equal(orip["kind"], "OverlappingRangeIPReservation");
      assert.deepEqual(orip["spec"], { containerid: "c-dual", ifname: "net1", podref: "ns/dual" });
      const labels = (orip["metadata"] as { labels: Record<string, string> }).labels;
      assert.deepEqual(labels, { "thereabouts.cni.cncf.io/owner": sha1("ns/dual/net1/c-dual") });
      assert.match(labels["thereabouts.cni.cncf.io/owner"]!, /^[0-9a-f]{40}$/);
    }
  });

  it("leaves ifname out when empty, and reads legacy entries and keys verbatim", async () => {
    const ns = freshNamespace();
    const base = `${WB}/namespaces/${ns}`;
    await withStore(ns, async (store) => {
      await store.commit(
        change("p", {
          create: [["7", alloc("c7", "ns/x", "")]],
          reserve: [reservation("10.0.0.7", "ns/x", "", "c7")],
        }),
      );
      const pool = await raw(`${base}/ippools/p`);
      assert.deepEqual((pool["spec"] as { allocations: unknown }).allocations, {
        "7": { id: "c7", podref: "ns/x" },
      });
      const orip = await raw(`${base}/overlappingrangeipreservations/10.0.0.7`);
      assert.deepEqual(orip["spec"], { containerid: "c7", podref: "ns/x" });

      // Written by Whereabouts <= v0.7 / pre-0.5 code: no ifname, no podref, odd keys.
      await post(`${base}/ippools`, {
        apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
        kind: "IPPool",
        metadata: { name: "legacy" },
        spec: {
          range: "10.1.0.0/24",
          allocations: { "+5": { id: "old5", podref: "ns/old" }, "-1": { id: "neg", podref: "ns/neg" } },
        },
      });
      const legacy = await store.getPool("legacy");
      assert.deepEqual([...legacy.allocations].sort(), [
        ["+5", alloc("old5", "ns/old", "")],
        ["-1", alloc("neg", "ns/neg", "")],
      ]);
      assert.deepEqual(
        await store.commit(change("legacy", { remove: [["+5", alloc("old5", "ns/old", "")]] })),
        {
          ok: true,
        },
      );
      assert.deepEqual([...(await store.getPool("legacy")).allocations.keys()], ["-1"]);
    });
  });

  it('removes an entry stored in another encoding (explicit ifname "") by testing it as stored', async () => {
    const ns = freshNamespace();
    const base = `${WB}/namespaces/${ns}`;
    await post(`${base}/ippools`, {
      apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
      kind: "IPPool",
      metadata: { name: "odd" },
      spec: { range: "10.2.0.0/24", allocations: { "3": { id: "c3", podref: "ns/c", ifname: "" } } },
    });
    await withStore(ns, async (store) => {
      await store.getPool("odd");
      await api.resetRequests();
      assert.deepEqual(await store.commit(change("odd", { remove: [["3", alloc("c3", "ns/c", "")]] })), {
        ok: true,
      });
      assert.deepEqual(await requestsIn(ns), { "patch ippools": 2, "get ippools": 1 });
      assert.equal((await store.getPool("odd")).allocations.size, 0);
    });
  });
});

describe("Kubernetes store: reservations written by Go Whereabouts", () => {
  const goReservation = (ns: string, name: string, podref: string, ifname: string) =>
    post(`${WB}/namespaces/${ns}/overlappingrangeipreservations`, {
      apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
      kind: "OverlappingRangeIPReservation",
      metadata: { name },
      spec: { podref, ifname },
    });

  it("is released only by its owner, at the resourceVersion read", async () => {
    const ns = freshNamespace();
    await goReservation(ns, "10.0.0.9", "ns/go", "eth0");
    await withStore(ns, async (store) => {
      for (const stranger of [
        reservation("10.0.0.9", "ns/other"),
        reservation("10.0.0.9", "ns/go", "net1"),
      ]) {
        assert.deepEqual(await store.commit(change("p", { unreserve: [stranger] })), { ok: true });
        assert.equal((await store.getReservation("10.0.0.9"))?.podRef, "ns/go");
      }
      const taken = await store.commit(
        change("p", {
          create: [["9", alloc("c-x", "ns/x")]],
          reserve: [reservation("10.0.0.9", "ns/x", "eth0", "c-x")],
        }),
      );
      assert.deepEqual(taken, {
        ok: false,
        conflict: "reservation",
        holder: { name: "10.0.0.9", podRef: "ns/go", ifName: "eth0", containerId: "" },
      });
      assert.equal((await store.getPool("p")).allocations.size, 0);
      await api.resetRequests();
      assert.deepEqual(
        await store.commit(
          change("p", { unreserve: [reservation("10.0.0.9", "ns/go", "eth0", "go-container")] }),
        ),
        { ok: true },
      );
      assert.deepEqual(await requestsIn(ns), {
        "deletecollection overlappingrangeipreservations": 1,
        "get overlappingrangeipreservations": 1,
        "delete overlappingrangeipreservations": 1,
      });
      assert.equal(await store.getReservation("10.0.0.9"), undefined);
    });
  });

  it("is accepted by its owner, which records its container id and label on it", async () => {
    const ns = freshNamespace();
    await goReservation(ns, "10.0.0.4", "ns/go", "eth0");
    await withStore(ns, async (store) => {
      const mine = reservation("10.0.0.4", "ns/go", "eth0", "c-new");
      assert.deepEqual(
        await store.commit(change("p", { create: [["4", alloc("c-new", "ns/go")]], reserve: [mine] })),
        {
          ok: true,
        },
      );
      const orip = await raw(`${WB}/namespaces/${ns}/overlappingrangeipreservations/10.0.0.4`);
      assert.deepEqual(orip["spec"], { containerid: "c-new", ifname: "eth0", podref: "ns/go" });
      assert.deepEqual((orip["metadata"] as { labels: unknown }).labels, {
        "thereabouts.cni.cncf.io/owner": sha1("ns/go/eth0/c-new"),
      });
    });
  });
});

describe("Kubernetes store: deleting reservations", () => {
  it("the double deletes custom resources by field and label selector and answers the list", async () => {
    const ns = freshNamespace();
    const path = `${WB}/namespaces/${ns}/overlappingrangeipreservations`;
    for (const [name, owner] of [
      ["10.0.0.1", "a"],
      ["10.0.0.2", "a"],
      ["10.0.0.3", "b"],
    ] as const)
      await post(path, {
        apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
        kind: "OverlappingRangeIPReservation",
        metadata: { name, labels: { "thereabouts.cni.cncf.io/owner": owner } },
        spec: { podref: `ns/${owner}` },
      });
    const query = (name: string, owner: string) =>
      `${path}?fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}&labelSelector=${encodeURIComponent(`thereabouts.cni.cncf.io/owner=${owner}`)}`;
    const miss = await api.request("DELETE", query("10.0.0.3", "a"));
    assert.equal(miss.status, 200, miss.body);
    assert.deepEqual(miss.json().items, []);
    const hit = await api.request("DELETE", query("10.0.0.1", "a"));
    assert.equal(hit.status, 200, hit.body);
    assert.equal(hit.json().kind, "OverlappingRangeIPReservationList");
    assert.deepEqual(
      hit.json().items.map((i: { metadata: { name: string } }) => i.metadata.name),
      ["10.0.0.1"],
    );
    const left = (await api.request("GET", path)).json();
    assert.deepEqual(
      left.items.map((i: { metadata: { name: string } }) => i.metadata.name),
      ["10.0.0.2", "10.0.0.3"],
    );
  });

  it("falls back to GET + DELETE when deletecollection is forbidden (RBAC without that verb)", async () => {
    const ns = freshNamespace();
    const connection = await loadKubeconfig(api.kubeconfigPath(ns));
    const inner = createTransport(connection.tls);
    let refused = 0;
    const transport: Transport = {
      request(method, url, body, headers, signal) {
        if (method === "DELETE" && url.includes("?")) {
          refused++;
          return Promise.resolve({
            status: 403,
            body: JSON.stringify({ kind: "Status", status: "Failure", message: "forbidden", code: 403 }),
          });
        }
        return inner.request(method, url, body, headers, signal);
      },
      close: () => inner.close(),
    };
    const store = new KubernetesStore(
      new KubeClient({ connection, transport, attemptTimeoutMs: 3_000 }),
      connection.namespace,
      5_000,
    );
    try {
      for (const i of [1, 2]) {
        const held = reservation(`10.0.0.${i}`, `ns/p${i}`, "eth0", `c${i}`);
        await store.commit(
          change("p", { create: [[String(i), alloc(`c${i}`, `ns/p${i}`)]], reserve: [held] }),
        );
      }
      for (const i of [1, 2]) {
        const held = reservation(`10.0.0.${i}`, `ns/p${i}`, "eth0", `c${i}`);
        assert.deepEqual(
          await store.commit(
            change("p", { remove: [[String(i), alloc(`c${i}`, `ns/p${i}`)]], unreserve: [held] }),
          ),
          { ok: true },
        );
      }
      assert.equal(refused, 1, "deletecollection is not tried again once refused");
      assert.deepEqual(await store.listReservations(), []);
    } finally {
      await store.close();
    }
  });
});

describe("Kubernetes store: faults are survived and never leave a half-applied change", () => {
  const cases: [string, (ns: string) => FaultRule[], KubernetesStoreOptions?][] = [
    [
      "409 on the reservation create",
      (ns) => [
        {
          kind: "conflict",
          verb: "create",
          resource: "overlappingrangeipreservations",
          namespace: ns,
          times: 1,
        },
      ],
    ],
    [
      "409 on the pool patch",
      (ns) => [{ kind: "conflict", verb: "patch", resource: "ippools", namespace: ns, times: 2 }],
    ],
    [
      "500 on the pool patch, twice",
      (ns) => [{ kind: "internalError", verb: "patch", namespace: ns, times: 2 }],
    ],
    ["503 on reads", (ns) => [{ kind: "serviceUnavailable", verb: "get", namespace: ns, times: 3 }]],
    ["504 on every kind of request once", (ns) => [{ kind: "gatewayTimeout", namespace: ns, times: 4 }]],
    [
      "429 (APF) on the next requests",
      (ns) => [{ kind: "tooManyRequests", namespace: ns, times: 2, retryAfterSeconds: 0 }],
    ],
    ["dropped connections", (ns) => [{ kind: "timeout", namespace: ns, holdMs: 50, times: 3 }]],
    [
      "requests that hang past the attempt timeout",
      (ns) => [{ kind: "timeout", verb: ["patch", "create"], namespace: ns, holdMs: 1_500, times: 2 }],
      { timeoutMs: 8_000, attemptTimeoutMs: 300 },
    ],
    [
      "a pool patch that landed but was answered 500",
      (ns) => [
        { kind: "internalError", verb: "patch", resource: "ippools", namespace: ns, after: true, times: 2 },
      ],
    ],
    [
      "a reservation create that landed but whose answer was lost",
      (ns) => [
        {
          kind: "timeout",
          verb: "create",
          resource: "overlappingrangeipreservations",
          namespace: ns,
          holdMs: 20,
          after: true,
          times: 2,
        },
      ],
    ],
    [
      "a pool create that landed but was answered 503",
      (ns) => [
        {
          kind: "serviceUnavailable",
          verb: "create",
          resource: "ippools",
          namespace: ns,
          after: true,
          times: 1,
        },
      ],
    ],
    [
      "a deletecollection that landed but was answered 500",
      (ns) => [{ kind: "internalError", verb: "deletecollection", namespace: ns, after: true, times: 1 }],
    ],
  ];
  for (const [name, rules, options] of cases) {
    it(`survives ${name}`, async () => {
      const ns = freshNamespace();
      const config = network(ns, { range: "10.40.0.0/24", enable_overlapping_ranges: true });
      await api.setFaults(rules(ns));
      try {
        await withStore(
          ns,
          async (store) => {
            const started = Date.now();
            assert.deepEqual(await add(store, config, "c1", "ns/p1"), ["10.40.0.1"]);
            assert.deepEqual(await add(store, config, "c2", "ns/p2"), ["10.40.0.2"]);
            assert.equal((await del(store, config, "c1")).length, 1);
            assert.deepEqual(await add(store, config, "c3", "ns/p3"), ["10.40.0.1"]);
            assert.ok(Date.now() - started < 8_000, `took ${Date.now() - started} ms`);
          },
          options ?? { timeoutMs: 5_000 },
        );
      } finally {
        await api.clearFaults();
      }
      await withStore(ns, async (store) => {
        await assertConsistent(store, "");
        const pool = await store.getPool("10.40.0.0-24");
        assert.deepEqual([...pool.allocations].sort(), [
          ["1", alloc("c3", "ns/p3")],
          ["2", alloc("c2", "ns/p2")],
        ]);
      });
    });
  }

  it("honours Retry-After on 429", async () => {
    const ns = freshNamespace();
    await api.setFaults([{ kind: "tooManyRequests", namespace: ns, times: 1, retryAfterSeconds: 1 }]);
    try {
      await withStore(ns, async (store) => {
        const started = Date.now();
        await store.getPool("p");
        assert.ok(Date.now() - started >= 950, `retried after ${Date.now() - started} ms`);
      });
    } finally {
      await api.clearFaults();
    }
  });

  it("a pool write that keeps failing fails the ADD with code 11 and leaves nothing behind", async () => {
    const ns = freshNamespace();
    const config = network(ns, { range: "10.41.0.0/24", enable_overlapping_ranges: true });
    await withStore(ns, (store) => add(store, config, "c0", "ns/p0"));
    await api.setFaults([{ kind: "internalError", verb: "patch", resource: "ippools", namespace: ns }]);
    try {
      await withStore(
        ns,
        async (store) => {
          const started = Date.now();
          await assert.rejects(add(store, config, "c1", "ns/p1"), (error: unknown) => {
            assert.ok(error instanceof StoreUnavailableError, String(error));
            assert.equal(toCniError(error).code, 11);
            assert.match(error.message, new RegExp(`Kubernetes API at ${api.url}`));
            assert.match(error.message, /Internal error occurred/);
            return true;
          });
          assert.ok(Date.now() - started < 4_000, `took ${Date.now() - started} ms`);
        },
        { timeoutMs: 1_500 },
      );
    } finally {
      await api.clearFaults();
    }
    await withStore(ns, async (store) => {
      // The pool is written before the reservation: a pool write that never landed left neither.
      await assertConsistent(store, "");
      assert.equal((await store.listReservations()).length, 1, "only p0's reservation");
      assert.deepEqual(await add(store, config, "c1-retry", "ns/p1"), ["10.41.0.2"]);
      await assertConsistent(store, "");
    });
  });

  it("concurrent ADDs and DELs under random faults hand out no address twice and stay consistent", async () => {
    const ns = freshNamespace();
    const config = network(ns, { range: "10.42.0.0/24", enable_overlapping_ranges: true });
    // (The apiserver answers 409 only to writes.)
    const faults: FaultRule[] = [
      { kind: "conflict", verb: ["create", "patch"], namespace: ns, probability: 0.04 },
      ...(["internalError", "serviceUnavailable", "tooManyRequests", "timeout"] as const).flatMap((kind) => [
        { kind, namespace: ns, probability: 0.04, holdMs: 30, retryAfterSeconds: 0 },
        { kind, namespace: ns, probability: 0.04, holdMs: 30, retryAfterSeconds: 0, after: true },
      ]),
    ];
    await api.setFaults(faults);
    const reported = new Map<string, string>();
    try {
      await Promise.all(
        Array.from({ length: 8 }, (_, w) =>
          withStore(
            ns,
            async (store) => {
              for (let i = 0; i < 6; i++) {
                const podRef = `ns/w${w}-${i}`;
                const [address] = await add(store, config, `c-${w}-${i}`, podRef);
                assert.ok(address);
                assert.equal(reported.get(address), undefined, `${address} handed out twice`);
                reported.set(address, podRef);
                if (i % 3 === 2) {
                  // Released from the moment the DEL starts: its entry may be gone (and the
                  // address handed out again) before del() returns.
                  reported.delete(address);
                  assert.equal((await del(store, config, `c-${w}-${i}`)).length, 1);
                }
              }
            },
            { timeoutMs: 10_000 },
          ),
        ),
      );
    } finally {
      await api.clearFaults();
    }
    await withStore(ns, async (store) => {
      const pool = await store.getPool("10.42.0.0-24");
      const held = new Map(
        viewPool(pool, { family: 4, value: parseCidr("10.42.0.0/24")!.address }).entries.map((e) => [
          formatIP(e.address),
          e.allocation.podRef,
        ]),
      );
      assert.deepEqual(new Map([...held].sort()), new Map([...reported].sort()));
      await assertConsistent(store, "");
    });
  });
});

describe("Kubernetes store: TLS, credentials and reachability", () => {
  /** As the plugin reports it: the CNI code of the error's kind, the plugin's advice in the details. */
  const rejectsWith = (code: number, pattern: RegExp) => (error: unknown) => {
    const reported = toCniError(error);
    assert.equal(reported.code, code, reported.message);
    assert.match(`${reported.message} ${reported.details ?? ""}`, pattern);
    return true;
  };

  it("verifies the server with certificate-authority-data and sends the bearer token", async () => {
    const ns = freshNamespace();
    const kubeconfig = readFileSync(api.kubeconfigPath(ns), "utf8");
    assert.match(kubeconfig, /certificate-authority-data: /);
    assert.match(kubeconfig, /token: /);
    await withStore(ns, (store) => store.ping());
  });

  it("a wrong token fails at once with a clear, permanent error", async () => {
    const store = await openKubernetesStore(api.kubeconfigPath(freshNamespace(), { token: "wrong" }), {
      timeoutMs: 5_000,
    });
    const started = Date.now();
    try {
      await assert.rejects(
        store.getPool("p"),
        rejectsWith(5, /Unauthorized.*HTTP 401.*credentials in kubeconfig/),
      );
      await assert.rejects(store.ping(), rejectsWith(5, /Unauthorized/));
    } finally {
      await store.close();
    }
    assert.ok(Date.now() - started < 1_000, "not retried");
  });

  it("no token: the anonymous user is forbidden, and the error says which permissions are needed", async () => {
    const store = await openKubernetesStore(api.kubeconfigPath(freshNamespace(), { token: null }));
    try {
      await assert.rejects(store.getPool("p"), rejectsWith(5, /forbidden.*HTTP 403.*deletecollection/s));
    } finally {
      await store.close();
    }
  });

  it("a server certificate the kubeconfig does not trust is a TLS error; insecure-skip-tls-verify accepts it", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "thereabouts-kubeconfig-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "kubeconfig");
    const kubeconfig = (cluster: string) =>
      `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: ${api.url}\n${cluster}users:\n- name: u\n  user:\n    token: ${TOKEN}\ncontexts:\n- name: x\n  context: {cluster: c, user: u, namespace: ${freshNamespace()}}\ncurrent-context: x\n`;
    writeFileSync(path, kubeconfig(""));
    const untrusted = await openKubernetesStore(path, { timeoutMs: 5_000 });
    try {
      await assert.rejects(untrusted.ping(), rejectsWith(5, /TLS.*(self.signed|verify|certificate|issuer)/i));
    } finally {
      await untrusted.close();
    }
    writeFileSync(path, kubeconfig("    insecure-skip-tls-verify: true\n"));
    const insecure = await openKubernetesStore(path, { timeoutMs: 5_000 });
    try {
      await insecure.ping();
    } finally {
      await insecure.close();
    }
  });

  it("an unreachable server is StoreUnavailableError (code 11) naming it, within the call's budget", async () => {
    const closed = await freePort();
    const path = kubeconfigFile(`http://127.0.0.1:${closed}`, "ns");
    const store = await openKubernetesStore(path, { timeoutMs: 1_000 });
    const started = Date.now();
    try {
      await assert.rejects(store.getPool("p"), (error: unknown) => {
        assert.ok(error instanceof StoreUnavailableError, String(error));
        assert.equal(toCniError(error).code, 11);
        assert.match(error.message, new RegExp(`Kubernetes API at http://127\\.0\\.0\\.1:${closed}`));
        assert.match(error.message, /ECONNREFUSED|refused|Unable to connect/i);
        return true;
      });
    } finally {
      await store.close();
    }
    const took = Date.now() - started;
    assert.ok(took >= 900 && took < 2_000, `took ${took} ms`);
  });

  it("a call whose caller's deadline is nearly spent fails with code 11 at that deadline, not at the store's budget", async () => {
    const ns = freshNamespace();
    await withStore(ns, async (store) => {
      await api.setFaults([{ kind: "delay", namespace: ns, holdMs: 2_000 }]);
      try {
        for (const call of [
          (deadline: Deadline) => store.getPool("p", { deadline }),
          (deadline: Deadline) =>
            store.commit(change("p", { create: [["1", alloc("c", "ns/a")]] }), { deadline }),
          (deadline: Deadline) => store.dropReservations([reservation("10.0.0.1", "ns/a")], { deadline }),
        ]) {
          const started = Date.now();
          await assert.rejects(call(deadlineIn(300)), (error: unknown) => {
            assert.ok(error instanceof StoreUnavailableError, String(error));
            assert.equal(error.kind, "unavailable");
            return true;
          });
          const took = Date.now() - started;
          assert.ok(took >= 250 && took < 1_000, `gave up after ${took} ms, at the caller's deadline`);
        }
      } finally {
        await api.setFaults([]);
      }
    });
  });

  it("a server that accepts connections but never answers is cut at the attempt timeout and fails in time", async () => {
    const sockets = new Set<Socket>();
    const server: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const store = await openKubernetesStore(kubeconfigFile(`http://127.0.0.1:${port}`, "ns"), {
      timeoutMs: 1_200,
      attemptTimeoutMs: 400,
    });
    const started = Date.now();
    try {
      await assert.rejects(
        store.commit(change("p", { create: [["1", alloc("c", "ns/a")]] })),
        (error: unknown) => {
          assert.ok(error instanceof StoreUnavailableError, String(error));
          assert.match(error.message, /no answer within \d+ ms/);
          return true;
        },
      );
      assert.ok(store.requests >= 2, `${store.requests} attempts`);
    } finally {
      await store.close();
      for (const s of sockets) s.destroy();
      server.close();
    }
    assert.ok(Date.now() - started < 2_500, `took ${Date.now() - started} ms`);
  });
});

describe("Kubernetes store: kubeconfig errors", () => {
  /** As the plugin reports it: a configuration error (code 7), the plugin's advice in the details. */
  const rejectsConfig = (pattern: RegExp, details?: RegExp) => (error: unknown) => {
    const reported = toCniError(error);
    assert.ok(reported instanceof ConfigError, String(error));
    assert.equal(reported.code, 7);
    assert.match(reported.message, pattern);
    if (details) assert.match(reported.details ?? "", details);
    return true;
  };

  it("a missing file: Go's text naming the path", async () => {
    const path = join(tmpdir(), `no-such-kubeconfig-${process.pid}`);
    await assert.rejects(
      openKubernetesStore(path),
      rejectsConfig(new RegExp(`^open ${path}: no such file or directory$`), /kubernetes\.kubeconfig/),
    );
  });

  it("no current-context: Go's text", async () => {
    const path = kubeconfigFile(api.url, "ns", { currentContext: "" });
    await assert.rejects(
      openKubernetesStore(path),
      rejectsConfig(/^k8s config: namespace not present in context$/, /no current-context/),
    );
    const dangling = kubeconfigFile(api.url, "ns", { currentContext: "elsewhere" });
    await assert.rejects(
      openKubernetesStore(dangling),
      rejectsConfig(/namespace not present/, /"elsewhere"/),
    );
  });

  it("an exec user: says what to use instead", async () => {
    const path = kubeconfigFile(api.url, "ns", {
      user: "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n",
    });
    await assert.rejects(
      openKubernetesStore(path),
      rejectsConfig(
        /user "u" authenticates with an exec credential plugin \(aws\)/,
        /token.*client certificate/,
      ),
    );
  });

  it("a context without a namespace uses kube-system", async () => {
    const store = await openKubernetesStore(kubeconfigFile(api.url, ""));
    try {
      assert.equal(store.namespace, "kube-system");
    } finally {
      await store.close();
    }
  });
});

describe("Kubernetes store: CRD manifests (deploy/crds)", () => {
  const dir = join(root, "deploy", "crds");
  type Crd = {
    kind: string;
    metadata: { name: string };
    spec: {
      group: string;
      scope: string;
      names: { kind: string; plural: string; singular: string; listKind: string };
      versions: {
        name: string;
        served: boolean;
        storage: boolean;
        schema: { openAPIV3Schema: unknown };
        additionalPrinterColumns?: { name: string; jsonPath: string; type: string }[];
      }[];
    };
  };
  const read = (file: string) => loadYaml(readFileSync(join(dir, file), "utf8")) as Crd;

  /** The structural part of a schema (types, properties, required), descriptions dropped. */
  function structure(schema: unknown): unknown {
    const s = schema as Schema & { required?: string[] };
    return {
      type: s.type,
      ...(s.properties
        ? { properties: Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, structure(v)])) }
        : {}),
      ...(s.additionalProperties ? { additionalProperties: structure(s.additionalProperties) } : {}),
      ...(s.items ? { items: structure(s.items) } : {}),
      ...(s.required && s.required.length > 0 ? { required: [...s.required].sort() } : {}),
    };
  }

  it("has exactly the three whereabouts CRDs (and the kustomization listing them)", () => {
    assert.deepEqual(
      readdirSync(dir)
        .filter((f) => f !== "kustomization.yaml")
        .sort(),
      [
        "whereabouts.cni.cncf.io_ippools.yaml",
        "whereabouts.cni.cncf.io_nodeslicepools.yaml",
        "whereabouts.cni.cncf.io_overlappingrangeipreservations.yaml",
      ],
    );
  });

  /**
   * Ours adds to v0.9.4's schema, nothing else: an optional IPPool `status` (used, free), entry
   * fields `owner` and `parkedat`, and `spec.released` (offset key → time), all optional.
   */
  const spec = IPPOOL_SCHEMA.properties!["spec"]!;
  const entry = spec.properties!["allocations"]!.additionalProperties as Schema;
  const OURS: Record<string, Schema> = {
    ippools: {
      ...IPPOOL_SCHEMA,
      properties: {
        ...IPPOOL_SCHEMA.properties,
        spec: {
          ...spec,
          properties: {
            ...spec.properties,
            allocations: {
              ...spec.properties!["allocations"]!,
              additionalProperties: {
                ...entry,
                properties: { ...entry.properties, owner: { type: "string" }, parkedat: { type: "string" } },
              },
            },
            released: { type: "object", additionalProperties: { type: "string" } },
          },
        },
        status: { type: "object", properties: { used: { type: "integer" }, free: { type: "string" } } },
      },
    },
    overlappingrangeipreservations: ORIP_SCHEMA,
    nodeslicepools: NODESLICEPOOL_SCHEMA,
  };

  for (const [plural, kind, columns] of [
    [
      "ippools",
      "IPPool",
      [
        "Range:.spec.range:string",
        "Used:.status.used:integer",
        "Free:.status.free:string",
        "Age:.metadata.creationTimestamp:date",
      ],
    ],
    [
      "overlappingrangeipreservations",
      "OverlappingRangeIPReservation",
      ["PodRef:.spec.podref:string", "Interface:.spec.ifname:string", "Age:.metadata.creationTimestamp:date"],
    ],
    [
      "nodeslicepools",
      "NodeSlicePool",
      [
        "Range:.spec.range:string",
        "Slice Size:.spec.sliceSize:string",
        "Age:.metadata.creationTimestamp:date",
      ],
    ],
  ] as const) {
    it(`${plural}: v0.9.4's group, names, scope and schema (IPPools: plus status); printer columns`, () => {
      const crd = read(`whereabouts.cni.cncf.io_${plural}.yaml`);
      assert.equal(crd.kind, "CustomResourceDefinition");
      assert.equal(crd.metadata.name, `${plural}.whereabouts.cni.cncf.io`);
      assert.equal(crd.spec.group, "whereabouts.cni.cncf.io");
      assert.equal(crd.spec.scope, "Namespaced");
      assert.deepEqual(crd.spec.names, {
        kind,
        listKind: `${kind}List`,
        plural,
        singular: plural.replace(/s$/, ""),
      });
      assert.equal(crd.spec.versions.length, 1);
      const [version] = crd.spec.versions;
      assert.deepEqual([version!.name, version!.served, version!.storage], ["v1alpha1", true, true]);
      assert.equal(
        (version as { subresources?: unknown }).subresources,
        undefined,
        "no subresources, as Go's",
      );
      assert.deepEqual(structure(version!.schema.openAPIV3Schema), structure(OURS[plural]));
      assert.deepEqual(
        (version!.additionalPrinterColumns ?? []).map((c) => `${c.name}:${c.jsonPath}:${c.type}`),
        columns,
      );
    });
  }
});

describe("Kubernetes store under Bun (the shipped binary's runtime)", () => {
  it("reaches the double over TLS with the kubeconfig's CA and token through Bun's fetch", async () => {
    const ns = freshNamespace();
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        bun,
        [join(here, "store-bun-probe.ts"), api.kubeconfigPath(ns)],
        { timeout: 20_000 },
        (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
      ),
    );
    const reply = JSON.parse(stdout);
    assert.equal(reply.runtime, "bun");
    assert.deepEqual(reply.result, { ok: true }, stdout);
    assert.deepEqual(reply.entries, [["1", { containerId: "c-bun", podRef: "ns/bun", ifName: "eth0" }]]);
    assert.deepEqual(reply.reservation, {
      name: "10.9.0.1",
      podRef: "ns/bun",
      ifName: "eth0",
      containerId: "c-bun",
    });
    assert.deepEqual(reply.refreshed, {
      name: "10.9.0.1",
      podRef: "ns/bun",
      ifName: "eth0",
      containerId: "c-bun-2",
    });
    assert.deepEqual(reply.released, { ok: true });
    assert.equal(reply.left, null);
    const counts = await requestsIn(ns);
    assert.equal(counts["create ippools"], 1);
    // The refresh (merge patch) and the delete by resourceVersion (a DELETE with a body) went out.
    assert.equal(counts["patch overlappingrangeipreservations"], 1);
    assert.equal(counts["delete overlappingrangeipreservations"], 1);
  });
});

// ---- helpers ---------------------------------------------------------------------------------

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

let files = 0;
const fileDir = mkdtempSync(join(tmpdir(), "thereabouts-store-test-"));
after(() => rmSync(fileDir, { recursive: true, force: true }));

/** A kubeconfig for `server` with context namespace `namespace` ("" for none). */
function kubeconfigFile(
  server: string,
  namespace: string,
  options: { currentContext?: string; user?: string } = {},
): string {
  const path = join(fileDir, `kubeconfig-${files++}`);
  writeFileSync(
    path,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- name: c",
      "  cluster:",
      `    server: ${server}`,
      "    insecure-skip-tls-verify: true",
      "users:",
      "- name: u",
      "  user:",
      options.user ?? `    token: ${TOKEN}`,
      "contexts:",
      "- name: x",
      "  context:",
      "    cluster: c",
      "    user: u",
      ...(namespace === "" ? [] : [`    namespace: ${namespace}`]),
      `current-context: ${options.currentContext ?? "x"}`,
      "",
    ].join("\n"),
  );
  return path;
}
