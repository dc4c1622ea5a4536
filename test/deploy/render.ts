// Test support for the install manifests: the kustomizations of deploy/ rendered by the real
// `kubectl kustomize` (scripts/manifests.ts), parsed into objects, and looked up by kind and name.
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadAll } from "js-yaml";
import { kustomize, ROOT } from "../../scripts/manifests.ts";

export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly [k: string]: unknown };
  readonly [field: string]: unknown;
}

/** Every kustomization a user may apply, by the directory under deploy/. */
export const VARIANTS = [
  "base",
  "overlays/no-agent",
  "overlays/openshift",
  "overlays/multus",
  "overlays/multus-thick",
] as const;
export type Variant = (typeof VARIANTS)[number];

export function parseObjects(yaml: string): KubeObject[] {
  return loadAll(yaml).filter((o) => o !== null && o !== undefined) as KubeObject[];
}

const rendered = new Map<Variant, KubeObject[]>();
/** The objects `kubectl kustomize deploy/<variant>` renders (rendered once per test process). */
export function render(variant: Variant): KubeObject[] {
  let objects = rendered.get(variant);
  if (objects === undefined) {
    objects = parseObjects(kustomize(join(ROOT, "deploy", variant)));
    rendered.set(variant, objects);
  }
  return objects;
}

export function find(objects: readonly KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  assert.equal(found.length, 1, `exactly one ${kind} ${name} (found ${found.length})`);
  return found[0]!;
}

export function findAll(objects: readonly KubeObject[], kind: string): KubeObject[] {
  return objects.filter((o) => o.kind === kind);
}

export interface Container {
  readonly name: string;
  readonly image?: string;
  readonly args?: readonly string[];
  readonly env?: readonly { name: string; value?: string; valueFrom?: unknown }[];
  readonly ports?: readonly { name?: string; containerPort: number }[];
  readonly volumeMounts?: readonly { name: string; mountPath: string; readOnly?: boolean }[];
  readonly readinessProbe?: { httpGet?: { path: string; port: number | string } };
  readonly livenessProbe?: { httpGet?: { path: string; port: number | string } };
  readonly securityContext?: Record<string, unknown>;
  readonly resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

export interface PodSpec {
  readonly serviceAccountName?: string;
  readonly containers: readonly Container[];
  readonly volumes?: readonly {
    name: string;
    hostPath?: { path: string; type?: string };
    configMap?: { name: string; items?: { key: string; path: string }[]; optional?: boolean };
  }[];
  readonly [field: string]: unknown;
}

/** The pod template's spec of a DaemonSet or Deployment. */
export function podSpec(workload: KubeObject): PodSpec {
  return (workload as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
}

export function container(workload: KubeObject, name: string): Container {
  const found = podSpec(workload).containers.find((c) => c.name === name);
  assert.ok(found, `${workload.kind} ${workload.metadata.name} has a container ${name}`);
  return found;
}

/** The workloads (pod templates) of a rendering. */
export function workloads(objects: readonly KubeObject[]): KubeObject[] {
  return objects.filter((o) => o.kind === "DaemonSet" || o.kind === "Deployment");
}
