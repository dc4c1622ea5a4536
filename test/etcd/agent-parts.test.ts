// The node agent's cached part of an etcd pool (src/agent/agent-store.ts): ADDs answered from the
// part it read last, each commit checking that the attachment holds no entry elsewhere
// (PoolChange.absent). In-process over a real etcd store (reads counted), then plugin processes
// through an agent and alone, repeating ADDs of the same pods with new containers and deleting
// meanwhile: no address twice, no attachment with two entries, the index keys exact.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AgentStore, CACHE_MAX_AGE_MS, CONTENDED_MS } from "../../src/agent/agent-store.ts";
import { inParallel } from "../../src/cli/exec-plugin.ts";
import { load } from "../../src/config/test-support.ts";
import { formatIP, parseIP } from "../../src/ip/index.ts";
import { addAttachment } from "../../src/ipam/add.ts";
import { deleteAttachment } from "../../src/ipam/del.ts";
import { deadlineIn } from "../../src/ipam/retry.ts";
import { createLogger } from "../../src/log/logger.ts";
import { encode, type KeyValue, prefixEnd } from "../../src/store/etcd/etcd-api.ts";
import { type EtcdStore, openEtcdStore } from "../../src/store/etcd/etcd-store.ts";
import { alloc, change, storeConformance } from "../store/conformance.ts";
import { partsConformance } from "../store/conformance-parts.ts";
import { stickyConformance } from "../store/conformance-sticky.ts";
import { type AgentProcess, startAgentProcess } from "../support/agent.ts";
import { assertEmpty, assertNoDuplicates, type Holding } from "../support/invariants.ts";
import { type AddCall, add, addressesOf, assertCleanOutcome, del, netConf } from "../support/plugin.ts";
import { type EtcdCluster, inMemoryForFile } from "./etcd-cluster.ts";
import { indexProblems } from "./index-check.ts";

const RANGE = "10.9.0.0/24";
const POOL = "10.9.0.0-24";
const log = createLogger("error", { stderr: () => {} });

let cluster: EtcdCluster;
inMemoryForFile((c) => {
  cluster = c;
});

let serial = 0;
const freshPrefix = () => `/agent-parts-${process.pid}-${serial++}`;

async function assertIndexed(store: EtcdStore): Promise<void> {
  const dir = store.keys.pool(POOL);
  const reply = (await cluster.call(0, "/v3/kv/range", { key: encode(dir), range_end: prefixEnd(dir) })) as {
    kvs?: KeyValue[];
  };
  assert.deepEqual(indexProblems(store.keys, POOL, reply.kvs ?? []), [], "index keys match the entries");
}

// The Store contract of the agent's store over etcd (part reads passed through, `absent` checked).
async function openAgentTarget() {
  const settings = { endpoints: cluster.endpoints, prefix: freshPrefix() };
  const store = new AgentStore(await openEtcdStore(settings, { timeoutMs: 5_000 }));
  return {
    store,
    reopen: async () => new AgentStore(await openEtcdStore(settings, { timeoutMs: 5_000 })),
    cleanup: () => store.close(),
    dropsUnnamedReservations: false,
    maxCreatesPerCommit: 40,
  };
}
storeConformance("agent store over etcd", openAgentTarget);
stickyConformance("agent store over etcd", openAgentTarget);
partsConformance("agent store over etcd", openAgentTarget, { checksAbsent: true });

