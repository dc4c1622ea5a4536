// AgentStore over a memory store: which reads it answers from its cache (only views the caller
// says it can verify), and the caller's deadline passed to the store underneath. Its Store
// contract and its behaviour beside other writers: test/agent/agent-store.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deadlineIn } from "../ipam/retry.ts";
import { MemoryStore } from "../store/memory/memory-store.ts";
import { type CallOptions, poolChange } from "../store/store.ts";
import { AgentStore, CACHE_MAX_AGE_MS } from "./agent-store.ts";

const a = { containerId: "c1", podRef: "ns/a", ifName: "eth0" };
const create = (key: string) => poolChange("p", "10.0.0.0/24", { create: [[key, a]] });
const always = () => true;
const never = () => false;

function agentOver(inner = new MemoryStore()) {
  let now = 0;
  const agent = new AgentStore(inner, { now: () => now });
  return { inner, agent, later: (ms: number) => (now += ms) };
}

describe("AgentStore reads", () => {
  it("hands out a cached view only when the caller can verify it, else reads the store", async () => {
    const { inner, agent } = agentOver();
    await agent.getPool("p", { verifiable: always });
    assert.equal(inner.count("getPool"), 1);
    await agent.getPool("p", { verifiable: always });
    assert.equal(inner.count("getPool"), 1, "answered from the cache");
    await agent.getPool("p", { verifiable: never });
    assert.equal(inner.count("getPool"), 2, "not verifiable: the store's answer");
    await agent.getPool("p");
    assert.equal(inner.count("getPool"), 3, "no verifiable: always the store");
    assert.deepEqual([agent.stats.cachedReads, agent.stats.storeReads], [1, 1]);
  });

  it("shows changes in flight in a view the caller can verify, and otherwise gives the store's answer", async () => {
    const { inner, agent, later } = agentOver();
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    inner.next("commit", { before: () => gate });
    await agent.getPool("p", { verifiable: always });
    const pending = agent.commit(create("1"));
    later(CACHE_MAX_AGE_MS);
    const shows = (v: { allocations: ReadonlyMap<string, unknown> }) => v.allocations.has("1");
    const withFlight = await agent.getPool("p", { verifiable: shows });
    assert.equal(withFlight.allocations.has("1"), true, "the in-flight create, on a store read");
    assert.equal(inner.count("getPool"), 2);
    const plain = await agent.getPool("p", { verifiable: (v) => !shows(v) });
    assert.equal(plain.allocations.has("1"), false, "the store has not seen it yet");
    assert.equal(inner.count("getPool"), 3);
    open();
    assert.deepEqual(await pending, { ok: true });
  });

  it("keeps release records and sticky fields in its cached view: in flight, then committed", async () => {
    const { inner, agent } = agentOver();
    assert.deepEqual(await agent.commit(create("1")), { ok: true });
    await agent.getPool("p", { verifiable: always });
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    inner.next("commit", { before: () => gate });
    const parked = { ...a, owner: "statefulset/ns/web/0", parkedAt: 5 };
    const pending = agent.commit(
      poolChange("p", "10.0.0.0/24", { update: [{ key: "1", from: a, to: parked }], release: [["2", 7]] }),
    );
    const inFlight = await agent.getPool("p", { verifiable: always });
    assert.deepStrictEqual([inFlight.allocations.get("1"), inFlight.released], [parked, new Map([["2", 7]])]);
    open();
    assert.deepEqual(await pending, { ok: true });
    const cached = await agent.getPool("p", { verifiable: always });
    assert.deepStrictEqual([cached.allocations.get("1"), cached.released], [parked, new Map([["2", 7]])]);
    assert.equal(inner.count("getPool"), 1, "both answered from the cache");
    assert.deepStrictEqual((await inner.getPool("p")).released, new Map([["2", 7]]));
  });

  it("reads the store when the cached view is too old", async () => {
    const { inner, agent, later } = agentOver();
    await agent.getPool("p", { verifiable: always });
    later(CACHE_MAX_AGE_MS);
    await agent.getPool("p", { verifiable: always });
    assert.equal(inner.count("getPool"), 2);
  });
});

describe("AgentStore deadlines", () => {
  it("passes the caller's deadline to every call of the store underneath", async () => {
    const { inner, agent } = agentOver();
    const deadline = deadlineIn(60_000);
    const options = { deadline };
    await agent.getPool("p", { ...options, verifiable: always });
    await agent.commit(create("1"), options);
    await agent.getPool("p", options);
    await agent.listPools(options);
    await agent.getReservation("r", options);
    await agent.listReservations(options);
    await agent.dropReservations([{ name: "r", ...a }], options);
    await agent.dropReservationsOf(a, options);
    await agent.ping(options);
    assert.equal(inner.calls.length, 9);
    for (const call of inner.calls)
      assert.equal((call.args.at(-1) as CallOptions | undefined)?.deadline, deadline, call.call);
  });
});
