import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { goneReason, isGone, podState, splitPodRef } from "./liveness.ts";
import { networkCandidates } from "./plan.ts";

describe("liveness", () => {
  const base = { metadata: { namespace: "ns", name: "p", uid: "u", resourceVersion: "7" } };

  it("counts terminal phases and the taint manager's eviction as gone, nothing else", () => {
    assert.equal(goneReason({ ...base, status: { phase: "Succeeded" } }), "phase Succeeded");
    assert.equal(goneReason({ ...base, status: { phase: "Failed" } }), "phase Failed");
    const evicted = {
      ...base,
      status: {
        phase: "Running",
        conditions: [{ type: "DisruptionTarget", status: "True", reason: "DeletionByTaintManager" }],
      },
    };
    assert.equal(goneReason(evicted), "evicted by the taint manager");
    for (const alive of [
      { ...base, status: { phase: "Running" } },
      { ...base, status: { phase: "Pending" } },
      { ...base },
      { ...base, metadata: { ...base.metadata, deletionTimestamp: "2026-01-01T00:00:00Z" } },
      {
        ...base,
        status: {
          conditions: [{ type: "DisruptionTarget", status: "True", reason: "EvictionByEvictionAPI" }],
        },
      },
      {
        ...base,
        status: {
          conditions: [{ type: "DisruptionTarget", status: "False", reason: "DeletionByTaintManager" }],
        },
      },
    ])
      assert.equal(goneReason(alive), undefined, JSON.stringify(alive));
  });

  it("decodes the identity of a pod, and a missing pod is gone", () => {
    const state = podState({ ...base, status: { phase: "Failed" } });
    assert.deepEqual(state, {
      ref: "ns/p",
      namespace: "ns",
      name: "p",
      uid: "u",
      resourceVersion: "7",
      gone: "phase Failed",
    });
    assert.equal(isGone(undefined), true);
    assert.equal(isGone(state), true);
    assert.equal(isGone({ ...state, gone: undefined }), false);
  });

  it("splits podrefs and rejects ones that name no pod", () => {
    assert.deepEqual(splitPodRef("ns/a"), { namespace: "ns", name: "a" });
    for (const bad of ["", "a", "/a", "ns/"]) assert.equal(splitPodRef(bad), undefined);
  });
});

describe("networkCandidates", () => {
  const pool = (name: string, range: string) => ({ name, range, allocations: new Map(), version: "1" });
  it("lists the network names a pool name allows, longest first", () => {
    assert.deepEqual(networkCandidates(pool("10.0.0.0-24", "10.0.0.0/24")), [""]);
    assert.deepEqual(networkCandidates(pool("blue-10.0.0.0-24", "10.0.0.0/24")), ["blue", ""]);
    assert.deepEqual(networkCandidates(pool("my-net-node-1-10.0.0.0-26", "10.0.0.0/26")), [
      "my-net-node-1",
      "my-net-node",
      "my-net",
      "my",
      "",
    ]);
    assert.deepEqual(networkCandidates(pool("fd00-0-0-10---64", "fd00:0:0:10::/64")), [""]);
    assert.deepEqual(networkCandidates(pool("n-2001---116", "2001::/116")), ["n", ""]);
  });
});
