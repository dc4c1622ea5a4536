import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { commandLabel, createAgentMetrics } from "./metrics.ts";
import { WarmStores } from "./warm-stores.ts";

/** The series of the registry's text: metric name with labels → value. */
function series(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

describe("agent metrics", () => {
  it("label commands from the CNI verbs only; anything else is other", async () => {
    for (const verb of ["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"])
      assert.equal(commandLabel(verb), verb);
    for (const raw of ["add", "", "ADD\n", "X".repeat(1000), "__proto__"])
      assert.equal(commandLabel(raw), "other");
    const metrics = createAgentMetrics(new WarmStores());
    metrics.call("BOGUS-0", "none", "error", 0.001);
    const before = series(await metrics.registry.metrics()).size;
    for (let i = 1; i < 300; i++) metrics.call(`BOGUS-${i}`, "none", "error", 0.001);
    metrics.call("ADD", "kubernetes", "timeout", 65);
    const text = await metrics.registry.metrics();
    assert.match(text, /thereabouts_agent_calls_total\{command="other",store="none",result="error"\} 300\n/);
    assert.match(
      text,
      /thereabouts_agent_calls_total\{command="ADD",store="kubernetes",result="timeout"\} 1\n/,
    );
    assert.doesNotMatch(text, /BOGUS/);
    // 300 bogus commands made the series of one; the ADD its own calls counter and histogram.
    const buckets = 15; // 14 bounds and +Inf
    assert.equal(series(text).size, before + 1 + buckets + 2);
    assert.ok(text.length < 24_000, `metrics text stays small: ${text.length} bytes`);
  });

  it("count lost races per store and operation, and retries per allocation, from the IPAM observer", async () => {
    const metrics = createAgentMetrics(new WarmStores());
    const fresh = series(await metrics.registry.metrics());
    for (const store of ["local", "etcd", "kubernetes"])
      for (const operation of ["allocate", "release"])
        assert.equal(
          fresh.get(`thereabouts_agent_conflicts_total{store="${store}",operation="${operation}"}`),
          0,
          "every conflict series reads 0 before the first race",
        );
    for (const reason of ["peer", "malformed", "too_large", "timeout"])
      assert.equal(fresh.get(`thereabouts_agent_rejected_connections_total{reason="${reason}"}`), 0);

    const etcd = metrics.retries("etcd");
    etcd.lostRace("allocate");
    etcd.lostRace("allocate");
    etcd.allocated(2);
    etcd.allocated(0);
    metrics.retries("kubernetes").lostRace("release");
    const after = series(await metrics.registry.metrics());
    assert.equal(after.get('thereabouts_agent_conflicts_total{store="etcd",operation="allocate"}'), 2);
    assert.equal(after.get('thereabouts_agent_conflicts_total{store="kubernetes",operation="release"}'), 1);
    assert.equal(after.get('thereabouts_agent_conflicts_total{store="local",operation="allocate"}'), 0);
    assert.equal(after.get('thereabouts_agent_allocation_retries_count{store="etcd"}'), 2);
    assert.equal(after.get('thereabouts_agent_allocation_retries_sum{store="etcd"}'), 2);
    assert.equal(after.get('thereabouts_agent_allocation_retries_bucket{le="0",store="etcd"}'), 1);
    assert.equal(after.get('thereabouts_agent_allocation_retries_bucket{le="1",store="etcd"}'), 1);
    assert.equal(after.get('thereabouts_agent_allocation_retries_bucket{le="2",store="etcd"}'), 2);
  });

  it("count meta-plugin calls by command and result, time them, and read the gate's gauges when scraped", async () => {
    const load = { running: 0, queued: 0 };
    const metrics = createAgentMetrics(new WarmStores(), load);
    const fresh = series(await metrics.registry.metrics());
    for (const command of ["ADD", "DEL"])
      for (const result of ["ok", "error", "shed"])
        assert.equal(
          fresh.get(`thereabouts_agent_multus_calls_total{command="${command}",result="${result}"}`),
          0,
        );
    assert.equal(fresh.get("thereabouts_agent_multus_calls_in_flight"), 0);
    assert.equal(fresh.get("thereabouts_agent_multus_calls_queued"), 0);

    metrics.multusCall("ADD", "ok", 0.3);
    metrics.multusCall("ADD", "shed", 0);
    metrics.multusCall("DEL", "declined", 0.001);
    metrics.multusCall("ADD", "timeout", 65);
    const before = series(await metrics.registry.metrics()).size;
    for (let i = 0; i < 300; i++) metrics.multusCall(`BOGUS-${i}`, "error", 0.001);
    load.running = 8;
    load.queued = 37;
    const text = await metrics.registry.metrics();
    const now = series(text);
    assert.equal(now.get('thereabouts_agent_multus_calls_total{command="ADD",result="ok"}'), 1);
    assert.equal(now.get('thereabouts_agent_multus_calls_total{command="ADD",result="shed"}'), 1);
    assert.equal(now.get('thereabouts_agent_multus_calls_total{command="DEL",result="declined"}'), 1);
    assert.equal(now.get('thereabouts_agent_multus_calls_total{command="ADD",result="timeout"}'), 1);
    assert.equal(now.get('thereabouts_agent_multus_calls_total{command="other",result="error"}'), 300);
    assert.equal(
      now.get('thereabouts_agent_multus_call_duration_seconds_bucket{le="0.5",command="ADD",result="ok"}'),
      1,
    );
    assert.equal(
      now.get('thereabouts_agent_multus_call_duration_seconds_bucket{le="0.25",command="ADD",result="ok"}'),
      0,
    );
    assert.equal(now.get("thereabouts_agent_multus_calls_in_flight"), 8);
    assert.equal(now.get("thereabouts_agent_multus_calls_queued"), 37);
    assert.doesNotMatch(text, /BOGUS/);
    // 300 bogus commands: one counter series, one histogram (12 bounds, +Inf, sum, count).
    assert.equal(now.size, before + 1 + 15);
  });
});
