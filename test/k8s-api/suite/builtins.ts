// Built-in types: pod status subresource and graceful deletion, Lease MicroTime and
// create-on-update, core/v1 and events.k8s.io/v1 events sharing storage, nodes, namespaces.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { WatchEvent } from "../http-client.ts";
import { type Api, expectStatus, MERGE_PATCH, NS, pod, unique } from "./support.ts";

const micro = (d = new Date()): string => `${d.toISOString().slice(0, 19)}.123456Z`;

export function builtinsSuite(api: Api): void {
  describe("pods", () => {
    it("resets status on create and update, writes it through /status, and keeps the spec immutable", async () => {
      const path = "/api/v1/namespaces/pods-ns/pods";
      const created = expectStatus(
        await api().request("POST", path, { ...pod("p"), status: { phase: "Running" } }),
        201,
      );
      assert.deepEqual(created.status, { phase: "Pending", qosClass: "BestEffort" });
      assert.equal(created.spec.terminationGracePeriodSeconds, 30);
      assert.equal(created.spec.restartPolicy, "Always");
      const status = expectStatus(
        await api().request(
          "PATCH",
          `${path}/p/status`,
          { status: { phase: "Running", podIP: "10.1.0.5" }, spec: { nodeName: "ignored" } },
          MERGE_PATCH,
        ),
        200,
      );
      assert.equal(status.status.phase, "Running");
      assert.equal(status.spec.nodeName, undefined, "the status subresource ignores the spec");
      const viaMain = expectStatus(
        await api().request("PATCH", `${path}/p`, { status: { phase: "Failed" } }, MERGE_PATCH),
        200,
      );
      assert.equal(viaMain.status.phase, "Running", "the main resource ignores status");
      const moved = await api().request("PATCH", `${path}/p`, { spec: { nodeName: "n9" } }, MERGE_PATCH);
      assert.match(
        expectStatus(moved, 422, "Invalid").message,
        /^Pod "p" is invalid: spec: Forbidden: pod updates may not change fields other than/,
      );
      const invalid = await api().request("POST", path, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "empty" },
        spec: {},
      });
      assert.equal(
        expectStatus(invalid, 422, "Invalid").message,
        'Pod "empty" is invalid: spec.containers: Required value',
      );
    });

    it("deletes a scheduled pod gracefully; the stand-in kubelet finishes it (MODIFIED, then DELETED)", async () => {
      const path = `/api/v1/namespaces/${unique("grace")}/pods`;
      expectStatus(await api().request("POST", path, pod("bound", { nodeName: "n1" })), 201);
      expectStatus(await api().request("POST", path, pod("unbound")), 201);
      const w = await api().watch(`${path}?watch=1&resourceVersion=0`);
      await w.rest(200);
      const deleting = expectStatus(await api().request("DELETE", `${path}/bound`), 200);
      assert.equal(deleting.kind, "Pod");
      assert.equal(deleting.metadata.deletionGracePeriodSeconds, 30);
      assert.equal(
        expectStatus(await api().request("GET", `${path}/bound`), 200).metadata.deletionGracePeriodSeconds,
        30,
      );
      const events: WatchEvent[] = [(await w.next())!, (await w.next())!, (await w.next())!];
      assert.deepEqual(
        events.map((e) => `${e.type} ${e.object.metadata.deletionGracePeriodSeconds}`),
        ["MODIFIED 30", "MODIFIED 0", "DELETED 0"],
      );
      const immediate = expectStatus(await api().request("DELETE", `${path}/unbound`), 200);
      assert.equal(immediate.kind, "Pod", "pods answer a delete with the object");
      assert.deepEqual(
        (await w.rest(300)).map((e) => e.type),
        ["MODIFIED", "DELETED"],
      );
      w.close();
      expectStatus(await api().request("GET", `${path}/unbound`), 404, "NotFound");
    });
  });

  describe("leases", () => {
    const path = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;
    const lease = (name: string, spec: object, rv?: string) => ({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name, ...(rv ? { resourceVersion: rv } : {}) },
      spec,
    });

    it("requires MicroTime (six fractional digits): a toISOString() value is a 400", async () => {
      const js = await api().request(
        "POST",
        path,
        lease("js", { holderIdentity: "a", renewTime: new Date().toISOString() }),
      );
      assert.match(
        expectStatus(js, 400, "BadRequest").message,
        /^Lease in version "v1" cannot be handled as a Lease: parsing time ".*" as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".*" as ".000000"$/,
      );
      const ok = expectStatus(
        await api().request(
          "POST",
          path,
          lease(unique("ok"), { holderIdentity: "a", renewTime: micro(), leaseDurationSeconds: 1 }),
        ),
        201,
      );
      assert.match(ok.spec.renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      const zero = await api().request("POST", path, lease("zero", { leaseDurationSeconds: 0 }));
      assert.equal(
        expectStatus(zero, 422, "Invalid").message,
        'Lease.coordination.k8s.io "zero" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0',
      );
    });

    it("creates on PUT, and requires a resourceVersion for an update (leader election's optimistic lock)", async () => {
      const name = unique("le");
      const created = await api().request(
        "PUT",
        `${path}/${name}`,
        lease(name, {
          holderIdentity: "ns/pod-a",
          leaseDurationSeconds: 1,
          acquireTime: micro(),
          renewTime: micro(),
        }),
      );
      const body = expectStatus(created, 201);
      const noRv = await api().request("PUT", `${path}/${name}`, lease(name, { holderIdentity: "ns/pod-b" }));
      assert.match(
        expectStatus(noRv, 422, "Invalid").message,
        /metadata.resourceVersion: Invalid value: 0x0: must be specified for an update/,
      );
      const renewed = await api().request(
        "PUT",
        `${path}/${name}`,
        lease(name, { ...body.spec, renewTime: micro() }, body.metadata.resourceVersion),
      );
      expectStatus(renewed, 200);
      const racer = await api().request(
        "PUT",
        `${path}/${name}`,
        lease(name, { ...body.spec, holderIdentity: "ns/pod-b" }, body.metadata.resourceVersion),
      );
      expectStatus(racer, 409, "Conflict");
    });
  });

  describe("events", () => {
    it("serves one event store as core/v1 and events.k8s.io/v1", async () => {
      const ns = unique("ev");
      const core = {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: "pod-a.1" },
        involvedObject: { kind: "Pod", namespace: ns, name: "pod-a" },
        reason: "IPAddressGarbageCollected",
        message: "successful cleanup of IP address [10.0.0.5] from network net1",
        type: "Normal",
        source: { component: "pod-ip-controlloop" },
        count: 1,
      };
      const created = expectStatus(await api().request("POST", `/api/v1/namespaces/${ns}/events`, core), 201);
      assert.equal(created.eventTime, null);
      const v1 = expectStatus(
        await api().request("GET", `/apis/events.k8s.io/v1/namespaces/${ns}/events/pod-a.1`),
        200,
      );
      assert.equal(v1.apiVersion, "events.k8s.io/v1");
      assert.equal(v1.note, core.message);
      assert.deepEqual(v1.regarding, core.involvedObject);
      assert.deepEqual(v1.deprecatedSource, core.source);
      assert.equal(v1.deprecatedCount, 1);
      const mismatch = await api().request("POST", `/api/v1/namespaces/${ns}/events`, {
        ...core,
        metadata: { name: "x" },
        involvedObject: { kind: "Pod", namespace: "elsewhere", name: "p" },
      });
      assert.match(
        expectStatus(mismatch, 422, "Invalid").message,
        /involvedObject.namespace: Invalid value: "elsewhere": does not match event.namespace/,
      );
      const incomplete = await api().request("POST", `/apis/events.k8s.io/v1/namespaces/${ns}/events`, {
        apiVersion: "events.k8s.io/v1",
        kind: "Event",
        metadata: { name: "new.1" },
        regarding: { kind: "Pod", namespace: ns, name: "pod-a" },
        reason: "R",
        type: "Normal",
      });
      assert.match(expectStatus(incomplete, 422, "Invalid").message, /eventTime: Required value/);
      const full = await api().request("POST", `/apis/events.k8s.io/v1/namespaces/${ns}/events`, {
        apiVersion: "events.k8s.io/v1",
        kind: "Event",
        metadata: { name: "new.2" },
        eventTime: micro(),
        reportingController: "thereabouts.io/gc",
        reportingInstance: "node-1",
        action: "Cleanup",
        regarding: { kind: "Pod", namespace: ns, name: "pod-a" },
        reason: "R",
        note: "hello",
        type: "Normal",
      });
      expectStatus(full, 201);
      const asCore = expectStatus(await api().request("GET", `/api/v1/namespaces/${ns}/events/new.2`), 200);
      assert.equal(asCore.message, "hello");
      assert.equal(asCore.reportingComponent, "thereabouts.io/gc");
      const list = (
        await api().request("GET", `/api/v1/namespaces/${ns}/events?fieldSelector=reason%3DR`)
      ).json();
      assert.deepEqual(
        list.items.map((i: { metadata: { name: string } }) => i.metadata.name),
        ["new.2"],
      );
    });
  });

  describe("nodes and namespaces", () => {
    it("serves cluster-scoped nodes and implicit, read-only namespaces", async () => {
      const node = { apiVersion: "v1", kind: "Node", metadata: { name: "node-1", labels: { zone: "a" } } };
      expectStatus(await api().request("POST", "/api/v1/nodes", node), 201);
      assert.equal(
        expectStatus(await api().request("GET", "/api/v1/nodes/node-1"), 200).metadata.namespace,
        undefined,
      );
      expectStatus(await api().request("GET", "/api/v1/namespaces/default/nodes/node-1"), 404, "NotFound");
      const ns = expectStatus(await api().request("GET", "/api/v1/namespaces/anything-at-all"), 200);
      assert.equal(ns.status.phase, "Active");
      expectStatus(await api().request("GET", "/api/v1/namespaces/Not_Valid"), 404, "NotFound");
      expectStatus(await api().request("DELETE", "/api/v1/namespaces/default"), 405, "MethodNotAllowed");
    });
  });
}
