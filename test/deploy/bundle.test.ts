// deploy/thereabouts.yaml, the one-file bundle, is generated from the kustomize base by
// `npm run manifests` (scripts/manifests.ts): it must be exactly what the base renders now, and
// name the image of package.json's version.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  BASE_KUSTOMIZATION,
  BUNDLE,
  bundleHeader,
  IMAGE_NAME,
  packageVersion,
  renderBundle,
  withImageTag,
} from "../../scripts/manifests.ts";
import { parseObjects, podSpec, render, VARIANTS, workloads } from "./render.ts";

describe("the one-file bundle deploy/thereabouts.yaml", () => {
  const version = packageVersion();

  it("is a fresh `kubectl kustomize deploy/base` under the generated-file header (run npm run manifests)", () => {
    assert.equal(readFileSync(BUNDLE, "utf8"), renderBundle(version));
    assert.ok(readFileSync(BUNDLE, "utf8").startsWith(bundleHeader(version)));
  });

  it("the base's image entry carries package.json's version", () => {
    const kustomization = readFileSync(BASE_KUSTOMIZATION, "utf8");
    assert.equal(withImageTag(kustomization, version), kustomization);
    assert.notEqual(withImageTag(kustomization, "0.0.0-other"), kustomization, "the tag line is found");
  });

  it("every container of the bundle and of each overlay runs localhost/thereabouts:<package.json version>", () => {
    const images = (objects: ReturnType<typeof parseObjects>) =>
      new Set(workloads(objects).flatMap((w) => podSpec(w).containers.map((c) => c.image)));
    assert.deepEqual(
      images(parseObjects(readFileSync(BUNDLE, "utf8"))),
      new Set([`${IMAGE_NAME}:${version}`]),
    );
    for (const variant of VARIANTS)
      assert.deepEqual(images(render(variant)), new Set([`${IMAGE_NAME}:${version}`]), variant);
  });

  it("holds the CRDs, accounts, RBAC, ConfigMap, DaemonSet, Deployment and PDB, all in kube-system", () => {
    const objects = parseObjects(readFileSync(BUNDLE, "utf8"));
    assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
      "ClusterRole/thereabouts-controller",
      "ClusterRoleBinding/thereabouts-controller",
      "ConfigMap/whereabouts-config",
      "CustomResourceDefinition/ippools.whereabouts.cni.cncf.io",
      "CustomResourceDefinition/nodeslicepools.whereabouts.cni.cncf.io",
      "CustomResourceDefinition/overlappingrangeipreservations.whereabouts.cni.cncf.io",
      "DaemonSet/thereabouts",
      "Deployment/thereabouts-controller",
      "PodDisruptionBudget/thereabouts-controller",
      "Role/thereabouts",
      "Role/thereabouts-controller",
      "RoleBinding/thereabouts",
      "RoleBinding/thereabouts-controller",
      "ServiceAccount/thereabouts",
      "ServiceAccount/thereabouts-controller",
    ]);
    const clusterScoped = new Set(["CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"]);
    for (const o of objects)
      assert.equal(
        o.metadata.namespace,
        clusterScoped.has(o.kind) ? undefined : "kube-system",
        `${o.kind} ${o.metadata.name}`,
      );
    assert.ok(
      !objects.some((o) => o.kind === "Namespace"),
      "kube-system is never created (nor deleted by kubectl delete -f)",
    );
  });
});
