import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { commandLabel, createAgentMetrics } from "./metrics.ts";
import { WarmStores } from "./warm-stores.ts";

describe("agent metrics", () => {
  it("label commands from the CNI verbs only; anything else is other", async () => {
    for (const verb of ["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"])
      assert.equal(commandLabel(verb), verb);
    for (const raw of ["add", "", "ADD\n", "X".repeat(1000), "__proto__"])
      assert.equal(commandLabel(raw), "other");
    const metrics = createAgentMetrics(new WarmStores());
    for (let i = 0; i < 300; i++) metrics.call(`BOGUS-${i}`, "error", 0.001);
    metrics.call("ADD", "timeout", 65);
    const text = await metrics.registry.metrics();
    assert.match(text, /thereabouts_agent_calls_total\{command="other",result="error"\} 300\n/);
    assert.match(text, /thereabouts_agent_calls_total\{command="ADD",result="timeout"\} 1\n/);
    assert.doesNotMatch(text, /BOGUS/);
    assert.ok(text.length < 16_000, `metrics text stays small: ${text.length} bytes`);
  });
});
