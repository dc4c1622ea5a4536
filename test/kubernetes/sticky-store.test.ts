// Sticky entries and release records in the Kubernetes store, against the API double: with
// thereabouts' CRDs (deploy/crds, applied by the real kubectl) the Store contract's sticky parts
// hold, Go Whereabouts (its decoding rules, and a writer doing what Go's plugin does) sees every
// sticky address as taken and leaves our fields alone when it writes other entries, and Go's own
// entries stay byte for byte as Go wrote them when we write beside them. On a cluster still serving
// Go's CRD, which prunes our fields, a write that needs them fails with code 5 naming the fix.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { toCniError } from "../../src/cni/skel.ts";
import { StoredDataError } from "../../src/errors/errors.ts";
import type { Allocation } from "../../src/pool/allocation.ts";
import { type KubernetesStore, openKubernetesStore } from "../../src/store/kubernetes/kubernetes-store.ts";
import { type PoolChange, poolChange } from "../../src/store/store.ts";
import { type ApiDouble, startApiDouble } from "../k8s-api/harness.ts";
import { stickyConformance } from "../store/conformance-sticky.ts";
import { allocationOf, type RawPool, rawObjects, snapshotOf } from "./go-view.ts";
import { type GoNetwork, GoWriter, goPoolName } from "./go-writer.ts";

const here = dirname(fileURLToPath(import.meta.url));
const DEPLOY_CRDS = join(here, "..", "..", "deploy", "crds");
let serial = 0;
const freshNamespace = (): string => `sk-${process.pid % 10_000}-${serial++}`;

const NET: GoNetwork = { range: "10.60.0.0/24" };
const POOL = goPoolName(NET);
const change = (parts: Partial<PoolChange>) => poolChange(POOL, NET.range, parts);
const PARKED_AT = Date.UTC(2026, 0, 1, 0, 0, 0, 123);
const parked: Allocation = {
  containerId: "c-web-0",
  podRef: "ns/web-0",
  ifName: "eth0",
  owner: "statefulset/ns/web/0",
  parkedAt: PARKED_AT,
};
const vm: Allocation = {
  containerId: "c-vm",
  podRef: "ns/virt-launcher-vm1-x",
  ifName: "eth0",
  owner: "vm/ns/vm1",
};
const plain: Allocation = { containerId: "c-plain", podRef: "ns/plain", ifName: "eth0" };