describe("node agent: cached parts of etcd pools", () => {
  const config = load({ type: "thereabouts", range: RANGE });
  const pod = (name: string, containerId = `ctr-${name}`) => ({
    containerId,
    podRef: `default/${name}`,
    ifName: "eth0",
  });

  /** An agent over its own etcd store (requests counted) and a store writing behind its back. */
  async function withAgent(work: (agent: AgentStore, inner: EtcdStore, direct: EtcdStore) => Promise<void>) {
    const prefix = freshPrefix();
    const inner = await openEtcdStore({ endpoints: cluster.endpoints, prefix });
    const direct = await openEtcdStore({ endpoints: cluster.endpoints, prefix });
    const agent = new AgentStore(inner);
    try {
      await work(agent, inner, direct);
      await assertIndexed(direct);
    } finally {
      await agent.close();
      await direct.close();
    }
  }

  async function addVia(store: AgentStore | EtcdStore, who: ReturnType<typeof pod>): Promise<string> {
    const outcome = await addAttachment(store, config, who, deadlineIn(30_000), log);
    return formatIP(outcome.addresses[0]!.address);
  }

  it("answers ADDs from the part it read last: one read, then the commits alone", async () => {
    await withAgent(async (agent, inner, direct) => {
      await addVia(agent, pod("p0")); // creates the pool: its part is not cached (not indexed yet)
      const before = inner.requests;
      const got: string[] = [];
      for (let i = 1; i <= 20; i++) got.push(await addVia(agent, pod(`p${i}`)));
      assert.deepEqual(
        got,
        Array.from({ length: 20 }, (_, i) => `10.9.0.${i + 2}`),
        "lowest free first",
      );
      assert.equal(inner.requests - before, 21, "one part read, then one transaction per ADD");
      // The metrics: 19 answered from the cache, 1 read to fill it (p0's read of no pool filled nothing).
      assert.deepEqual([agent.stats.cachedReads, agent.stats.storeReads], [19, 1]);
      await assertNoDuplicates(
        direct,
        got.map((address, i) => ({ address, podRef: `default/p${i + 1}` })),
      );
    });
  });

  it("an attachment holding an entry the cached part does not show keeps it, without a second entry", async () => {
    await withAgent(async (agent, _inner, direct) => {
      await addVia(agent, pod("p0"));
      await addVia(agent, pod("p1")); // the part is cached now
      // Written behind the cache's back: a pod's entry far up the range (as a plugin alone, or
      // another node for a recreated pod of the same name, would). The cached part shows 3 free.
      const far = alloc("ctr-far", "default/far");
      assert.deepEqual(await direct.commit({ ...change(POOL, { create: [["200", far]] }), range: RANGE }), {
        ok: true,
      });
      const cached = agent.stats.cachedReads;
      const lost = agent.stats.lostRaces;
      assert.equal(
        await addVia(agent, pod("far", "ctr-far-2")),
        "10.9.0.200",
        "its own entry, new container",
      );
      assert.ok(agent.stats.cachedReads > cached, "decided on the cached part first");
      assert.equal(agent.stats.lostRaces, lost + 1, "whose choice (offset 3) lost at its commit: absent");
      assert.deepEqual(
        (await direct.getPool(POOL)).allocations.get("200"),
        alloc("ctr-far-2", "default/far"),
      );
      await assertNoDuplicates(direct, [{ address: "10.9.0.200", podRef: "default/far" }]);
    });
  });

  it("never hands out an address another writer took behind the cache's back, and reuses one it freed", async () => {
    await withAgent(async (agent, _inner, direct) => {
      const reported: Holding[] = [];
      const record = async (store: AgentStore | EtcdStore, name: string) =>
        reported.push({ address: await addVia(store, pod(name)), podRef: `default/${name}` });
      await record(agent, "a0");
      await record(agent, "a1");
      for (const name of ["d0", "d1", "d2"]) await record(direct, name);
      for (const name of ["a2", "a3", "a4"]) await record(agent, name);
      await assertNoDuplicates(direct, reported);
      // A DEL through the agent frees its address in the cached part too: the next ADD takes it.
      const freed = reported.find((r) => r.podRef === "default/a1")!.address;
      await deleteAttachment(agent, config, pod("a1"), "default/a1", deadlineIn(30_000));
      assert.equal(await addVia(agent, pod("a5")), freed);
    });
  });

  it("reads again once its part is older than the cache's max age, and for a while after a lost race", async () => {
    const prefix = freshPrefix();
    const inner = await openEtcdStore({ endpoints: cluster.endpoints, prefix });
    const direct = await openEtcdStore({ endpoints: cluster.endpoints, prefix });
    let now = 0;
    const agent = new AgentStore(inner, { now: () => now });
    try {
      const reported: Holding[] = [];
      const requestsOf = async (name: string): Promise<number> => {
        const before = inner.requests;
        reported.push({ address: await addVia(agent, pod(name)), podRef: `default/${name}` });
        return inner.requests - before;
      };
      await addVia(agent, pod("p0"));
      assert.equal(await requestsOf("p1"), 2, "read (cached now), commit");
      assert.equal(await requestsOf("p2"), 1, "from the cached part");
      now += CACHE_MAX_AGE_MS;
      assert.equal(await requestsOf("p3"), 2, "too old: read again");
      // The next lowest free address, taken behind the cache's back: the cached choice loses.
      assert.equal(await addVia(direct, pod("d0")), "10.9.0.5");
      reported.push({ address: "10.9.0.5", podRef: "default/d0" });
      const lost = agent.stats.lostRaces;
      assert.equal(await requestsOf("p4"), 3, "the lost commit, a read, the commit");
      assert.equal(agent.stats.lostRaces, lost + 1);
      now += CONTENDED_MS - 1;
      assert.equal(await requestsOf("p5"), 2, "contended: read");
      now += 1;
      assert.equal(await requestsOf("p6"), 1, "no longer contended: from the part p5 read");
      now += CACHE_MAX_AGE_MS;
      assert.equal(await requestsOf("p7"), 2, "too old again: read");
      await assertNoDuplicates(direct, reported);
      await assertIndexed(direct);
    } finally {
      await agent.close();
      await direct.close();
    }
  });

  it("hands out a requested address freed behind its back, although its cached part shows it taken", async () => {
    await withAgent(async (agent, _inner, direct) => {
      await addVia(agent, pod("p0"));
      assert.equal(await addVia(agent, pod("p1")), "10.9.0.2"); // the part is cached now, with .2 held
      await deleteAttachment(direct, config, pod("p1"), "default/p1", deadlineIn(30_000));
      const wants = { addresses: [parseIP("10.9.0.2")!], source: "runtimeConfig" };
      const outcome = await addAttachment(
        agent,
        config,
        { ...pod("q"), requested: wants },
        deadlineIn(5_000),
        log,
      );
      assert.equal(formatIP(outcome.addresses[0]!.address), "10.9.0.2");
      await assertNoDuplicates(direct, [{ address: "10.9.0.2", podRef: "default/q" }]);
    });
  });

  it("concurrent ADDs through it choose different addresses, sharing one read", async () => {
    await withAgent(async (agent, inner, direct) => {
      await addVia(agent, pod("first"));
      const before = inner.requests;
      const names = Array.from({ length: 24 }, (_, i) => `c${i}`);
      const got = await Promise.all(names.map((name) => addVia(agent, pod(name))));
      await assertNoDuplicates(
        direct,
        got.map((address, i) => ({ address, podRef: `default/${names[i]}` })),
      );
      const requests = inner.requests - before;
      assert.ok(requests < names.length, `fewer requests than ADDs (${requests} for ${names.length})`);
    });
  });
});

