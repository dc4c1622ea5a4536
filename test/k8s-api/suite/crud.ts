// Discovery, create/get/update/delete semantics, Status bodies, pruning and validation.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type Api,
  configMap,
  createPool,
  expectStatus,
  ipPool,
  MERGE_PATCH,
  NS,
  ORIPS,
  POOLS,
  unique,
  WB,
} from "./support.ts";

export function crudSuite(api: Api): void {
  describe("discovery and errors for unknown paths", () => {
    it("serves /api, /apis, group/version resource lists and /version", async () => {
      assert.deepEqual((await api().request("GET", "/api")).json().versions, ["v1"]);
      const groups = (await api().request("GET", "/apis")).json().groups.map((g: { name: string }) => g.name);
      for (const g of ["whereabouts.cni.cncf.io", "k8s.cni.cncf.io", "coordination.k8s.io", "events.k8s.io"])
        assert.ok(groups.includes(g), g);
      const wb = (await api().request("GET", WB)).json();
      assert.equal(wb.kind, "APIResourceList");
      const names = wb.resources.map((r: { name: string }) => r.name).sort();
      assert.deepEqual(names, ["ippools", "nodeslicepools", "overlappingrangeipreservations"]);
      const core = (await api().request("GET", "/api/v1")).json();
      assert.ok(core.resources.some((r: { name: string }) => r.name === "pods/status"));
      assert.match((await api().request("GET", "/version")).json().gitVersion, /^v1\.\d+\.\d+/);
    });

    it("answers unknown resources with the apiserver's 404 Status", async () => {
      const r = await api().request("GET", `${WB}/namespaces/${NS}/nopes`);
      assert.deepEqual(expectStatus(r, 404, "NotFound"), {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: "the server could not find the requested resource",
        reason: "NotFound",
        details: {},
        code: 404,
      });
      expectStatus(await api().request("PUT", POOLS, {}), 405, "MethodNotAllowed");
    });
  });

  describe("create and get", () => {
    it("returns the exact NotFound body for a missing object", async () => {
      const r = await api().request("GET", `${POOLS}/x`);
      assert.deepEqual(r.json(), {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: 'ippools.whereabouts.cni.cncf.io "x" not found',
        reason: "NotFound",
        details: { name: "x", group: "whereabouts.cni.cncf.io", kind: "ippools" },
        code: 404,
      });
      assert.equal(r.status, 404);
    });

    it("fills system metadata, answers 201, and 409 AlreadyExists on a second POST", async () => {
      const name = unique("pool");
      const created = await createPool(api, name);
      const m = created.metadata;
      assert.equal(m.namespace, NS);
      assert.match(m.uid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.match(m.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.match(m.resourceVersion, /^\d+$/);
      assert.equal(m.generation, 1);
      const again = await api().request("POST", POOLS, ipPool(name));
      assert.deepEqual(expectStatus(again, 409, "AlreadyExists"), {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: `ippools.whereabouts.cni.cncf.io "${name}" already exists`,
        reason: "AlreadyExists",
        details: { name, group: "whereabouts.cni.cncf.io", kind: "ippools" },
        code: 409,
      });
      const got = (await api().request("GET", `${POOLS}/${name}`)).json();
      assert.deepEqual(got, created);
    });

    it("generates names from generateName", async () => {
      const r = await api().request("POST", POOLS, ipPool("", {}, { generateName: "gen-" }));
      assert.match(expectStatus(r, 201).metadata.name, /^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    });

    it("rejects resourceVersion on create, a wrong apiVersion and a missing kind", async () => {
      const withRv = await api().request("POST", POOLS, ipPool(unique("rv"), {}, { resourceVersion: "5" }));
      const body = expectStatus(withRv, 500);
      assert.equal(body.message, "resourceVersion should not be set on objects to be created");
      assert.equal(body.reason, undefined);
      const wrongVersion = await api().request("POST", POOLS, {
        ...ipPool("a"),
        apiVersion: "whereabouts.cni.cncf.io/v1",
      });
      assert.match(
        expectStatus(wrongVersion, 400, "BadRequest").message,
        /the API version in the data \(whereabouts.cni.cncf.io\/v1\) does not match the expected API version/,
      );
      const noKind = await api().request("POST", POOLS, {
        apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
        metadata: { name: "a" },
      });
      assert.match(expectStatus(noKind, 400, "BadRequest").message, /Object 'Kind' is missing/);
      expectStatus(await api().request("POST", POOLS, "{not json"), 400, "BadRequest");
      const wrongNs = await api().request("POST", POOLS, ipPool("a", {}, { namespace: "other" }));
      assert.equal(
        expectStatus(wrongNs, 400, "BadRequest").message,
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    });
  });

  describe("structural schema: pruning and validation", () => {
    it("prunes unknown fields (with a Warning header) and rejects them with fieldValidation=Strict", async () => {
      const name = unique("prune");
      const body = {
        ...ipPool(name, { "3": { id: "c1", podref: "ns/p", ifname: "eth0", extra: "x" } }),
        status: { anything: true },
        junk: 1,
      } as Record<string, unknown>;
      (body["spec"] as Record<string, unknown>)["nope"] = "dropped";
      (body["metadata"] as Record<string, unknown>)["bogus"] = "dropped";
      const r = await api().request("POST", POOLS, body);
      const created = expectStatus(r, 201);
      assert.deepEqual(created.spec, {
        allocations: { "3": { id: "c1", ifname: "eth0", podref: "ns/p" } },
        range: "10.0.0.0/24",
      });
      assert.equal(created.status, undefined);
      assert.equal(created.junk, undefined);
      assert.equal(created.metadata.bogus, undefined);
      const warnings = String(r.headers["warning"]);
      assert.match(warnings, /299 - "unknown field \\"spec.allocations.3.extra\\""/);
      assert.match(warnings, /unknown field \\"junk\\"/);
      const strict = await api().request("POST", `${POOLS}?fieldValidation=Strict`, {
        ...ipPool(unique("s")),
        junk: 1,
      });
      assert.equal(
        expectStatus(strict, 400, "BadRequest").message,
        'strict decoding error: unknown field "junk"',
      );
    });

    it("requires id and podref in allocations, podref in ORIPs, and strings where the schema says string", async () => {
      const noPodref = await api().request("POST", POOLS, ipPool("missing-podref", { "5": { id: "c" } }));
      const body = expectStatus(noPodref, 422, "Invalid");
      assert.equal(
        body.message,
        'IPPool.whereabouts.cni.cncf.io "missing-podref" is invalid: spec.allocations.5.podref: Required value',
      );
      assert.deepEqual(body.details, {
        name: "missing-podref",
        group: "whereabouts.cni.cncf.io",
        kind: "IPPool",
        causes: [
          { reason: "FieldValueRequired", message: "Required value", field: "spec.allocations.5.podref" },
        ],
      });
      const orip = (spec?: object) => ({
        apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
        kind: "OverlappingRangeIPReservation",
        metadata: { name: "10.0.0.5" },
        ...(spec ? { spec } : {}),
      });
      assert.match(
        expectStatus(await api().request("POST", ORIPS, orip()), 422, "Invalid").message,
        /: spec: Required value$/,
      );
      assert.match(
        expectStatus(await api().request("POST", ORIPS, orip({ ifname: "eth0" })), 422, "Invalid").message,
        /spec.podref: Required value$/,
      );
      const typed = await api().request("POST", POOLS, {
        ...ipPool("typed"),
        spec: { range: 5, allocations: {} },
      });
      assert.equal(
        expectStatus(typed, 422, "Invalid").message,
        'IPPool.whereabouts.cni.cncf.io "typed" is invalid: spec.range: Invalid value: "integer": spec.range in body must be of type string: "integer"',
      );
      const twoErrors = await api().request("POST", POOLS, { ...ipPool("two"), spec: {} });
      assert.equal(
        expectStatus(twoErrors, 422, "Invalid").message,
        'IPPool.whereabouts.cni.cncf.io "two" is invalid: [spec.allocations: Required value, spec.range: Required value]',
      );
    });

    it("requires DNS-1123 subdomain names (upper case network_name, IPv6 ranges starting with ::)", async () => {
      for (const name of ["Blue-10.0.0.0-24", "---126"]) {
        const r = await api().request("POST", POOLS, ipPool(name));
        const body = expectStatus(r, 422, "Invalid");
        assert.equal(
          body.message,
          `IPPool.whereabouts.cni.cncf.io "${name}" is invalid: metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
        );
        assert.equal(body.details.causes[0].field, "metadata.name");
      }
    });
  });

  describe("update (PUT)", () => {
    it("409 Conflict on a stale resourceVersion, 422 without one, 200 and generation+1 with the current one", async () => {
      const name = unique("put");
      const created = await createPool(api, name);
      const next = {
        ...created,
        spec: { ...created.spec, allocations: { "1": { id: "a", podref: "ns/a" } } },
      };
      const ok = expectStatus(await api().request("PUT", `${POOLS}/${name}`, next), 200);
      assert.ok(Number(ok.metadata.resourceVersion) > Number(created.metadata.resourceVersion));
      assert.equal(ok.metadata.generation, 2);
      const stale = await api().request("PUT", `${POOLS}/${name}`, next);
      assert.deepEqual(expectStatus(stale, 409, "Conflict"), {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: `Operation cannot be fulfilled on ippools.whereabouts.cni.cncf.io "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        reason: "Conflict",
        details: { name, group: "whereabouts.cni.cncf.io", kind: "ippools" },
        code: 409,
      });
      const { resourceVersion: _, ...metaWithoutRv } = ok.metadata;
      const noRv = await api().request("PUT", `${POOLS}/${name}`, { ...ok, metadata: metaWithoutRv });
      assert.equal(
        expectStatus(noRv, 422, "Invalid").message,
        `ippools.whereabouts.cni.cncf.io "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`,
      );
      const same = expectStatus(await api().request("PUT", `${POOLS}/${name}`, ok), 200);
      assert.equal(
        same.metadata.resourceVersion,
        ok.metadata.resourceVersion,
        "a no-op update is not written",
      );
      const renamed = await api().request("PUT", `${POOLS}/${name}`, {
        ...ok,
        metadata: { ...ok.metadata, name: "other" },
      });
      assert.equal(
        expectStatus(renamed, 400, "BadRequest").message,
        `the name of the object (other) does not match the name on the URL (${name})`,
      );
      const wrongUid = await api().request("PUT", `${POOLS}/${name}`, {
        ...ok,
        metadata: { ...ok.metadata, uid: "u-1" },
      });
      assert.match(
        expectStatus(wrongUid, 409, "Conflict").message,
        /StorageError: invalid object, Code: 4, Key: \/registry\/whereabouts.cni.cncf.io\/ippools\/kube-system\/put-\d+-\d+, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: u-1, UID in object meta: /,
      );
      expectStatus(
        await api().request("PUT", `${POOLS}/absent`, ipPool("absent", {}, { resourceVersion: "1" })),
        404,
        "NotFound",
      );
    });

    it("updates built-in types unconditionally without a resourceVersion", async () => {
      const path = "/api/v1/namespaces/default/configmaps";
      const name = unique("cm");
      expectStatus(await api().request("POST", path, configMap(name, {}, { a: "1" })), 201);
      const r = await api().request("PUT", `${path}/${name}`, configMap(name, {}, { a: "2" }));
      assert.deepEqual(expectStatus(r, 200).data, { a: "2" });
      expectStatus(await api().request("PUT", `${path}/absent`, configMap("absent")), 404, "NotFound");
    });
  });

  describe("delete", () => {
    it("honours DeleteOptions preconditions and answers a Success Status for custom resources", async () => {
      const name = unique("del");
      const created = await createPool(api, name);
      const badRv = await api().request("DELETE", `${POOLS}/${name}`, {
        kind: "DeleteOptions",
        apiVersion: "v1",
        preconditions: { resourceVersion: "1" },
      });
      assert.equal(
        expectStatus(badRv, 409, "Conflict").message,
        `Operation cannot be fulfilled on IPPool.whereabouts.cni.cncf.io "${name}": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record (${created.metadata.resourceVersion}). The object might have been modified`,
      );
      const badUid = await api().request("DELETE", `${POOLS}/${name}`, { preconditions: { uid: "nope" } });
      assert.match(
        expectStatus(badUid, 409, "Conflict").message,
        /the UID in the precondition \(nope\) does not match the UID in record/,
      );
      const ok = await api().request("DELETE", `${POOLS}/${name}`, {
        preconditions: { uid: created.metadata.uid, resourceVersion: created.metadata.resourceVersion },
      });
      assert.deepEqual(expectStatus(ok, 200), {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Success",
        details: { name, group: "whereabouts.cni.cncf.io", kind: "ippools", uid: created.metadata.uid },
      });
      expectStatus(await api().request("GET", `${POOLS}/${name}`), 404, "NotFound");
      expectStatus(await api().request("DELETE", `${POOLS}/${name}`), 404, "NotFound");
    });

    it("keeps an object with finalizers until the last one is removed", async () => {
      const name = unique("fin");
      expectStatus(
        await api().request("POST", POOLS, ipPool(name, {}, { finalizers: ["example.com/hold"] })),
        201,
      );
      const deleting = expectStatus(await api().request("DELETE", `${POOLS}/${name}`), 200);
      assert.equal(deleting.kind, "IPPool", "a pending deletion answers the object");
      assert.match(deleting.metadata.deletionTimestamp, /Z$/);
      assert.equal(deleting.metadata.deletionGracePeriodSeconds, 0);
      assert.equal(deleting.metadata.generation, 2);
      const again = expectStatus(await api().request("DELETE", `${POOLS}/${name}`), 200);
      assert.equal(
        again.metadata.resourceVersion,
        deleting.metadata.resourceVersion,
        "a repeated delete changes nothing",
      );
      const recreate = await api().request("POST", POOLS, ipPool(name));
      assert.match(expectStatus(recreate, 409, "AlreadyExists").message, /^object is being deleted: /);
      const more = await api().request(
        "PATCH",
        `${POOLS}/${name}`,
        { metadata: { finalizers: ["example.com/hold", "example.com/more"] } },
        MERGE_PATCH,
      );
      assert.match(
        expectStatus(more, 422, "Invalid").message,
        /metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted/,
      );
      const released = await api().request(
        "PATCH",
        `${POOLS}/${name}`,
        { metadata: { finalizers: null } },
        MERGE_PATCH,
      );
      expectStatus(released, 200);
      expectStatus(await api().request("GET", `${POOLS}/${name}`), 404, "NotFound");
    });

    it("deletes collections by selector", async () => {
      const path = "/api/v1/namespaces/dc/configmaps";
      for (const n of ["a", "b", "c"])
        await api().request("POST", path, configMap(n, { doomed: n === "c" ? "no" : "yes" }));
      const r = expectStatus(await api().request("DELETE", `${path}?labelSelector=doomed%3Dyes`), 200);
      assert.equal(r.kind, "ConfigMapList");
      assert.deepEqual(
        r.items.map((i: { metadata: { name: string } }) => i.metadata.name),
        ["a", "b"],
      );
      const left = (await api().request("GET", path)).json();
      assert.deepEqual(
        left.items.map((i: { metadata: { name: string } }) => i.metadata.name),
        ["c"],
      );
    });
  });

  describe("size limits", () => {
    it("fails objects over etcd's request limit like etcd does, and bodies over 3 MiB with 413", async () => {
      const allocations: Record<string, object> = {};
      for (let i = 0; i < 2_000; i++)
        allocations[String(i)] = { id: `container-${i}`, podref: `ns/pod-${i}`, ifname: "net1" };
      const r = await api().request("POST", POOLS, ipPool(unique("big"), allocations));
      assert.deepEqual(expectStatus(r, 500), {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: "etcdserver: request is too large",
        code: 500,
      });
      const huge = await api().request(
        "POST",
        POOLS,
        JSON.stringify({ pad: "x".repeat(3 * 1024 * 1024 + 10) }),
      );
      assert.equal(
        expectStatus(huge, 413, "RequestEntityTooLarge").message,
        "Request entity too large: limit is 3145728",
      );
    });
  });
}
