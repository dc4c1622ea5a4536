// apps/v1 StatefulSets: defaults, status reset and the /status subresource, generation, the
// updatable spec fields, watch, discovery and kubectl's printing (the controller's sticky-address
// release reads spec.replicas and spec.ordinals of them).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Api, expectStatus, MERGE_PATCH, STRATEGIC_PATCH, unique } from "./support.ts";

export function statefulSet(name: string, replicas?: number, labels = { app: name }): object {
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name },
    spec: {
      ...(replicas === undefined ? {} : { replicas }),
      serviceName: name,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: "c", image: "busybox:1.36" }] },
      },
    },
  };
}

export function statefulSetsSuite(api: Api): void {
  describe("statefulsets (apps/v1)", () => {
    it("defaults the spec and its pod template, resets status on create, starts at generation 1", async () => {
      const ns = unique("sts");
      const path = `/apis/apps/v1/namespaces/${ns}/statefulsets`;
      const created = expectStatus(
        await api().request("POST", path, { ...statefulSet("db"), status: { replicas: 7 } }),
        201,
      );
      assert.equal(created.kind, "StatefulSet");
      assert.equal(created.apiVersion, "apps/v1");
      assert.equal(created.metadata.generation, 1);
      assert.deepEqual(created.status, { replicas: 0, availableReplicas: 0 });
      assert.equal(created.spec.replicas, 1);
      assert.equal(created.spec.revisionHistoryLimit, 10);
      assert.equal(created.spec.podManagementPolicy, "OrderedReady");
      assert.deepEqual(created.spec.updateStrategy, {
        type: "RollingUpdate",
        rollingUpdate: { partition: 0 },
      });
      assert.deepEqual(created.spec.persistentVolumeClaimRetentionPolicy, {
        whenDeleted: "Retain",
        whenScaled: "Retain",
      });
      const template = created.spec.template.spec;
      assert.equal(template.restartPolicy, "Always");
      assert.equal(template.terminationGracePeriodSeconds, 30);
      assert.equal(template.enableServiceLinks, undefined, "SetDefaults_Pod does not reach templates");
      assert.equal(template.containers[0].imagePullPolicy, "IfNotPresent");
      const got = expectStatus(await api().request("GET", `${path}/db`), 200);
      assert.deepEqual(got, created);
    });

    it("validates the selector against the template, replicas, the template's restart policy and the name", async () => {
      const path = `/apis/apps/v1/namespaces/${unique("sts")}/statefulsets`;
      const mismatch = statefulSet("a") as { spec: { template: { metadata: object } } };
      mismatch.spec.template.metadata = { labels: { app: "other" } };
      assert.equal(
        expectStatus(await api().request("POST", path, mismatch), 422, "Invalid").message,
        'StatefulSet.apps "a" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`',
      );
      assert.equal(
        expectStatus(await api().request("POST", path, statefulSet("b", -1)), 422, "Invalid").message,
        'StatefulSet.apps "b" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0',
      );
      const never = statefulSet("c") as { spec: { template: { spec: Record<string, unknown> } } };
      never.spec.template.spec["restartPolicy"] = "Never";
      assert.equal(
        expectStatus(await api().request("POST", path, never), 422, "Invalid").message,
        'StatefulSet.apps "c" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
      );
      const noSelector = statefulSet("d") as { spec: Record<string, unknown> };
      delete noSelector.spec["selector"];
      assert.match(
        expectStatus(await api().request("POST", path, noSelector), 422, "Invalid").message,
        /spec\.selector: Required value/,
      );
      assert.match(
        expectStatus(await api().request("POST", path, statefulSet("a.b")), 422, "Invalid").message,
        /metadata\.name: Invalid value: "a\.b": a lowercase RFC 1123 label/,
      );
      const typed = await api().request("POST", path, { ...statefulSet("e"), spec: { replicas: "2" } });
      assert.match(
        expectStatus(typed, 400, "BadRequest").message,
        /cannot unmarshal string into Go struct field StatefulSetSpec\.spec\.replicas of type int32/,
      );
    });

    it("scales by patch (generation +1, status kept), writes status only through /status, and refuses other spec changes", async () => {
      const ns = unique("sts");
      const path = `/apis/apps/v1/namespaces/${ns}/statefulsets`;
      expectStatus(await api().request("POST", path, statefulSet("web", 3)), 201);
      const status = expectStatus(
        await api().request(
          "PATCH",
          `${path}/web/status`,
          { status: { replicas: 3, readyReplicas: 3, availableReplicas: 3 }, spec: { replicas: 9 } },
          MERGE_PATCH,
        ),
        200,
      );
      assert.equal(status.status.readyReplicas, 3);
      assert.equal(status.spec.replicas, 3, "the status subresource ignores the spec");
      assert.equal(status.metadata.generation, 1);
      const scaled = expectStatus(
        await api().request(
          "PATCH",
          `${path}/web`,
          { spec: { replicas: 0 }, status: { replicas: 0 } },
          MERGE_PATCH,
        ),
        200,
      );
      assert.equal(scaled.spec.replicas, 0);
      assert.equal(scaled.metadata.generation, 2);
      assert.equal(scaled.status.readyReplicas, 3, "the main resource ignores status");
      const labelled = expectStatus(
        await api().request("PATCH", `${path}/web`, { metadata: { labels: { tier: "db" } } }, MERGE_PATCH),
        200,
      );
      assert.equal(labelled.metadata.generation, 2, "metadata changes do not bump the generation");
      const image = expectStatus(
        await api().request(
          "PATCH",
          `${path}/web`,
          { spec: { template: { spec: { containers: [{ name: "c", image: "busybox:1.37" }] } } } },
          STRATEGIC_PATCH,
        ),
        200,
      );
      assert.equal(image.spec.template.spec.containers[0].image, "busybox:1.37");
      assert.equal(image.spec.template.spec.containers[0].terminationMessagePolicy, "File");
      assert.equal(image.metadata.generation, 3);
      const renamed = await api().request(
        "PATCH",
        `${path}/web`,
        { spec: { serviceName: "other" } },
        MERGE_PATCH,
      );
      assert.equal(
        expectStatus(renamed, 422, "Invalid").message,
        "StatefulSet.apps \"web\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
      );
    });

    it("lists and watches across namespaces, deletes with a Status, and is discoverable (sts, category all)", async () => {
      const ns = unique("sts");
      const path = `/apis/apps/v1/namespaces/${ns}/statefulsets`;
      const w = await api().watch("/apis/apps/v1/statefulsets?watch=1&resourceVersion=0");
      await w.rest(200);
      expectStatus(await api().request("POST", path, statefulSet("x", 2)), 201);
      expectStatus(await api().request("PATCH", `${path}/x`, { spec: { replicas: 1 } }, MERGE_PATCH), 200);
      const deleted = expectStatus(await api().request("DELETE", `${path}/x`), 200);
      assert.equal(deleted.kind, "Status");
      assert.equal(deleted.status, "Success");
      const events = (await w.rest(300)).filter((e) => e.object.metadata.namespace === ns);
      assert.deepEqual(
        events.map((e) => `${e.type} ${e.object.spec.replicas}`),
        ["ADDED 2", "MODIFIED 1", "DELETED 1"],
      );
      w.close();
      expectStatus(await api().request("GET", `${path}/x`), 404, "NotFound");
      const list = expectStatus(await api().request("GET", "/apis/apps/v1/statefulsets"), 200);
      assert.equal(list.kind, "StatefulSetList");
      const resources = expectStatus(await api().request("GET", "/apis/apps/v1"), 200).resources;
      const sts = resources.find((r: { name: string }) => r.name === "statefulsets");
      assert.deepEqual(sts.shortNames, ["sts"]);
      assert.deepEqual(sts.categories, ["all"]);
      assert.ok(resources.some((r: { name: string }) => r.name === "statefulsets/status"));
      const groups = expectStatus(await api().request("GET", "/apis"), 200).groups;
      assert.ok(groups.some((g: { name: string }) => g.name === "apps"));
    });

    it("prints as kubectl get statefulsets shows them (NAME READY AGE, wide: CONTAINERS IMAGES)", async () => {
      const ns = unique("sts");
      const path = `/apis/apps/v1/namespaces/${ns}/statefulsets`;
      expectStatus(await api().request("POST", path, statefulSet("db", 2)), 201);
      expectStatus(
        await api().request("PATCH", `${path}/db/status`, { status: { readyReplicas: 1 } }, MERGE_PATCH),
        200,
      );
      const table = await api().kubectl(["get", "sts", "-o", "wide"], { namespace: ns });
      assert.equal(table.code, 0, table.stderr);
      const [head, row] = table.stdout.trim().split("\n");
      assert.match(head!, /^NAME\s+READY\s+AGE\s+CONTAINERS\s+IMAGES$/);
      assert.match(row!, /^db\s+1\/2\s+\d+s\s+c\s+busybox:1\.36$/);
    });
  });
}