describe("node agent: cached parts under concurrent plugin processes", () => {
  let agent: AgentProcess;
  let store: EtcdStore;
  const prefix = freshPrefix();
  before(async () => {
    agent = await startAgentProcess();
    store = await openEtcdStore({ endpoints: cluster.endpoints, prefix });
  });
  after(async () => {
    await agent?.stop();
    await store?.close();
  });

  const config = () => netConf({ type: "thereabouts", range: RANGE, ...cluster.ipamKeys({ prefix }) });
  const call = (name: string, containerId: string, viaAgent: boolean): AddCall => ({
    config: config(),
    pod: name,
    containerId,
    env: viaAgent ? agent.env : { THEREABOUTS_AGENT_SOCKET: "/nonexistent/agent.sock" },
  });

  it("repeated ADDs with new containers and DELs, through the agent and alone: no address twice, one entry per pod", async () => {
    const reports = new Map<string, string>();
    const record = (c: AddCall, o: Awaited<ReturnType<typeof add>>) => {
      assertCleanOutcome(o, `ADD ${c.pod}`);
      assert.equal(o.code, 0, `ADD ${c.pod}: ${o.stdout}`);
      const address = addressesOf(o)[0]!.split("/")[0]!;
      const before = reports.get(c.pod);
      if (before !== undefined) assert.equal(address, before, `${c.pod} keeps its address on a repeated ADD`);
      reports.set(c.pod, address);
    };
    // Three in four through the agent, at once.
    const pods = Array.from({ length: 48 }, (_, i) => `w-${i}`);
    const first = pods.map((name, i) => call(name, `ctr-${name}`, i % 4 !== 3));
    for (const [i, o] of (await inParallel(first, 24, (c) => add(c))).entries()) record(first[i]!, o);
    await assertNoDuplicates(
      store,
      pods.map((name) => ({ address: reports.get(name)!, podRef: `default/${name}` })),
    );
    await assertIndexed(store);
    // Then, all at once: the odd pods added again with new containers (as a runtime recreating a
    // sandbox would; through the agent for those first added alone, whose entries the agent's
    // cached part may not show, and the other way round), new pods, and the even pods deleted.
    const odd = pods.filter((_, i) => i % 2 === 1);
    const again = odd.map((name, i) => call(name, `ctr2-${name}`, i % 2 === 1));
    const arriving = Array.from({ length: 32 }, (_, i) => call(`n-${i}`, `ctr-n-${i}`, i % 3 !== 0));
    const adding = [...again, ...arriving].sort((a, b) => (a.pod < b.pod ? -1 : 1));
    const leaving = first.filter((_, i) => i % 2 === 0);
    const [added, gone] = await Promise.all([
      inParallel(adding, 16, (c) => add(c)),
      inParallel(leaving, 8, (c) => del(c)),
    ]);
    for (const [i, o] of added.entries()) record(adding[i]!, o);
    for (const [i, o] of gone.entries()) assert.equal(o.code, 0, `DEL ${leaving[i]!.pod}: ${o.stdout}`);
    const staying = [...again, ...arriving];
    await assertNoDuplicates(
      store,
      staying.map((c) => ({ address: reports.get(c.pod)!, podRef: `default/${c.pod}` })),
    );
    const pool = await store.getPool(POOL);
    for (const c of again)
      assert.equal(
        [...pool.allocations.values()].find((a) => a.podRef === `default/${c.pod}`)?.containerId,
        c.containerId,
        `${c.pod}'s entry records its new container`,
      );
    await assertIndexed(store);
    for (const o of await inParallel(staying, 8, (c) => del(c))) assert.equal(o.code, 0, o.stdout);
    await assertEmpty(store);
    await assertIndexed(store);
  });
});
