import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Allocation, PoolSnapshot } from "../pool/allocation.ts";
import { createMetrics, poolSize, sample } from "./metrics.ts";

const entry: Allocation = { containerId: "c", podRef: "ns/p", ifName: "net1" };

function pool(name: string, range: string, used: number): PoolSnapshot {
  return {
    name,
    range,
    allocations: new Map(Array.from({ length: used }, (_, i) => [String(i + 1), entry])),
    released: new Map(),
    version: "1",
  };
}

/** The value of one series in the registry's text, or undefined when it is not there. */
function sampleOf(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("controller metrics", () => {
  it("sizes pools exactly as bigints, network and broadcast excluded", () => {
    assert.equal(poolSize("10.0.0.0/24"), 254n);
    assert.equal(poolSize("10.0.0.5/32"), 1n);
    assert.equal(poolSize("10.0.0.4/31"), 2n);
    assert.equal(poolSize("fd00::/64"), 2n ** 64n - 2n);
    assert.equal(poolSize("::/0"), 2n ** 128n - 2n);
    assert.equal(poolSize("nonsense"), 0n);
  });

  it("reports IPv4 and small IPv6 pools exactly, and a /64 as the nearest float64 (decided: Prometheus samples are float64)", async () => {
    const metrics = createMetrics("kube-system", async () => [
      pool("v4", "10.0.0.0/24", 3),
      pool("v6-75", "fd00::/75", 2),
      pool("v6-64", "fd00::/64", 5),
    ]);
    const text = await metrics.registry.metrics();
    const at = (metric: string, name: string) =>
      sampleOf(text, `thereabouts_pool_${metric}{pool="${name}",namespace="kube-system"}`);
    assert.deepEqual([at("size", "v4"), at("used", "v4"), at("free", "v4")], [254, 3, 251]);
    // 2^53 − 2 and 2^53 − 4 are exact float64s: nothing is lost up to a /75.
    assert.equal(at("size", "v6-75"), 2 ** 53 - 2);
    assert.equal(at("free", "v6-75"), 2 ** 53 - 4);
    assert.equal(Number.isSafeInteger(at("free", "v6-75")!), true);
    // A /64: 2^64 − 2 and 2^64 − 7 both round to 2^64; the ratio is still right.
    assert.equal(at("size", "v6-64"), 2 ** 64);
    assert.equal(at("free", "v6-64"), sample(2n ** 64n - 7n));
    assert.equal(at("used", "v6-64"), 5);
    assert.ok(Math.abs(at("free", "v6-64")! / at("size", "v6-64")! - 1) < 1e-15);
    assert.doesNotMatch(text, / (NaN|[+-]?Inf)\n/, "every sample a number");
  });

  it("rounds a huge count to the nearest float64, never truncating", () => {
    assert.equal(sample(2n ** 53n + 1n), 2 ** 53);
    assert.equal(sample(2n ** 53n + 3n), 2 ** 53 + 4);
    assert.equal(sample(2n ** 128n - 2n), 2 ** 128);
  });

  it("observes a leak age per reclaimed address, in bounded buckets per trigger, every series there from the start", async () => {
    const metrics = createMetrics("ns", async () => []);
    const fresh = await metrics.registry.metrics();
    for (const trigger of ["fast", "startup", "cron"])
      assert.equal(sampleOf(fresh, `thereabouts_leak_age_seconds_count{trigger="${trigger}"}`), 0);
    metrics.leaked("fast", 0.3, 2);
    metrics.leaked("cron", 7_200, 1);
    metrics.leaked("cron", 30 * 86_400, 1);
    const text = await metrics.registry.metrics();
    assert.equal(sampleOf(text, 'thereabouts_leak_age_seconds_count{trigger="fast"}'), 2);
    assert.equal(sampleOf(text, 'thereabouts_leak_age_seconds_bucket{le="1",trigger="fast"}'), 2);
    assert.equal(sampleOf(text, 'thereabouts_leak_age_seconds_bucket{le="3600",trigger="cron"}'), 0);
    assert.equal(sampleOf(text, 'thereabouts_leak_age_seconds_bucket{le="14400",trigger="cron"}'), 1);
    assert.equal(sampleOf(text, 'thereabouts_leak_age_seconds_bucket{le="604800",trigger="cron"}'), 1);
    assert.equal(sampleOf(text, 'thereabouts_leak_age_seconds_bucket{le="+Inf",trigger="cron"}'), 2);
    const buckets = text.split("\n").filter((l) => l.startsWith("thereabouts_leak_age_seconds_bucket"));
    assert.equal(buckets.length, 3 * 11, "10 bounds and +Inf per trigger, whatever was observed");
  });
});
