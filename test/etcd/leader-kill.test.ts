// Issue #4's fault test: 200 ADDs as plugin processes, 32 at a time, on a three-member etcd
// cluster whose leader is SIGKILLed halfway through and restarted later. Every ADD succeeds or
// fails with a clean CNI error; no address is ever held twice; after DEL of everything nothing
// is left.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { inParallel } from "../../src/cli/exec-plugin.ts";
import { openEtcdStore } from "../../src/store/etcd/etcd-store.ts";
import { type AgentProcess, startAgentProcess } from "../support/agent.ts";
import { assertEmpty, assertNoDuplicates, type Holding } from "../support/invariants.ts";
import { type AddCall, add, addressesOf, assertCleanOutcome, del, netConf } from "../support/plugin.ts";
import { EtcdCluster } from "./etcd-cluster.ts";

const PODS = 200;
const IN_FLIGHT = 32;

describe("etcd: leader killed mid-burst", () => {
  let cluster: EtcdCluster;
  before(async () => {
    cluster = await EtcdCluster.start({ members: 3, inMemory: true });
  });
  after(async () => {
    await cluster?.stop();
  });

  for (const via of ["plugins alone", "two node agents"] as const)
    it(`${PODS} ADDs (${via}), ${IN_FLIGHT} in flight, leader SIGKILLed halfway and restarted: no duplicates, nothing left after DEL`, async () => {
      const prefix = via === "plugins alone" ? "/leader-kill" : "/leader-kill-agents";
      const keys = cluster.ipamKeys({ prefix });
      const config = netConf({ type: "thereabouts", range: "198.18.4.0/24", ...keys });
      const agents: AgentProcess[] =
        via === "plugins alone" ? [] : [await startAgentProcess(), await startAgentProcess()];
      const calls: AddCall[] = Array.from({ length: PODS }, (_, i) => ({
        config,
        pod: `pod-${i}`,
        containerId: `ctr${i}`,
        env: { NODENAME: `node-${i % 4}`, ...(agents.length === 0 ? {} : agents[i % 2]!.env) },
      }));
      try {
        let done = 0;
        let killed = -1;
        let restart: Promise<void> | undefined;
        const outcomes = await inParallel(calls, IN_FLIGHT, async (c) => {
          const outcome = await add(c);
          done++;
          if (done === PODS / 2) {
            killed = await cluster.leaderIndex();
            await cluster.killMember(killed);
            // Restart it a little later, while ADDs are still running.
            restart = new Promise((resolve) => setTimeout(resolve, 1500)).then(() =>
              cluster.restartMember(killed),
            );
          }
          return outcome;
        });
        await restart;
        assert.ok(killed >= 0, "the leader was killed");
        for (const [i, o] of outcomes.entries()) assertCleanOutcome(o, `ADD ${calls[i]!.pod}`);
        const ok = outcomes.filter((o) => o.code === 0).length;
        assert.ok(ok >= PODS * 0.9, `most ADDs succeed despite the leader kill (${ok}/${PODS})`);

        for (const o of outcomes) assert.doesNotMatch(o.stderr, /did not answer/, "the agents answered");
        const store = await openEtcdStore({ endpoints: cluster.endpoints, prefix });
        try {
          const reported: Holding[] = outcomes.flatMap((o, i) =>
            o.code === 0
              ? [{ address: addressesOf(o)[0]!.split("/")[0]!, podRef: `default/${calls[i]!.pod}` }]
              : [],
          );
          await assertNoDuplicates(store, reported);
          // The runtime follows every ADD, failed or not, with a DEL.
          const dels = await inParallel(calls, IN_FLIGHT, (c) => del(c));
          for (const [i, o] of dels.entries()) assert.equal(o.code, 0, `DEL ${calls[i]!.pod}: ${o.stdout}`);
          await assertEmpty(store);
        } finally {
          await store.close();
        }
      } finally {
        await Promise.all(agents.map((a) => a.stop()));
      }
    });
});
