// Every object of the base and of each overlay, as `kubectl kustomize` renders it, checked against
// the Kubernetes API's schemas (kubernetes-models): the JSON schema of its kind, and no field the
// kind does not declare (schema-check.ts). The CRDs are checked as apiextensions.k8s.io/v1 objects.
// OpenShift's SecurityContextConstraints has no model there: its fields are checked in
// structure.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { render, VARIANTS } from "./render.ts";
import { modelOf, schemaErrors, typeCheck } from "./schema-check.ts";

/** Kinds outside the Kubernetes API (no OpenAPI model in kubernetes-models). */
const NOT_KUBERNETES = new Set(["security.openshift.io/v1 SecurityContextConstraints"]);

describe("manifests against the Kubernetes OpenAPI schemas", () => {
  for (const variant of VARIANTS) {
    it(`deploy/${variant}: every object is valid for its kind`, async () => {
      const objects = render(variant);
      assert.ok(objects.length > 10, "the rendering has the objects");
      const failures: string[] = [];
      for (const o of objects) {
        if (NOT_KUBERNETES.has(`${o.apiVersion} ${o.kind}`)) continue;
        const errors = await schemaErrors(o).catch((e: Error) => e.message);
        if (errors !== "") failures.push(`${o.kind} ${o.metadata.name}: ${errors}`);
      }
      assert.deepEqual(failures, []);
    });

    it(`deploy/${variant}: no object has a field its kind does not declare`, () => {
      const objects = render(variant).filter((o) => !NOT_KUBERNETES.has(`${o.apiVersion} ${o.kind}`));
      assert.equal(typeCheck(objects.map((o) => ({ label: `${o.kind}-${o.metadata.name}`, object: o }))), "");
    });
  }

  it("the only objects without a Kubernetes model are OpenShift's SCC, in the openshift overlay", async () => {
    for (const variant of VARIANTS) {
      const unmodelled: string[] = [];
      for (const o of render(variant))
        if ((await modelOf(o)) === undefined) unmodelled.push(`${o.apiVersion} ${o.kind}`);
      assert.deepEqual(unmodelled, variant === "overlays/openshift" ? [...NOT_KUBERNETES] : [], variant);
    }
  });

  it("the checks catch what they are for: a wrong type, a missing required field, a misspelled field", async () => {
    const daemonSet = structuredClone(render("base").find((o) => o.kind === "DaemonSet")!) as unknown as {
      spec: { template: { spec: { containers: Record<string, unknown>[] } } };
    };
    const agent = daemonSet.spec.template.spec.containers[1]!;
    const wrongType = structuredClone(daemonSet);
    (wrongType.spec.template.spec.containers[1]!["ports"] as { containerPort: unknown }[])[0]!.containerPort =
      "9741";
    assert.match(await schemaErrors(wrongType as never), /containerPort must be integer/);
    const noName = structuredClone(daemonSet);
    delete noName.spec.template.spec.containers[0]!["name"];
    assert.match(await schemaErrors(noName as never), /containers\/0 must have required property name/);
    agent["readinesProbe"] = agent["readinessProbe"];
    delete agent["readinessProbe"];
    assert.match(
      typeCheck([{ label: "misspelled", object: daemonSet as never }]),
      /'"readinesProbe"' does not exist/,
    );
  });
});
