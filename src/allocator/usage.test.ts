import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatIP, parseIP } from "../ip/index.ts";
import type { Allocation, PoolSnapshot } from "../pool/allocation.ts";
import { encodeOffsetKey } from "../pool/offset-key.ts";
import { assign } from "./assign.ts";
import { countOf, intervalSet, overlapCount, without } from "./interval-set.ts";
import { viewPool } from "./pool-view.ts";
import { rule, someone } from "./test-support.ts";
import { carriedUsage, handedOut, usageOf } from "./usage.ts";

const set = (...pairs: [number, number][]) =>
  intervalSet(pairs.map(([lo, hi]) => ({ lo: BigInt(lo), hi: BigInt(hi) })));
const text = (s: ReturnType<typeof set>) => s.intervals.map((i) => `${i.lo}-${i.hi}`).join(",");

function pool(range: string, keys: readonly string[]): PoolSnapshot {
  return {
    name: "p",
    range,
    allocations: new Map(keys.map((k, i): [string, Allocation] => [k, someone(i)])),
    released: new Map(),
    version: "1",
  };
}

describe("interval sets: countOf, without, overlapCount", () => {
  it("counts, cuts and intersects sorted interval lists", () => {
    const a = set([1, 10], [20, 30]);
    assert.equal(countOf(a), 21n);
    assert.equal(text(without(a, set([0, 2], [5, 5], [9, 21], [30, 40]))), "3-4,6-8,22-29");
    assert.equal(text(without(a, set())), "1-10,20-30");
    assert.equal(text(without(a, set([0, 100]))), "");
    assert.equal(overlapCount(a, set([0, 2], [5, 5], [9, 21], [30, 40])), 2n + 1n + 2n + 2n + 1n);
    assert.equal(overlapCount(a, set([11, 19])), 0n);
    assert.equal(overlapCount(set([0, 2 ** 40]), set([2 ** 39, 2 ** 41])), 2n ** 39n + 1n);
  });
});

describe("pool usage (the IPPool status)", () => {
  it("hands out the window narrowed by range_start/range_end, minus exclude and the gateway", () => {
    const r = rule("10.0.0.0/24", { start: "10.0.0.10", end: "10.0.0.20", exclude: ["10.0.0.12/31"] });
    const usable = handedOut(r, parseIP("10.0.0.15"));
    const ips = usable.intervals.map(
      (i) => `${formatIP({ family: 4, value: i.lo })}-${formatIP({ family: 4, value: i.hi })}`,
    );
    assert.deepEqual(ips, ["10.0.0.10-10.0.0.11", "10.0.0.14-10.0.0.14", "10.0.0.16-10.0.0.20"]);
    // a gateway of the other family, or outside the window, changes nothing
    assert.equal(countOf(handedOut(r, parseIP("fd00::15"))), 9n);
    assert.equal(countOf(handedOut(r, parseIP("10.0.0.99"))), 9n);
    assert.equal(countOf(handedOut(rule("10.0.0.0/24"))), 254n);
  });

  it("free is exactly how many more addresses assign() hands out, down to exhaustion", () => {
    const r = rule("192.168.7.0/27", {
      start: "192.168.7.3",
      end: "192.168.7.28",
      exclude: ["192.168.7.8/30", "192.168.7.20"],
    });
    const gateway = parseIP("192.168.7.5")!;
    const usable = handedOut(r, gateway);
    const keys: string[] = [];
    const base = { family: 4 as const, value: r.range.address };
    for (let n = 0; ; n++) {
      const snapshot = pool("192.168.7.0/27", keys);
      const usage = usageOf(snapshot, usable);
      assert.deepEqual(usage, { used: n, free: 20n - BigInt(n) });
      let decision: ReturnType<typeof assign>;
      try {
        decision = assign(
          r,
          viewPool(snapshot, base),
          { containerId: `c${n}`, podRef: `ns/p${n}`, ifName: "eth0" },
          { gateway },
        );
      } catch {
        assert.equal(usage.free, 0n);
        return;
      }
      assert.equal(decision.kind, "new");
      if (decision.kind === "new") keys.push(encodeOffsetKey(base, decision.address));
    }
  });

  it("counts every entry as used but only handed-out addresses against free, each address once", () => {
    const r = rule("10.0.0.0/24", { start: "10.0.0.10", end: "10.0.0.20" });
    const usable = handedOut(r); // 11 addresses
    // 10 and 11 in the window ("11" twice: legacy "+11"), 2 and 200 outside, "x" unreadable
    const usage = usageOf(pool("10.0.0.0/24", ["10", "11", "+11", "2", "200", "x"]), usable);
    assert.deepEqual(usage, { used: 6, free: 9n });
    // offsets count from the IP written in spec.range (host bits kept, as Go does)
    assert.deepEqual(usageOf(pool("10.0.0.5/24", ["5"]), usable), { used: 1, free: 10n });
  });

  it("an IPv6 /64 has 2^64 − 2 addresses to hand out: free is an exact bigint", () => {
    const usable = handedOut(rule("fd00:10::/64"));
    assert.equal(countOf(usable), 18446744073709551614n);
    const usage = usageOf(pool("fd00:10::/64", ["1", "2", "18446744073709551614"]), usable);
    assert.deepEqual(usage, { used: 3, free: 18446744073709551611n });
    assert.equal(String(usage.free), "18446744073709551611");
  });

  it("without a configuration, used + free of the last configured count carries on", () => {
    const after = pool("10.0.0.0/24", ["1", "2"]);
    assert.deepEqual(carriedUsage(after, { used: 5, free: 249n }), { used: 2, free: 252n });
    assert.deepEqual(carriedUsage(after, undefined), { used: 2, free: undefined });
    assert.deepEqual(carriedUsage(after, { used: 1, free: undefined }), { used: 2, free: undefined });
    assert.deepEqual(carriedUsage(pool("10.0.0.0/24", ["1", "2", "3"]), { used: 1, free: 1n }), {
      used: 3,
      free: 0n,
    });
  });
});
