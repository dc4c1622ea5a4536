import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toCniError } from "../cni/skel.ts";
import {
  type StoreErrorFacts,
  type StoreErrorTopic,
  StoreRefusedError,
  StoreSettingsError,
  StoreUnavailableError,
} from "../errors/errors.ts";
import { controllerAdvice, errorFields } from "./advice.ts";

const facts = (status: number, topic: StoreErrorTopic): StoreErrorFacts => ({
  server: "https://10.96.0.1:443",
  status,
  resource: "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/thereabouts-controller",
  settings: "/var/run/secrets/kubernetes.io/serviceaccount (in-cluster)",
  namespace: "kube-system",
  topic,
});
const TOPICS: StoreErrorTopic[] = [
  "settingsFile",
  "credentialHelper",
  "credentials",
  "permissions",
  "missing",
];

describe("the controller's advice", () => {
  it("has advice for every topic, about the controller, never the plugin's installation", () => {
    for (const topic of TOPICS) {
      const advice = controllerAdvice(facts(0, topic)) ?? "";
      assert.match(advice, /controller|--kubeconfig|--namespace/, topic);
      assert.doesNotMatch(advice, /install-cni|plugin|kubernetes\.kubeconfig/, topic);
    }
    assert.equal(controllerAdvice({ server: "https://api", status: 422 }), undefined);
  });

  it("a 403 logged by the controller names its own role; the plugin's error for the same failure names install-cni's", () => {
    const forbidden = new StoreRefusedError(
      'Cannot update lease at the Kubernetes API at https://10.96.0.1:443: leases "thereabouts-controller" is forbidden (HTTP 403)',
      { facts: facts(403, "permissions") },
    );
    const logged = errorFields(forbidden);
    assert.equal(logged["error"], forbidden.message);
    assert.equal(logged["status"], 403);
    assert.match(String(logged["hint"]), /^the controller's ServiceAccount lacks a permission of its role/);
    assert.match(String(logged["hint"]), /leases get, create, patch/);
    assert.doesNotMatch(JSON.stringify(logged), /install-cni|deploy\/crds/);

    const unauthorized = new StoreRefusedError("Unauthorized (HTTP 401)", {
      facts: facts(401, "credentials"),
    });
    assert.doesNotMatch(JSON.stringify(errorFields(unauthorized)), /install-cni/);
    assert.match(toCniError(unauthorized).details ?? "", /re-run install-cni\.sh/);
  });

  it("logs the error's own details, and nothing but the message for other errors", () => {
    const settings = new StoreSettingsError("k8s config: namespace not present in context", {
      details: "kubeconfig /k has no current-context",
    });
    assert.deepEqual(errorFields(settings), {
      error: "k8s config: namespace not present in context",
      details: "kubeconfig /k has no current-context",
    });
    assert.deepEqual(errorFields(new StoreUnavailableError("down", { facts: { server: "https://api" } })), {
      error: "down",
    });
    assert.deepEqual(errorFields(new Error("boom")), { error: "boom" });
    assert.deepEqual(errorFields("text"), { error: "text" });
  });
});