async function withStore<T>(api: ApiDouble, ns: string, run: (s: KubernetesStore) => Promise<T>): Promise<T> {
  const store = await openKubernetesStore(api.kubeconfigPath(ns), { timeoutMs: 5_000 });
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

async function rawPool(api: ApiDouble, ns: string): Promise<RawPool & { spec: { released?: unknown } }> {
  const pool = (await rawObjects(api, ns)).pools.find((p) => p.metadata.name === POOL);
  assert.ok(pool !== undefined, `pool ${POOL} in ${ns}`);
  return pool;
}

describe("Kubernetes store with thereabouts' CRDs: sticky entries and release records", () => {
  let api: ApiDouble;
  before(async () => {
    // Plain HTTP without authentication: kubectl sends credentials only over TLS, and the Go
    // writer speaks plain HTTP.
    api = await startApiDouble();
    const applied = await api.kubectl(["apply", "-k", DEPLOY_CRDS, "--validate=false"]);
    assert.equal(applied.code, 0, applied.stderr);
  });
  after(() => api?.stop());

  stickyConformance("kubernetes (API double, thereabouts' CRDs)", async () => {
    const ns = freshNamespace();
    const open = () => openKubernetesStore(api.kubeconfigPath(ns), { timeoutMs: 5_000 });
    const store = await open();
    return {
      store,
      reopen: open,
      cleanup: () => store.close(),
      undoesPoolWrites: true,
      dropsUnnamedReservations: false,
    };
  });

  it("stores the fields next to Go's, which Go reads as three taken addresses; Go's ADD and DEL of another address leave them intact", async () => {
    const ns = freshNamespace();
    await withStore(api, ns, async (store) => {
      const created = change({
        create: [
          ["1", parked],
          ["2", vm],
          ["3", plain],
        ],
      });
      assert.deepEqual(await store.commit(created), { ok: true });
      assert.deepEqual(await store.commit(change({ release: [["9", PARKED_AT + 1]] })), { ok: true });
    });
    const before = await rawPool(api, ns);
    assert.deepStrictEqual(before.spec.allocations, {
      "1": {
        id: "c-web-0",
        podref: "ns/web-0",
        ifname: "eth0",
        owner: "statefulset/ns/web/0",
        parkedat: "2026-01-01T00:00:00.123Z",
      },
      "2": { id: "c-vm", podref: "ns/virt-launcher-vm1-x", ifname: "eth0", owner: "vm/ns/vm1" },
      "3": { id: "c-plain", podref: "ns/plain", ifname: "eth0" },
    });
    assert.deepStrictEqual(before.spec.released, { "9": "2026-01-01T00:00:00.124Z" });
    // Go's decoder reads id/podref/ifname only: each address is held by its last pod.
    assert.deepStrictEqual(
      [...snapshotOf(before).allocations],
      [
        ["1", allocationOf({ id: "c-web-0", podref: "ns/web-0", ifname: "eth0" })],
        ["2", allocationOf({ id: "c-vm", podref: "ns/virt-launcher-vm1-x", ifname: "eth0" })],
        ["3", allocationOf({ id: "c-plain", podref: "ns/plain", ifname: "eth0" })],
      ],
    );

    const go = new GoWriter({ url: api.url, namespace: ns });
    const added = await go.add(NET, { containerId: "go-1", podRef: "ns/go-1", ifName: "eth0" });
    assert.deepEqual(added.ok && added.address, "10.60.0.4", JSON.stringify(added));
    const removed = await go.del(NET, { containerId: "go-1", podRef: "ns/go-1", ifName: "eth0" });
    assert.deepEqual(removed, { ok: true, released: "10.60.0.4" });

    const afterGo = await rawPool(api, ns);
    assert.deepStrictEqual(afterGo.spec.allocations, before.spec.allocations);
    assert.deepStrictEqual(afterGo.spec.released, before.spec.released);
    await withStore(api, ns, async (store) => {
      const read = await store.getPool(POOL);
      assert.deepStrictEqual(
        read.allocations,
        new Map([
          ["1", parked],
          ["2", vm],
          ["3", plain],
        ]),
      );
      assert.deepStrictEqual(read.released, new Map([["9", PARKED_AT + 1]]));
    });
  });

  it("leaves Go's entries exactly as Go wrote them while it writes sticky entries and records beside them", async () => {
    const ns = freshNamespace();
    const go = new GoWriter({ url: api.url, namespace: ns });
    for (const id of ["go-1", "go-2", "go-3"]) {
      const added = await go.add(NET, { containerId: id, podRef: `ns/${id}`, ifName: "net1" });
      assert.ok(added.ok, JSON.stringify(added));
    }
    const removed = await go.del(NET, { containerId: "go-3", podRef: "ns/go-3", ifName: "net1" });
    assert.ok(removed.ok);
    const goWrote = JSON.stringify((await rawPool(api, ns)).spec.allocations);

    await withStore(api, ns, async (store) => {
      const read = await store.getPool(POOL);
      // Go's entries read with no sticky field at all.
      assert.deepStrictEqual(read.allocations.get("1"), {
        containerId: "go-1",
        podRef: "ns/go-1",
        ifName: "net1",
      });
      const result = await store.commit(
        change({ create: [["5", parked]], release: [["3", PARKED_AT]], forget: ["7"] }),
      );
      assert.deepEqual(result, { ok: true });
      const unpark = { ...parked, containerId: "c-web-0b" };
      delete (unpark as { parkedAt?: number }).parkedAt;
      assert.deepEqual(await store.commit(change({ update: [{ key: "5", from: parked, to: unpark }] })), {
        ok: true,
      });
    });
    const after = await rawPool(api, ns);
    const { "5": ours, ...theirs } = after.spec.allocations;
    assert.equal(JSON.stringify(theirs), goWrote, "Go's entries, byte for byte");
    assert.deepStrictEqual(ours, {
      id: "c-web-0b",
      podref: "ns/web-0",
      ifname: "eth0",
      owner: "statefulset/ns/web/0",
    });
    assert.deepStrictEqual(after.spec.released, { "3": "2026-01-01T00:00:00.123Z" });
  });
});

describe("Kubernetes store on a cluster still serving Go's IPPool CRD", () => {
  let api: ApiDouble;
  before(async () => {
    api = await startApiDouble();
  });
  after(() => api?.stop());

  it("fails a write whose sticky fields or records the apiserver pruned with code 5 naming the fix; plain writes work", async () => {
    const ns = freshNamespace();
    await withStore(api, ns, async (store) => {
      const pruned = (error: unknown) => {
        assert.ok(error instanceof StoredDataError, String(error));
        const reported = toCniError(error);
        assert.equal(reported.code, 5);
        assert.match(error.message, /dropped the fields thereabouts wrote/);
        assert.match(error.message, /apply thereabouts' CRDs \(deploy\/crds/);
        return true;
      };
      // The pool's first write (a create) and a later one (a patch) both check the answer.
      await assert.rejects(store.commit(change({ create: [["1", parked]] })), pruned);
      assert.deepEqual(await store.commit(change({ create: [["2", plain]] })), { ok: true });
      await assert.rejects(store.commit(change({ create: [["3", vm]] })), pruned);
      await assert.rejects(
        store.commit(change({ remove: [["2", plain]], release: [["2", PARKED_AT]] })),
        pruned,
      );
      // Nothing of ours survived, and Go's fields are as written.
      const raw = await rawPool(api, ns);
      assert.equal(raw.spec.released, undefined);
      assert.deepStrictEqual(raw.spec.allocations["1"], {
        id: "c-web-0",
        podref: "ns/web-0",
        ifname: "eth0",
      });
    });
  });
});
