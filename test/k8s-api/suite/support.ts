// Shared fixtures for the API double suites.
import assert from "node:assert/strict";
import type { ApiDouble } from "../harness.ts";
import type { HttpResult } from "../http-client.ts";

export type Api = () => ApiDouble;

export const WB = "/apis/whereabouts.cni.cncf.io/v1alpha1";
export const NS = "kube-system";
export const POOLS = `${WB}/namespaces/${NS}/ippools`;
export const ORIPS = `${WB}/namespaces/${NS}/overlappingrangeipreservations`;
export const JSON_PATCH = { "Content-Type": "application/json-patch+json" };
export const MERGE_PATCH = { "Content-Type": "application/merge-patch+json" };
export const STRATEGIC_PATCH = { "Content-Type": "application/strategic-merge-patch+json" };

let serial = 0;
/** A fresh DNS-1123 name per call, so tests never collide. */
export const unique = (prefix: string): string => `${prefix}-${process.pid % 1000}-${serial++}`;

export function ipPool(name: string, allocations: Record<string, object> = {}, extra: object = {}): object {
  return {
    apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
    kind: "IPPool",
    metadata: { name, ...extra },
    spec: { range: "10.0.0.0/24", allocations },
  };
}

export function configMap(
  name: string,
  labels: Record<string, string> = {},
  data: Record<string, string> = {},
): object {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, labels }, data };
}

export function pod(name: string, spec: object = {}, labels: Record<string, string> = {}): object {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels },
    spec: { containers: [{ name: "c", image: "busybox:1.36" }], ...spec },
  };
}

export function expectStatus(r: HttpResult, code: number, reason?: string): ReturnType<HttpResult["json"]> {
  assert.equal(r.status, code, r.body);
  const body = r.json();
  if (reason !== undefined) {
    assert.equal(body.kind, "Status", r.body);
    assert.equal(body.reason, reason, r.body);
    assert.equal(body.code, code, r.body);
  }
  return body;
}

export async function createPool(
  api: Api,
  name: string,
  allocations: Record<string, object> = {},
): Promise<ReturnType<HttpResult["json"]>> {
  const r = await api().request("POST", POOLS, ipPool(name, allocations));
  return expectStatus(r, 201);
}
