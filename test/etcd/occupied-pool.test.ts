// Issue 11 point 3 under concurrency on etcd: a pool already holding 30,000 entries (written
// through the store, so indexed), then plugin processes (alone and through a node agent) adding
// and deleting concurrently. Uncontended ADDs take the lowest free addresses in order; no address
// is ever held twice; after DEL only the pre-filled entries are left; and the index keys match the
// entries exactly, with no block marked full over a free offset (test/etcd/index-check.ts).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { inParallel } from "../../src/cli/exec-plugin.ts";
import { formatIP } from "../../src/ip/index.ts";
import { encode, type KeyValue, prefixEnd } from "../../src/store/etcd/etcd-api.ts";
import { type EtcdStore, openEtcdStore } from "../../src/store/etcd/etcd-store.ts";
import { alloc, change } from "../store/conformance.ts";
import { type AgentProcess, startAgentProcess } from "../support/agent.ts";
import { assertNoDuplicates, type Holding, storedHoldings } from "../support/invariants.ts";
import { type AddCall, add, addressesOf, assertCleanOutcome, del, netConf } from "../support/plugin.ts";
import { EtcdCluster } from "./etcd-cluster.ts";
import { indexProblems } from "./index-check.ts";

const RANGE = "198.18.0.0/16";
const POOL = "198.18.0.0-16";
const FILLED = 30_000;
/** Offsets left free inside the filled ones: the first ADDs must find them, lowest first. */
const HOLES = [77, 4_097, 20_000];
const IN_FLIGHT = 24;
const DELS_IN_FLIGHT = 2;

const address = (offset: number) =>
  formatIP({ family: 4, value: (198n << 24n) + (18n << 16n) + BigInt(offset) });

describe("etcd: concurrent plugin ADD/DEL on a pool of 30,000 entries", () => {
  let cluster: EtcdCluster;
  let store: EtcdStore;
  let agent: AgentProcess;
  const prefix = "/occupied";
  before(async () => {
    cluster = await EtcdCluster.start({ inMemory: true });
    store = await openEtcdStore({ endpoints: cluster.endpoints, prefix });
    agent = await startAgentProcess();
    const holes = new Set(HOLES);
    const offsets = Array.from({ length: FILLED }, (_, i) => i + 1).filter((o) => !holes.has(o));
    const chunks: number[][] = [];
    for (let i = 0; i < offsets.length; i += 40) chunks.push(offsets.slice(i, i + 40));
    await inParallel(chunks, 8, async (chunk) => {
      const create = chunk.map((o) => [String(o), alloc(`c${o}`, `prefill/p${o}`)] as const);
      assert.deepEqual(await store.commit({ ...change(POOL, { create }), range: RANGE }), { ok: true });
    });
  });
  after(async () => {
    await agent?.stop();
    await store?.close();
    await cluster?.stop();
  });

  const config = () => netConf({ type: "thereabouts", range: RANGE, ...cluster.ipamKeys({ prefix }) });
  const call = (pod: string, viaAgent: boolean): AddCall => ({
    config: config(),
    pod,
    containerId: `ctr-${pod}`,
    env: viaAgent ? agent.env : { THEREABOUTS_AGENT_SOCKET: "/nonexistent/agent.sock" },
  });

  async function assertConsistent(): Promise<void> {
    const dir = store.keys.pool(POOL);
    const reply = (await cluster.call(
      0,
      "/v3/kv/range",
      { key: encode(dir), range_end: prefixEnd(dir) },
      30_000,
    )) as {
      kvs?: KeyValue[];
    };
    assert.deepEqual(indexProblems(store.keys, POOL, reply.kvs ?? []), [], "index keys match the entries");
  }

  it("uncontended ADDs take the holes lowest first, then the first offset past the filled ones", async () => {
    const taken: string[] = [];
    for (const [i, viaAgent] of [false, true, false, true].entries()) {
      const outcome = await add(call(`first-${i}`, viaAgent));
      taken.push(addressesOf(outcome)[0]!.split("/")[0]!);
    }
    assert.deepEqual(taken, [...HOLES, FILLED + 1].map(address));
    await assertConsistent();
  });

  it("concurrent ADDs and DELs, alone and through the agent: no address twice, nothing but the pre-fill left", async () => {
    const first = Array.from({ length: 4 }, (_, i) => call(`first-${i}`, i % 2 === 1));
    const wave1 = Array.from({ length: 64 }, (_, i) => call(`w1-${i}`, i % 2 === 0));
    const wave2 = Array.from({ length: 40 }, (_, i) => call(`w2-${i}`, i % 3 === 0));
    const reports = new Map<string, string>();
    const record = (c: AddCall, o: Awaited<ReturnType<typeof add>>) => {
      assertCleanOutcome(o, `ADD ${c.pod}`);
      assert.equal(o.code, 0, `ADD ${c.pod}: ${o.stdout}`);
      reports.set(c.pod, addressesOf(o)[0]!.split("/")[0]!);
    };
    const added = await inParallel(wave1, IN_FLIGHT, (c) => add(c));
    for (const [i, o] of added.entries()) record(wave1[i]!, o);
    // The first wave and the first pods held their addresses all at once: all distinct.
    const held = [...wave1.map((c) => reports.get(c.pod)!), ...[...HOLES, FILLED + 1].map(address)];
    assert.equal(new Set(held).size, held.length, "no address reported twice");
    // Half of the first wave and the first pods go while the second wave comes. A DEL still reads
    // the whole pool (30,000 entries, ~0.5 s of etcd's time each), and on this 2-core machine
    // four at once under the ADDs' load already pass the store's 2 s per attempt: two at once.
    const leaving = [...first, ...wave1.filter((_, i) => i % 2 === 1)];
    const [arrived, gone] = await Promise.all([
      inParallel(wave2, IN_FLIGHT, (c) => add(c)),
      inParallel(leaving, DELS_IN_FLIGHT, (c) => del(c)),
    ]);
    for (const [i, o] of arrived.entries()) record(wave2[i]!, o);
    for (const [i, o] of gone.entries()) assert.equal(o.code, 0, `DEL ${leaving[i]!.pod}: ${o.stdout}`);
    const staying = [...wave1.filter((_, i) => i % 2 === 0), ...wave2];
    const holders: Holding[] = staying.map((c) => ({
      address: reports.get(c.pod)!,
      podRef: `default/${c.pod}`,
    }));
    await assertNoDuplicates(store, holders);
    await assertConsistent();
    const dels = await inParallel(staying, DELS_IN_FLIGHT, (c) => del(c));
    for (const o of dels) assert.equal(o.code, 0, o.stdout);
    const left = await storedHoldings(store);
    assert.equal(left.length, FILLED - HOLES.length, "the pre-fill only");
    assert.ok(left.every((h) => h.podRef.startsWith("prefill/")));
    assert.deepEqual(await store.listReservations(), [], "no reservations left");
    await assertConsistent();
  });
});
