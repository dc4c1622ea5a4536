import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCniArgs } from "./cni-args.ts";
import { assertCniError } from "./test-support.ts";

test("parseCniArgs() reads the Kubernetes keys, IP= and GATEWAY=", () => {
  const args = parseCniArgs(
    "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=pod;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1;" +
      "IP=10.0.0.5/24, fd00::5/64;GATEWAY=10.0.0.1;OTHER=x",
  );
  assert.deepEqual(args, {
    podName: "pod",
    podNamespace: "ns",
    podUid: "u-1",
    ips: ["10.0.0.5/24", "fd00::5/64"],
    gateways: ["10.0.0.1"],
  });
});

test("parseCniArgs() knows K8S_POD_UID (kept for the pod lookup) and K8S_POD_INFRA_CONTAINER_ID (unused) without IgnoreUnknown", () => {
  assert.deepEqual(parseCniArgs("K8S_POD_NAME=pod;K8S_POD_UID=u-1;K8S_POD_INFRA_CONTAINER_ID=abc"), {
    podName: "pod",
    podNamespace: "",
    podUid: "u-1",
    ips: [],
    gateways: [],
  });
});

test("parseCniArgs() of an empty string is all defaults", () => {
  assert.deepEqual(parseCniArgs(""), {
    podName: "",
    podNamespace: "",
    podUid: "",
    ips: [],
    gateways: [],
  });
});

test("parseCniArgs() accepts IgnoreUnknown anywhere, with 1/true in any case, and the last value of a key", () => {
  assert.equal(parseCniArgs("FOO=1;IgnoreUnknown=TRUE;K8S_POD_NAME=a;K8S_POD_NAME=b").podName, "b");
  assert.equal(parseCniArgs("K8S_POD_NAME=").podName, "");
});

test("parseCniArgs() rejects malformed CNI_ARGS with libcni's texts, values left out (code 4)", async (t) => {
  const rows: [string, string][] = [
    ["K8S_POD_NAME", 'ARGS: invalid pair #1 (no "=")'],
    ["K8S_POD_NAME=a=b", 'ARGS: invalid pair "K8S_POD_NAME=…" (more than one "=")'],
    ["K8S_POD_NAME=a;", "ARGS: invalid pair #2 (empty)"],
    ["FOO=bar;BAZ=1", 'ARGS: unknown args ["FOO=…" "BAZ=…"]'],
    ["FOO=bar;IgnoreUnknown=0", 'ARGS: unknown args ["FOO=…"]'],
    ["k8s_pod_name=x", 'ARGS: unknown args ["k8s_pod_name=…"]'],
    [
      "IgnoreUnknown=yes",
      'ARGS: error parsing value of pair "IgnoreUnknown=yes": (boolean unmarshal error: invalid input yes)',
    ],
  ];
  for (const [text, why] of rows) {
    await t.test(text, () => {
      assertCniError(() => parseCniArgs(text), 4, `LoadArgs - CNI Args Parsing Error: ${why}`);
    });
  }
});
