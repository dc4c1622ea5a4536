import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Allocation } from "../../pool/allocation.ts";
import { poolChange } from "../store.ts";
import { EtcdKeys, encodeBlockFull } from "./documents.ts";
import { decode, type RequestOp } from "./etcd-api.ts";
import {
  type FullCandidate,
  fullMarks,
  indexOps,
  marksFor,
  openedBlocks,
  poolWrites,
  txnNeed,
} from "./index-plan.ts";

const keys = new EtcdKeys("/t");
const a = (podRef: string, extra: Partial<Allocation> = {}): Allocation => ({
  containerId: `c-${podRef}`,
  podRef,
  ifName: "eth0",
  ...extra,
});

/** Each op as "put <key>" / "del <key>" (nested transactions as "txn"). */
function describeOps(ops: readonly RequestOp[]): string[] {
  return ops.map((op) => {
    if ("request_put" in op) return `put ${decode(op.request_put.key)}`;
    if ("request_delete_range" in op) return `del ${decode(op.request_delete_range.key)}`;
    return "txn";
  });
}

const hex = (n: number) => n.toString(16).padStart(32, "0");

describe("indexOps()", () => {
  it("puts the copies of created entries, deletes those of removed ones and opens their blocks once", () => {
    const sticky = a("ns/web-0", { owner: "statefulset/ns/web/0" });
    const change = poolChange("p", "10.0.0.0/16", {
      create: [
        ["5", a("ns/a")],
        ["x", a("ns/odd")],
      ],
      remove: [
        ["300", sticky],
        ["301", a("ns/b")],
      ],
    });
    assert.deepEqual(describeOps(indexOps(keys, change)), [
      `put /t/pools/p/order/${hex(5)}/5`,
      "put /t/pools/p/attached/ns%2Fa/eth0/5",
      "put /t/pools/p/attached/ns%2Fodd/eth0/x",
      `del /t/pools/p/order/${hex(300)}/300`,
      "del /t/pools/p/attached/ns%2Fweb-0/eth0/300",
      "del /t/pools/p/owned/statefulset%2Fns%2Fweb%2F0/eth0/300",
      `del /t/pools/p/order/${hex(301)}/301`,
      "del /t/pools/p/attached/ns%2Fb/eth0/301",
      `put /t/pools/p/blocks/${hex(1)}`,
    ]);
    assert.deepEqual([...openedBlocks(change)], [1n]);
  });

  it("moves the attachment and owner keys of an update only when they change", () => {
    const from = a("ns/a", { owner: "vm/ns/a" });
    const same = indexOps(
      keys,
      poolChange("p", "", { update: [{ key: "7", from, to: { ...from, containerId: "new" } }] }),
    );
    assert.deepEqual(describeOps(same), [
      `put /t/pools/p/order/${hex(7)}/7`,
      "put /t/pools/p/attached/ns%2Fa/eth0/7",
      "put /t/pools/p/owned/vm%2Fns%2Fa/eth0/7",
    ]);
    const moved = indexOps(keys, poolChange("p", "", { update: [{ key: "7", from, to: a("ns/b") }] }));
    assert.deepEqual(describeOps(moved), [
      "del /t/pools/p/attached/ns%2Fa/eth0/7",
      "del /t/pools/p/owned/vm%2Fns%2Fa/eth0/7",
      `put /t/pools/p/order/${hex(7)}/7`,
      "put /t/pools/p/attached/ns%2Fb/eth0/7",
    ]);
  });

  it("files legacy forms of one offset under it, each with its own key", () => {
    assert.equal(keys.order("p", "005"), `/t/pools/p/order/${hex(5)}/005`);
    assert.equal(
      keys.order("p", "-1"),
      `/t/pools/p/order/${(2n ** 64n - 1n).toString(16).padStart(32, "0")}/-1`,
    );
    assert.equal(keys.order("p", "abc"), undefined);
  });
});

