import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { poolChange } from "../store.ts";
import {
  decodePool,
  decodeReservation,
  entryPatch,
  firstViolation,
  ownerHash,
  pointerToken,
  poolObject,
  reservationMergePatch,
  reservationObject,
  showsChange,
} from "./objects.ts";

const a = (containerId: string, podRef: string, ifName = "eth0") => ({ containerId, podRef, ifName });
const change = (parts: Parameters<typeof poolChange>[2]) => poolChange("p", "10.0.0.0/24", parts);

describe("Kubernetes objects", () => {
  it("writes pools and reservations as Go does (ifname omitted when empty)", () => {
    assert.deepEqual(
      poolObject("p", "10.0.0.0/24", [
        ["1", a("c1", "ns/a")],
        ["2", a("c2", "ns/b", "")],
      ]),
      {
        apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
        kind: "IPPool",
        metadata: { name: "p" },
        spec: {
          range: "10.0.0.0/24",
          allocations: {
            "1": { id: "c1", podref: "ns/a", ifname: "eth0" },
            "2": { id: "c2", podref: "ns/b" },
          },
        },
      },
    );
    assert.deepEqual(reservationObject({ name: "10.0.0.1", ...a("c1", "ns/a", "") }, "h"), {
      apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
      kind: "OverlappingRangeIPReservation",
      metadata: { name: "10.0.0.1", labels: { "thereabouts.cni.cncf.io/owner": "h" } },
      spec: { podref: "ns/a", containerid: "c1" },
    });
  });

  it("reads stored objects verbatim, with missing fields as empty text", () => {
    const { snapshot, raw } = decodePool({
      metadata: { name: "p", resourceVersion: "42" },
      spec: {
        range: "10.0.0.0/24",
        allocations: { "+5": { id: "old" }, "007": { id: "z", podref: "ns/z", ifname: "" } },
      },
    });
    assert.deepEqual(snapshot, {
      name: "p",
      range: "10.0.0.0/24",
      version: "42",
      allocations: new Map([
        ["+5", a("old", "", "")],
        ["007", a("z", "ns/z", "")],
      ]),
      released: new Map(),
    });
    assert.deepEqual(raw.get("007"), { id: "z", podref: "ns/z", ifname: "" });
    assert.deepEqual(
      decodeReservation({ metadata: { name: "10.0.0.1" }, spec: { podref: "ns/go", ifname: "eth0" } }),
      {
        name: "10.0.0.1",
        podRef: "ns/go",
        ifName: "eth0",
        containerId: "",
      },
    );
  });

  it("records a reservation's claim in two annotations (Go's schema prunes spec) and reads it back", () => {
    const r = { name: "x-fd00-1--5", ...a("c1", "ns/a"), claim: { address: "fd00:1::5", networkName: "x" } };
    const obj = reservationObject(r, "h");
    assert.deepEqual(obj["metadata"], {
      name: "x-fd00-1--5",
      labels: { "thereabouts.cni.cncf.io/owner": "h" },
      annotations: {
        "thereabouts.cni.cncf.io/address": "fd00:1::5",
        "thereabouts.cni.cncf.io/network-name": "x",
      },
    });
    assert.deepEqual(obj["spec"], { podref: "ns/a", ifname: "eth0", containerid: "c1" });
    assert.deepEqual(decodeReservation(obj), r);
    const unnamed = { ...r, claim: { address: "10.0.0.5", networkName: "" } };
    assert.deepEqual(decodeReservation(reservationObject(unnamed, "h")), unnamed);
    // Half a claim (edited by hand) claims nothing.
    const half = { metadata: { name: "n", annotations: { "thereabouts.cni.cncf.io/address": "10.0.0.5" } } };
    assert.equal(decodeReservation({ ...half, spec: { podref: "ns/a" } }).claim, undefined);
  });

  it("patches with per-entry tests first, then the writes; whole-entry tests for guarded keys", () => {
    const ops = entryPatch(
      change({
        create: [["3", a("c3", "ns/c")]],
        update: [{ key: "1", from: a("c1", "ns/a"), to: a("c1b", "ns/a") }],
        remove: [
          ["2", a("c2", "ns/b", "")],
          ["a/b~c", a("x", "ns/x")],
        ],
      }),
      new Map([["a/b~c", { id: "x", podref: "ns/x", ifname: "eth0" }]]),
    );
    assert.deepEqual(ops, [
      { op: "test", path: "/spec/allocations/3", value: null },
      { op: "test", path: "/spec/allocations/1/id", value: "c1" },
      { op: "test", path: "/spec/allocations/1/podref", value: "ns/a" },
      { op: "test", path: "/spec/allocations/1/ifname", value: "eth0" },
      { op: "test", path: "/spec/allocations/1/owner", value: null },
      { op: "test", path: "/spec/allocations/1/parkedat", value: null },
      { op: "test", path: "/spec/allocations/2/id", value: "c2" },
      { op: "test", path: "/spec/allocations/2/podref", value: "ns/b" },
      { op: "test", path: "/spec/allocations/2/ifname", value: null },
      { op: "test", path: "/spec/allocations/2/owner", value: null },
      { op: "test", path: "/spec/allocations/2/parkedat", value: null },
      { op: "test", path: "/spec/allocations/a~1b~0c", value: { id: "x", podref: "ns/x", ifname: "eth0" } },
      { op: "add", path: "/spec/allocations/3", value: { id: "c3", podref: "ns/c", ifname: "eth0" } },
      { op: "replace", path: "/spec/allocations/1", value: { id: "c1b", podref: "ns/a", ifname: "eth0" } },
      { op: "remove", path: "/spec/allocations/2" },
      { op: "remove", path: "/spec/allocations/a~1b~0c" },
    ]);
    assert.equal(pointerToken("~/"), "~0~1");
  });

  it("writes and tests sticky fields after Go's, and release records into spec.released or as all of it", () => {
    const parked = {
      ...a("c1", "ns/web-0"),
      owner: "statefulset/ns/web/0",
      parkedAt: Date.UTC(2026, 0, 1, 0, 0, 0, 5),
    };
    const taken = { ...a("c2", "ns/web-0"), owner: "statefulset/ns/web/0" };
    const c = change({
      update: [{ key: "1", from: parked, to: taken }],
      release: [["4", 7]],
      forget: ["5", "6"],
    });
    // Without spec.released: it is added whole, behind a test that it is still missing; nothing to forget.
    assert.deepEqual(entryPatch(c), [
      { op: "test", path: "/spec/allocations/1/id", value: "c1" },
      { op: "test", path: "/spec/allocations/1/podref", value: "ns/web-0" },
      { op: "test", path: "/spec/allocations/1/ifname", value: "eth0" },
      { op: "test", path: "/spec/allocations/1/owner", value: "statefulset/ns/web/0" },
      { op: "test", path: "/spec/allocations/1/parkedat", value: "2026-01-01T00:00:00.005Z" },
      { op: "test", path: "/spec/released", value: null },
      {
        op: "replace",
        path: "/spec/allocations/1",
        value: { id: "c2", podref: "ns/web-0", ifname: "eth0", owner: "statefulset/ns/web/0" },
      },
      { op: "add", path: "/spec/released", value: { "4": "1970-01-01T00:00:00.007Z" } },
    ]);
    // With it: records set one by one, and only those the view shows forgotten (a remove of a missing member fails).
    assert.deepEqual(entryPatch(c, new Map(), undefined, new Map([["6", 1]])).slice(5), [
      {
        op: "replace",
        path: "/spec/allocations/1",
        value: { id: "c2", podref: "ns/web-0", ifname: "eth0", owner: "statefulset/ns/web/0" },
      },
      { op: "remove", path: "/spec/released/6" },
      { op: "add", path: "/spec/released/4", value: "1970-01-01T00:00:00.007Z" },
    ]);
    const decoded = decodePool({
      metadata: { name: "p" },
      spec: {
        allocations: {
          "1": {
            id: "c1",
            podref: "ns/web-0",
            ifname: "eth0",
            owner: "statefulset/ns/web/0",
            parkedat: "2026-01-01T00:00:00.005Z",
          },
        },
        released: { "4": "1970-01-01T00:00:00.007Z", "8": "not a time" },
      },
    });
    assert.deepStrictEqual(decoded.snapshot.allocations.get("1"), parked);
    assert.deepStrictEqual(decoded.snapshot.released, new Map([["4", 7]]));
    assert.equal(decoded.hasReleased, true);
    assert.equal(decodePool({ metadata: { name: "p" }, spec: {} }).hasReleased, false);
    assert.deepEqual(poolObject("p", "10.0.0.0/24", [["1", parked]], undefined, [["4", 7]])["spec"], {
      range: "10.0.0.0/24",
      allocations: {
        "1": {
          id: "c1",
          podref: "ns/web-0",
          ifname: "eth0",
          owner: "statefulset/ns/web/0",
          parkedat: "2026-01-01T00:00:00.005Z",
        },
      },
      released: { "4": "1970-01-01T00:00:00.007Z" },
    });
  });

  it("rewrites a reservation whole for a takeover: owner fields, label, claim (removed when none)", () => {
    assert.deepEqual(reservationMergePatch({ name: "r", ...a("c2", "ns/b", "") }, "h2", "17"), {
      metadata: {
        resourceVersion: "17",
        labels: { "thereabouts.cni.cncf.io/owner": "h2" },
        annotations: {
          "thereabouts.cni.cncf.io/address": null,
          "thereabouts.cni.cncf.io/network-name": null,
        },
      },
      spec: { podref: "ns/b", ifname: null, containerid: "c2" },
    });
  });

  it("sets the pool status last in a patch and in a created pool, and reads back what it could have written", () => {
    const usage = { used: 2, free: 18446744073709551612n };
    const ops = entryPatch(change({ create: [["3", a("c3", "ns/c")]] }), new Map(), usage);
    assert.deepEqual(ops.at(-1), {
      op: "add",
      path: "/status",
      value: { used: 2, free: "18446744073709551612" },
    });
    assert.ok(
      ops.every((op) => op.op !== "test" || !op.path.startsWith("/status")),
      "status is never tested",
    );
    assert.deepEqual(poolObject("p", "fd00::/64", [], { used: 0, free: undefined })["status"], { used: 0 });
    const read = (status: unknown) => decodePool({ metadata: { name: "p" }, spec: {}, status }).usage;
    assert.deepEqual(read({ used: 2, free: "18446744073709551612" }), usage);
    assert.deepEqual(read({ used: 2 }), { used: 2, free: undefined });
    assert.deepEqual(read({ used: 2, free: "-1" }), { used: 2, free: undefined });
    assert.equal(read({ used: "2", free: "5" }), undefined);
    assert.equal(read(undefined), undefined);
  });

  it("finds the first violated precondition, and recognises an applied change", () => {
    const pool = decodePool({
      metadata: { name: "p", resourceVersion: "1" },
      spec: { range: "10.0.0.0/24", allocations: { "1": { id: "c1", podref: "ns/a", ifname: "eth0" } } },
    }).snapshot;
    assert.equal(firstViolation(pool, change({ create: [["2", a("c2", "ns/b")]] })), undefined);
    assert.equal(
      firstViolation(
        pool,
        change({
          create: [
            ["2", a("c2", "ns/b")],
            ["1", a("c", "ns/c")],
          ],
        }),
      ),
      "1",
    );
    assert.equal(
      firstViolation(pool, change({ update: [{ key: "1", from: a("c1", "ns/a", ""), to: a("c", "ns/a") }] })),
      "1",
    );
    assert.equal(firstViolation(pool, change({ remove: [["9", a("c1", "ns/a")]] })), "9");
    assert.equal(showsChange(pool, change({ create: [["1", a("c1", "ns/a")]] })), true);
    assert.equal(showsChange(pool, change({ create: [["1", a("c1", "ns/a", "net1")]] })), false);
    assert.equal(showsChange(pool, change({ remove: [["2", a("c2", "ns/b")]] })), true);
    // Key 1 holds another allocation now: the one removed is gone (the key was taken again since).
    assert.equal(showsChange(pool, change({ remove: [["1", a("c9", "ns/z")]] })), true);
    assert.equal(showsChange(pool, change({ remove: [["1", a("c1", "ns/a")]] })), false);
  });

  it("labels a reservation with the SHA-1 of podRef/ifName/containerId", async () => {
    const expected = createHash("sha1").update("ns/a/eth0/c1").digest("hex");
    assert.equal(await ownerHash(a("c1", "ns/a")), expected);
    assert.match(expected, /^[0-9a-f]{40}$/);
  });
});
