import assert from "node:assert/strict";
import { test } from "node:test";
import { planAttachments } from "./attachments.ts";
import { parseDelegate } from "./delegate.ts";
import { capabilityArgs, delegateCniArgs, pluginConfig } from "./delegate-call.ts";
import { parseSelections } from "./selection.ts";

const k8s = { namespace: "pods", name: "web", infraContainerId: "abc", uid: "u-1" };
const plan = planAttachments(
  [
    { delegate: parseDelegate({ name: "cbr0", type: "bridge" }), displayName: "cbr0" },
    ...parseSelections(
      '[{"name":"a","mac":"c2:b0:57:49:47:f1","ips":["10.1.1.5/24"],"portMappings":[{"hostPort":1,"containerPort":2}],"bandwidth":{"ingressRate":5}},{"name":"b"}]',
      "pods",
    ).map((selection) => ({
      delegate: parseDelegate({ name: selection.name, type: "macvlan" }),
      displayName: `pods/${selection.name}`,
      selection,
    })),
  ],
  "eth0",
);

test("delegate CNI_ARGS: pod keys first, runtime pairs filled or appended, then MAC= and IP= of the request", () => {
  const runtime =
    "IgnoreUnknown=1;K8S_POD_NAMESPACE=pods;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1;EXTRA=1";
  assert.equal(
    delegateCniArgs(k8s, runtime, plan[1]!),
    "IgnoreUnknown=true;K8S_POD_NAMESPACE=pods;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1;IgnoreUnknown=1;EXTRA=1;MAC=c2:b0:57:49:47:f1;IP=10.1.1.5/24",
  );
  assert.equal(
    delegateCniArgs({ ...k8s, uid: "" }, "K8S_POD_UID=u-2", plan[2]!),
    "IgnoreUnknown=true;K8S_POD_NAMESPACE=pods;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-2",
  );
});

test("capability args: the runtime's for the master; the element's requests override for the others", () => {
  const runtime = { portMappings: [{ hostPort: 80, containerPort: 80 }], bandwidth: { egressRate: 1 } };
  assert.deepEqual(capabilityArgs(runtime, plan[0]!), runtime);
  assert.deepEqual(capabilityArgs(runtime, plan[1]!), {
    portMappings: [{ hostPort: 1, containerPort: 2 }],
    bandwidth: { ingressRate: 5 },
    ips: ["10.1.1.5/24"],
    mac: "c2:b0:57:49:47:f1",
  });
  assert.deepEqual(capabilityArgs(runtime, plan[2]!), runtime);
});

test("pluginConfig: only declared capabilities become runtimeConfig; list plugins get the list's name, version and prevResult", () => {
  const caps = { mac: "c2:b0:57:49:47:f1", ips: ["10.1.1.5/24"] };
  assert.deepEqual(
    pluginConfig(
      { name: "a", type: "macvlan", capabilities: { mac: true, ips: false } },
      undefined,
      undefined,
      caps,
    ),
    {
      name: "a",
      type: "macvlan",
      capabilities: { mac: true, ips: false },
      runtimeConfig: { mac: "c2:b0:57:49:47:f1" },
    },
  );
  assert.deepEqual(pluginConfig({ type: "macvlan" }, undefined, undefined, caps), { type: "macvlan" });
  const prev = { cniVersion: "1.0.0", ips: [] };
  assert.deepEqual(pluginConfig({ type: "tuning" }, { name: "l", cniVersion: "1.0.0" }, prev, {}), {
    type: "tuning",
    name: "l",
    cniVersion: "1.0.0",
    prevResult: prev,
  });
});
