import assert from "node:assert/strict";
import { test } from "node:test";
import { formatCidr, parseCidr } from "../ip/index.ts";
import {
  assignNodes,
  decodeNodeSlicePool,
  divideRange,
  encodeNodeSlicePool,
  freeNodes,
  freeSlices,
  MAX_SLICES,
  nodeSlicePoolNameFor,
  parseSliceSize,
  slicedAs,
  sliceProblem,
  slicesOf,
} from "./node-slices.ts";

const cidr = (text: string) => parseCidr(text)!;

test("divideRange() slices a range in address order (Go's 10.0.0.0/8 by /10 vector)", () => {
  assert.deepEqual(divideRange(cidr("10.0.0.0/8"), 10).map(formatCidr), [
    "10.0.0.0/10",
    "10.64.0.0/10",
    "10.128.0.0/10",
    "10.192.0.0/10",
  ]);
  assert.deepEqual(divideRange(cidr("10.0.0.0/24"), 24).map(formatCidr), ["10.0.0.0/24"]);
});

test("divideRange() slices IPv6 ranges and ignores host bits of the range as written", () => {
  assert.deepEqual(divideRange(cidr("fd00:10::/64"), 66).map(formatCidr), [
    "fd00:10::/66",
    "fd00:10:0:0:4000::/66",
    "fd00:10:0:0:8000::/66",
    "fd00:10:0:0:c000::/66",
  ]);
  assert.deepEqual(divideRange(cidr("192.168.1.77/24"), 25).map(formatCidr), [
    "192.168.1.0/25",
    "192.168.1.128/25",
  ]);
});

test("parseSliceSize() takes /N or N and nothing else", () => {
  assert.equal(parseSliceSize("/26"), 26);
  assert.equal(parseSliceSize("26"), 26);
  for (const bad of ["", "/", "26/", " 26", "/2a", "abc", "/1234", "-26", "26.0"]) {
    assert.equal(parseSliceSize(bad), undefined, bad);
  }
});

test("sliceProblem() refuses a slice larger than the range, beyond the family and too many slices", () => {
  assert.equal(sliceProblem(cidr("10.0.0.0/16"), 24), undefined);
  assert.equal(sliceProblem(cidr("fd00::/112"), 120), undefined);
  assert.match(
    sliceProblem(cidr("10.0.0.0/24"), 16)!,
    /larger than the range 10\.0\.0\.0\/24.*at least \/24/,
  );
  assert.match(sliceProblem(cidr("10.0.0.0/24"), 33)!, /does not exist in IPv4/);
  assert.match(sliceProblem(cidr("10.0.0.0/24"), 0)!, /does not exist in IPv4/);
  assert.match(sliceProblem(cidr("fd00::/64"), 120)!, /72057594037927936 slices.*at most \/77/);
  const prefix = 8 + Math.log2(MAX_SLICES);
  assert.equal(sliceProblem(cidr("10.0.0.0/8"), prefix), undefined);
  assert.notEqual(sliceProblem(cidr("10.0.0.0/8"), prefix + 1), undefined);
});

test("nodeSlicePoolNameFor(): network_name, else the CNI network name (a conflist's name)", () => {
  assert.equal(nodeSlicePoolNameFor("blue", "conf"), "blue");
  assert.equal(nodeSlicePoolNameFor("", "conf"), "conf");
});

// As Go v0.9's node-slice controller creates it for NAD "whereabouts-conf" (uid u1).
const goWritten = {
  apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
  kind: "NodeSlicePool",
  metadata: {
    name: "whereabouts-conf",
    namespace: "kube-system",
    resourceVersion: "42",
    ownerReferences: [
      {
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        name: "whereabouts-conf",
        uid: "u1",
        controller: true,
        blockOwnerDeletion: true,
      },
    ],
  },
  spec: { range: "10.0.0.0/8", sliceSize: "/10" },
  status: {
    allocations: [
      { nodeName: "node1", sliceRange: "10.0.0.0/10" },
      { nodeName: "node2", sliceRange: "10.64.0.0/10" },
      { nodeName: "", sliceRange: "10.128.0.0/10" },
      { nodeName: "", sliceRange: "10.192.0.0/10" },
    ],
  },
};

test("a Go-written NodeSlicePool decodes and encodes back to Go's JSON", () => {
  const pool = decodeNodeSlicePool(goWritten);
  assert.equal(pool.name, "whereabouts-conf");
  assert.equal(pool.resourceVersion, "42");
  assert.deepEqual(pool.owners, [{ name: "whereabouts-conf", uid: "u1", controller: true }]);
  assert.deepEqual(slicesOf(pool.allocations, "node2"), ["10.64.0.0/10"]);
  const { namespace: _, ...meta } = goWritten.metadata;
  assert.deepEqual(encodeNodeSlicePool(pool, "whereabouts.cni.cncf.io/v1alpha1"), {
    ...goWritten,
    metadata: meta,
  });
});

test("an extra owner is written as Go's auxiliary reference (no controller flag)", () => {
  const pool = decodeNodeSlicePool(goWritten);
  const two = { ...pool, owners: [...pool.owners, { name: "other", uid: "u2", controller: false }] };
  const refs = (encodeNodeSlicePool(two, "v") as { metadata: { ownerReferences: unknown[] } }).metadata
    .ownerReferences;
  assert.deepEqual(refs[1], {
    apiVersion: "k8s.cni.cncf.io/v1",
    kind: "NetworkAttachmentDefinition",
    name: "other",
    uid: "u2",
  });
});

test("slicedAs() compares the slicing, not its spelling", () => {
  const pool = decodeNodeSlicePool(goWritten);
  assert.equal(slicedAs(pool, cidr("10.0.0.0/8"), 10), true);
  assert.equal(slicedAs({ ...pool, sliceSize: "10" }, cidr("10.0.0.0/8"), 10), true);
  assert.equal(slicedAs(pool, cidr("10.0.0.0/8"), 11), false);
  assert.equal(slicedAs(pool, cidr("11.0.0.0/8"), 10), false);
  assert.equal(slicedAs({ ...pool, range: "junk" }, cidr("10.0.0.0/8"), 10), false);
});

test("assignNodes() gives each node without a slice the first free one, and reports who is left", () => {
  const start = freeSlices(cidr("10.0.0.0/24"), 26);
  const first = assignNodes(start, ["a", "b"]);
  assert.deepEqual(slicesOf(first.allocations, "a"), ["10.0.0.0/26"]);
  assert.deepEqual(slicesOf(first.allocations, "b"), ["10.0.0.64/26"]);
  assert.deepEqual(start[0], { nodeName: "", sliceRange: "10.0.0.0/26" }, "input left alone");
  const freed = freeNodes(first.allocations, new Set(["a"]));
  const again = assignNodes(freed, ["b", "c", "d", "e", "f"]);
  assert.deepEqual(
    again.allocations.map((a) => a.nodeName),
    ["c", "b", "d", "e"],
  );
  assert.deepEqual(again.unassigned, ["f"]);
});
