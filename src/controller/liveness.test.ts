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

  it("reads when a gone pod became gone where its object says: last container finished, eviction condition", () => {
    const finished = (at: string) => ({ state: { terminated: { exitCode: 0, finishedAt: at } } });
    const done = podState({
      ...base,
      status: {
        phase: "Succeeded",
        initContainerStatuses: [finished("2026-03-01T10:00:00Z")],
        containerStatuses: [
          finished("2026-03-01T10:05:00Z"),
          finished("2026-03-01T10:02:00Z"),
          { state: { running: {} } },
        ],
      },
    });
    assert.equal(done.goneAt, Date.parse("2026-03-01T10:05:00Z"));
    const evicted = podState({
      ...base,
      status: {
        phase: "Running",
        conditions: [
          { type: "Ready", status: "False", lastTransitionTime: "2026-03-01T09:00:00Z" },
          {
            type: "DisruptionTarget",
            status: "True",
            reason: "DeletionByTaintManager",
            lastTransitionTime: "2026-03-01T11:00:00Z",
          },
        ],
      },
    });
    assert.equal(evicted.goneAt, Date.parse("2026-03-01T11:00:00Z"));
    for (const unknown of [
      { ...base, status: { phase: "Failed" } },
      { ...base, status: { phase: "Failed", containerStatuses: [finished("not a time")] } },
      { ...base, status: { phase: "Running", containerStatuses: [finished("2026-03-01T10:05:00Z")] } },
    ])
      assert.equal(podState(unknown).goneAt, undefined, JSON.stringify(unknown));
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
  const pool = (name: string, range: string) => ({
    name,
    range,
    allocations: new Map(),
    released: new Map(),
    version: "1",
  });
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