describe("poolWrites()", () => {
  it("creates the pool with its layout key, and writes index keys unless the pool is of the previous layout", () => {
    const ops = poolWrites(keys, poolChange("p", "10.0.0.0/16", { create: [["5", a("ns/a")]] }));
    assert.equal(ops.length, 2);
    const [create, index] = ops.map((op) => ("request_txn" in op ? op.request_txn : undefined));
    assert.deepEqual(describeOps(create!.success), ["put /t/pools/p/meta", "put /t/pools/p/layout"]);
    assert.deepEqual(
      index!.compare.map((c) => [decode(c.key), c.result, c.target]),
      [
        ["/t/pools/p/meta", "GREATER", "CREATE"],
        ["/t/pools/p/layout", "EQUAL", "CREATE"],
      ],
    );
    assert.deepEqual(index!.success, [], "meta without layout: nothing");
    assert.equal(index!.failure.length, 2);
    assert.deepEqual(poolWrites(keys, poolChange("p", "10.0.0.0/16")), [], "nothing to write");
  });
});

describe("marksFor()", () => {
  const candidate = (
    block: bigint,
    missing: bigint[],
    extra: Partial<FullCandidate> = {},
  ): FullCandidate => ({
    block,
    readFrom: block * 256n,
    missing,
    fullFrom: undefined,
    markerRevision: "9",
    ...extra,
  });

  it("marks the tail above the last offset still missing once the change's creates count", () => {
    const change = poolChange("p", "", { create: [["300", a("ns/a")]] });
    assert.deepEqual(
      marksFor(change, [
        candidate(1n, [300n]),
        candidate(2n, []),
        candidate(0n, [0n]),
        candidate(3n, [800n, 1023n]),
        candidate(4n, [], { readFrom: 1030n }),
      ]),
      [
        { block: 1n, from: 256n, markerRevision: "9" },
        { block: 2n, from: 512n, markerRevision: "9" },
        { block: 0n, from: 1n, markerRevision: "9" },
        { block: 4n, from: 1030n, markerRevision: "9" },
      ],
    );
  });

  it("marks nothing the marker already says, nor a block the change deletes in", () => {
    const change = poolChange("p", "", { remove: [["600", a("ns/a")]] });
    assert.deepEqual(marksFor(change, [candidate(2n, []), candidate(1n, [], { fullFrom: 256n })]), []);
    assert.deepEqual(marksFor(poolChange("p", ""), [candidate(1n, [], { fullFrom: 300n })]).length, 1);
  });

  it("guards each marker by its revision at the read, or by its absence", () => {
    const ops = fullMarks(keys, "p", [
      { block: 1n, from: 256n, markerRevision: "9" },
      { block: 2n, from: 600n, markerRevision: undefined },
    ]);
    const txns = ops.map((op) => ("request_txn" in op ? op.request_txn : undefined)!);
    assert.deepEqual(
      txns.map((t) => [t.compare[0]!.target, decode(t.compare[0]!.key)]),
      [
        ["MOD", `/t/pools/p/blocks/${hex(1)}`],
        ["CREATE", `/t/pools/p/blocks/${hex(2)}`],
      ],
    );
    const put = txns[1]!.success[0]!;
    assert.ok("request_put" in put);
    assert.equal(decode(put.request_put.value), encodeBlockFull(600n));
  });
});

describe("txnNeed()", () => {
  it("adds the most a nested transaction takes to the largest branch", () => {
    const put = { request_put: { key: "a", value: "b" } };
    const nested = (n: number): RequestOp => ({
      request_txn: { compare: [], success: Array(n).fill(put), failure: [] },
    });
    assert.equal(txnNeed([], [put, put], []), 2);
    assert.equal(txnNeed([], [put, nested(5), nested(3)], [put]), 3 + 5);
    assert.equal(
      txnNeed([], [{ request_txn: { compare: [], success: [nested(4)], failure: [] } }], []),
      1 + 1 + 4,
    );
  });
});
