import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NETWORK_STATUS_ANNOTATION, networkStatusOf, podInfo } from "./pods.ts";

describe("pods: what the cluster says of a pod", () => {
  it("node, phase, uid, creation time, liveness and the network-status IPs", () => {
    const pod = podInfo({
      metadata: {
        namespace: "default",
        name: "web-1",
        uid: "u-1",
        resourceVersion: "42",
        creationTimestamp: "2025-01-02T03:04:05Z",
        annotations: {
          [NETWORK_STATUS_ANNOTATION]: JSON.stringify([
            { name: "cbr0", interface: "eth0", ips: ["10.244.0.5"], default: true },
            { name: "default/storage-net", interface: "net1", ips: ["198.51.100.3", 7] },
          ]),
        },
      },
      spec: { nodeName: "node-2" },
      status: { phase: "Running" },
    });
    assert.deepEqual(pod, {
      ref: "default/web-1",
      namespace: "default",
      name: "web-1",
      uid: "u-1",
      resourceVersion: "42",
      gone: undefined,
      node: "node-2",
      phase: "Running",
      created: "2025-01-02T03:04:05Z",
      networkStatus: [
        { name: "cbr0", interface: "eth0", ips: ["10.244.0.5"] },
        { name: "default/storage-net", interface: "net1", ips: ["198.51.100.3"] },
      ],
    });
    assert.equal(podInfo({ metadata: { name: "x" }, status: { phase: "Failed" } }).gone, "phase Failed");
  });

  it("an annotation that is absent, or not a list of attachments", () => {
    assert.equal(networkStatusOf(undefined), "absent");
    assert.equal(networkStatusOf("{not json"), "unreadable");
    assert.equal(networkStatusOf('{"name":"x"}'), "unreadable");
    assert.equal(networkStatusOf("[1]"), "unreadable");
    assert.deepEqual(networkStatusOf("[]"), []);
  });
});
