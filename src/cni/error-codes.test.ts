import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CniError,
  ConfigError,
  StoredDataError,
  type StoreError,
  type StoreErrorFacts,
  StoreRefusedError,
  StoreSettingsError,
  StoreUnavailableError,
} from "../errors/errors.ts";
import { KubeUnavailableError } from "../kube/client.ts";
import { pluginAdvice, storeCniError } from "./error-codes.ts";
import { type Handlers, runPlugin, toCniError } from "./skel.ts";

const KUBECONFIG = "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig";
const kube = (status: number, topic: StoreErrorFacts["topic"]): StoreErrorFacts => ({
  server: "https://10.96.0.1:443",
  status,
  resource: "/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/whereabouts/ippools/p",
  settings: KUBECONFIG,
  namespace: "whereabouts",
  ...(topic === undefined ? {} : { topic }),
});

describe("storeCniError(): store failures in the CNI protocol", () => {
  it("gives each kind its code: unavailable 11 (try again later), refused and stored data 5, settings 7", () => {
    const cases: [StoreError, number][] = [
      [new StoreUnavailableError("down"), 11],
      [new KubeUnavailableError("down", true, { server: "https://api" }), 11],
      [new StoreRefusedError("refused"), 5],
      [new StoredDataError("corrupt"), 5],
      [new StoreSettingsError("unusable"), 7],
    ];
    for (const [error, code] of cases) {
      const reported = storeCniError(error);
      assert.ok(reported instanceof CniError, error.name);
      assert.deepEqual([reported.code, reported.message], [code, error.message], error.name);
      assert.equal(reported.cause, error, "the store error stays reachable as the cause");
    }
    assert.ok(storeCniError(new StoreSettingsError("unusable")) instanceof ConfigError);
    assert.ok(!(storeCniError(new StoreRefusedError("refused")) instanceof ConfigError));
  });

  it("keeps the error's own details and adds the plugin's advice after them", () => {
    assert.equal(storeCniError(new StoredDataError("x", { details: "the facts" }))?.details, "the facts");
    assert.equal(storeCniError(new StoreRefusedError("x"))?.details, undefined);
    const both = storeCniError(
      new StoreSettingsError("x", { details: "the facts", facts: { topic: "credentialHelper" } }),
    );
    assert.match(both?.details ?? "", /^the facts; give the plugin's user a ServiceAccount token/);
  });

  it("is undefined for anything that is not a store failure (the caller decides)", () => {
    for (const other of [new CniError(7, "bad"), new Error("bug"), "text", undefined])
      assert.equal(storeCniError(other), undefined);
  });

  it("is what the plugin's toCniError uses: the code and advice reach the error JSON", async () => {
    const error = new StoreRefusedError(
      "Cannot read pool p from the Kubernetes API at https://api: Unauthorized (HTTP 401)",
      {
        facts: kube(401, "credentials"),
      },
    );
    assert.equal(toCniError(error).code, 5);
    let stdout = "";
    const code = await runPlugin(
      {
        env: {
          CNI_COMMAND: "DEL",
          CNI_CONTAINERID: "c",
          CNI_NETNS: "/n",
          CNI_IFNAME: "eth0",
          CNI_PATH: "/p",
        },
        readStdin: async () => '{"cniVersion":"1.0.0","name":"n","ipam":{"type":"whereabouts"}}',
        stdout: (text) => {
          stdout += text;
        },
        stderr: () => {},
      },
      {
        del: async () => {
          throw error;
        },
      } as unknown as Handlers,
    );
    assert.equal(code, 1);
    const json = JSON.parse(stdout) as { code: number; msg: string; details: string };
    assert.deepEqual([json.code, json.msg], [5, error.message]);
    assert.match(json.details, /re-run install-cni\.sh/);
  });
});

describe("pluginAdvice(): what a plugin's operator can do", () => {
  it("names the plugin's installation for each topic, and nothing without one", () => {
    assert.equal(pluginAdvice(kube(422, undefined)), undefined);
    assert.equal(pluginAdvice({}), undefined);
    assert.equal(
      pluginAdvice(kube(401, "credentials")),
      `the credentials in kubeconfig ${KUBECONFIG} were refused: renew the ServiceAccount token (re-run install-cni.sh) or fix the user entry`,
    );
    assert.equal(
      pluginAdvice(kube(403, "permissions")),
      `the user of kubeconfig ${KUBECONFIG} needs get, list, create, patch, delete and deletecollection on ippools and overlappingrangeipreservations (whereabouts.cni.cncf.io) in the namespace`,
    );
    assert.equal(
      pluginAdvice(kube(404, "missing")),
      'the namespace "whereabouts" (the kubeconfig context\'s) and the whereabouts.cni.cncf.io CRDs (deploy/crds) must exist',
    );
    assert.match(
      pluginAdvice({ settings: KUBECONFIG, topic: "settingsFile" }) ?? "",
      /^kubernetes\.kubeconfig must name/,
    );
    assert.match(pluginAdvice({ topic: "credentialHelper" }) ?? "", /as install-cni\.sh writes$/);
  });
});
