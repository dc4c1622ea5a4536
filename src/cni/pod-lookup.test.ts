import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadIpamConfig } from "../config/load.ts";
import { load, netConf, sources } from "../config/test-support.ts";
import { CniError } from "../errors/errors.ts";
import { formatIP } from "../ip/index.ts";
import { annotatedAddresses, podClaim, podFacts, readsPod } from "./pod-lookup.ts";

const KUBE = { kubeconfig: "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig" };
const stsPod = {
  metadata: {
    name: "web-3",
    namespace: "db",
    uid: "u-1",
    labels: { app: "web", n: 5 },
    ownerReferences: [
      { apiVersion: "apps/v1", kind: "StatefulSet", name: "web", uid: "s", controller: true },
    ],
    annotations: { "thereabouts.io/ips": '{"net1": ["10.0.0.9"]}', other: "x" },
  },
};
const texts = (ips: readonly { family: 4 | 6; value: bigint }[] | undefined) => (ips ?? []).map(formatIP);

describe("the pod an ADD reads", () => {
  it("podFacts() keeps identity, string labels, controller references and the requested-addresses annotation", () => {
    assert.deepEqual(podFacts(stsPod), {
      namespace: "db",
      name: "web-3",
      uid: "u-1",
      labels: { app: "web" },
      ownerReferences: [{ kind: "StatefulSet", name: "web", controller: true }],
      requestedIps: '{"net1": ["10.0.0.9"]}',
    });
    assert.deepEqual(podFacts("not a pod"), {
      namespace: "",
      name: "",
      uid: "",
      labels: {},
      ownerReferences: [],
    });
  });

  it("readsPod() only with sticky_addresses or requested_ips_from_pod", () => {
    assert.equal(readsPod(load({ range: "10.0.0.0/24" })), false);
    assert.equal(readsPod(load({ range: "10.0.0.0/24", sticky_addresses: true, kubernetes: KUBE })), true);
    assert.equal(
      readsPod(load({ range: "10.0.0.0/24", requested_ips_from_pod: true, kubernetes: KUBE })),
      true,
    );
  });

  it("podClaim(): the owner only with sticky_addresses; the annotation only with requested_ips_from_pod; runtimeConfig ips win", () => {
    const pod = podFacts(stsPod);
    const both = load({
      range: "10.0.0.0/24",
      sticky_addresses: true,
      requested_ips_from_pod: true,
      kubernetes: KUBE,
    });
    const claim = podClaim(both, pod);
    assert.equal(claim.owner, "statefulset/db/web/3");
    assert.deepEqual(texts(claim.requested?.addresses), ["10.0.0.9"]);
    assert.match(claim.requested?.source ?? "", /^annotation thereabouts\.io\/ips of pod /);
    const stickyOnly = podClaim(
      load({ range: "10.0.0.0/24", sticky_addresses: true, kubernetes: KUBE }),
      pod,
    );
    assert.deepEqual(texts(stickyOnly.requested?.addresses), [], "the annotation is not read");
    const fromPodOnly = podClaim(
      load({ range: "10.0.0.0/24", requested_ips_from_pod: true, kubernetes: KUBE }),
      pod,
    );
    assert.equal(fromPodOnly.owner, undefined, "no owner without sticky_addresses");
    const runtime = loadIpamConfig(
      sources(
        netConf(
          { range: "10.0.0.0/24", requested_ips_from_pod: true, kubernetes: KUBE },
          { runtimeConfig: { ips: ["10.0.0.20/24"] } },
        ),
      ),
    );
    const wins = podClaim(runtime, pod);
    assert.deepEqual(texts(wins.requested?.addresses), ["10.0.0.20"]);
    assert.equal(wins.requested?.source, "runtimeConfig ips");
  });

  it("annotatedAddresses(): this network's entry; anything malformed is code 7 naming the annotation, never quoting it", () => {
    const src = "annotation thereabouts.io/ips of pod ns/p";
    assert.deepEqual(texts(annotatedAddresses('{"a": ["10.0.0.1", "fd00::1/64"], "b": ["x"]}', "a", src)), [
      "10.0.0.1",
      "fd00::1",
    ]);
    assert.deepEqual(annotatedAddresses('{"b": ["10.0.0.1"]}', "a", src), [], "no entry for this network");
    for (const [text, why] of [
      ["{secret", /not JSON/],
      ['["10.0.0.1"]', /expected a JSON object/],
      ['{"a": "10.0.0.1"}', /entry of network "a" must be a list of address strings/],
      ['{"a": [1]}', /must be a list of address strings/],
      [
        '{"a": ["nope"]}',
        /invalid annotation thereabouts\.io\/ips of pod ns\/p, network "a", entry\[0\] "nope"/,
      ],
    ] as const)
      assert.throws(
        () => annotatedAddresses(text, "a", src),
        (error: unknown) => {
          assert.ok(error instanceof CniError);
          assert.equal(error.code, 7);
          assert.match(error.message, why);
          assert.doesNotMatch(error.message, /secret/);
          return true;
        },
      );
  });
});
