// PATCH: RFC 6902 with evanphx/json-patch v4 semantics (whereabouts' update protocol), RFC 7386
// merge patch, strategic merge patch on built-in types only.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type Api,
  configMap,
  createPool,
  expectStatus,
  JSON_PATCH,
  MERGE_PATCH,
  POOLS,
  STRATEGIC_PATCH,
  unique,
} from "./support.ts";

const INVALID_422 = {
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message: "the server rejected our request due to an error in our request",
  reason: "Invalid",
  details: {},
  code: 422,
};

export function patchSuite(api: Api): void {
  describe("json-patch", () => {
    it("applies whereabouts' guarded patch once; the stale retry fails its test with 422 Invalid", async () => {
      const name = unique("jp");
      const created = await createPool(api, name);
      const rv = created.metadata.resourceVersion;
      const ops = [
        { op: "test", path: "/metadata/resourceVersion", value: rv },
        { op: "test", path: "/spec/allocations/5", value: null },
        { op: "add", path: "/spec/allocations/5", value: { id: "c1", podref: "ns/pod", ifname: "eth0" } },
      ];
      const ok = expectStatus(await api().request("PATCH", `${POOLS}/${name}`, ops, JSON_PATCH), 200);
      assert.deepEqual(ok.spec.allocations, { "5": { id: "c1", podref: "ns/pod", ifname: "eth0" } });
      assert.equal(ok.metadata.generation, 2);
      const stale = await api().request("PATCH", `${POOLS}/${name}`, ops, JSON_PATCH);
      assert.equal(stale.status, 422);
      assert.deepEqual(stale.json(), INVALID_422);
      const occupied = [
        { op: "test", path: "/metadata/resourceVersion", value: ok.metadata.resourceVersion },
        { op: "test", path: "/spec/allocations/5", value: null },
      ];
      assert.deepEqual(
        (await api().request("PATCH", `${POOLS}/${name}`, occupied, JSON_PATCH)).json(),
        INVALID_422,
      );
      const noop = [{ op: "test", path: "/metadata/resourceVersion", value: ok.metadata.resourceVersion }];
      const same = expectStatus(await api().request("PATCH", `${POOLS}/${name}`, noop, JSON_PATCH), 200);
      assert.equal(
        same.metadata.resourceVersion,
        ok.metadata.resourceVersion,
        "a no-op patch writes nothing",
      );
    });

    it("keeps evanphx v4 quirks: replace adds a missing member, remove of a missing member fails", async () => {
      const name = unique("quirk");
      await createPool(api, name);
      const replaced = await api().request(
        "PATCH",
        `${POOLS}/${name}`,
        [{ op: "replace", path: "/spec/allocations/9", value: { id: "x", podref: "a/b" } }],
        JSON_PATCH,
      );
      assert.deepEqual(expectStatus(replaced, 200).spec.allocations, { "9": { id: "x", podref: "a/b" } });
      const removeMissing = await api().request(
        "PATCH",
        `${POOLS}/${name}`,
        [{ op: "remove", path: "/spec/allocations/1" }],
        JSON_PATCH,
      );
      assert.deepEqual(removeMissing.json(), INVALID_422);
      const missingParent = await api().request(
        "PATCH",
        `${POOLS}/${name}`,
        [{ op: "add", path: "/spec/x/y", value: 1 }],
        JSON_PATCH,
      );
      assert.deepEqual(missingParent.json(), INVALID_422);
      const removed = await api().request(
        "PATCH",
        `${POOLS}/${name}`,
        [{ op: "remove", path: "/spec/allocations/9" }],
        JSON_PATCH,
      );
      assert.deepEqual(expectStatus(removed, 200).spec.allocations, {});
    });

    it("409 when the patch itself sets a stale resourceVersion; 400 for a malformed patch; 404 for a missing object", async () => {
      const name = unique("jprv");
      await createPool(api, name);
      const r = await api().request(
        "PATCH",
        `${POOLS}/${name}`,
        [{ op: "replace", path: "/metadata/resourceVersion", value: "1" }],
        JSON_PATCH,
      );
      expectStatus(r, 409, "Conflict");
      const notArray = await api().request("PATCH", `${POOLS}/${name}`, { op: "add" }, JSON_PATCH);
      assert.equal(
        expectStatus(notArray, 400, "BadRequest").message,
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
      );
      expectStatus(await api().request("PATCH", `${POOLS}/absent`, [], JSON_PATCH), 404, "NotFound");
      const invalidResult = await api().request(
        "PATCH",
        `${POOLS}/${name}`,
        [{ op: "add", path: "/spec/allocations/1", value: { id: "only-id" } }],
        JSON_PATCH,
      );
      assert.match(
        expectStatus(invalidResult, 422, "Invalid").message,
        /spec.allocations.1.podref: Required value$/,
      );
    });
  });

  describe("merge-patch and strategic-merge-patch", () => {
    it("merges objects, deletes with null, and conflicts on a stale resourceVersion in the patch", async () => {
      const name = unique("mp");
      await createPool(api, name, { "1": { id: "a", podref: "ns/a" }, "2": { id: "b", podref: "ns/b" } });
      const merged = await api().request(
        "PATCH",
        `${POOLS}/${name}`,
        { spec: { allocations: { "1": null, "3": { id: "c", podref: "ns/c" } } } },
        MERGE_PATCH,
      );
      assert.deepEqual(Object.keys(expectStatus(merged, 200).spec.allocations).sort(), ["2", "3"]);
      const stale = await api().request(
        "PATCH",
        `${POOLS}/${name}`,
        { metadata: { resourceVersion: "1" }, spec: { range: "10.0.1.0/24" } },
        MERGE_PATCH,
      );
      expectStatus(stale, 409, "Conflict");
      const bad = await api().request("PATCH", `${POOLS}/${name}`, "{", MERGE_PATCH);
      assert.equal(expectStatus(bad, 400, "BadRequest").message, "Invalid JSON Patch");
    });

    it("answers 415 for strategic merge and apply patches on custom resources", async () => {
      const name = unique("smp");
      await createPool(api, name);
      const smp = await api().request("PATCH", `${POOLS}/${name}`, { spec: {} }, STRATEGIC_PATCH);
      assert.equal(
        expectStatus(smp, 415, "UnsupportedMediaType").message,
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json",
      );
      const apply = await api().request("PATCH", `${POOLS}/${name}`, "spec: {}", {
        "Content-Type": "application/apply-patch+yaml",
      });
      expectStatus(apply, 415, "UnsupportedMediaType");
    });

    it("applies strategic merge patches to built-in types (finalizers are a merged set)", async () => {
      const path = "/api/v1/namespaces/default/configmaps";
      const name = unique("smp-cm");
      expectStatus(
        await api().request("POST", path, {
          ...configMap(name, {}, { a: "1" }),
          metadata: { name, finalizers: ["a.io/x"] },
        }),
        201,
      );
      const r = await api().request(
        "PATCH",
        `${path}/${name}`,
        { data: { b: "2" }, metadata: { finalizers: ["b.io/y"] } },
        STRATEGIC_PATCH,
      );
      const patched = expectStatus(r, 200);
      assert.deepEqual(patched.data, { a: "1", b: "2" });
      assert.deepEqual(patched.metadata.finalizers, ["a.io/x", "b.io/y"]);
      const mp = await api().request(
        "PATCH",
        `${path}/${name}`,
        { metadata: { finalizers: ["c.io/z"] } },
        MERGE_PATCH,
      );
      assert.deepEqual(expectStatus(mp, 200).metadata.finalizers, ["c.io/z"], "merge patch replaces lists");
    });
  });
}
