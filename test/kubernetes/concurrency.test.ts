// Issue #3 item 6 on the Kubernetes datastore: 200 ADDs as plugin processes, 32 in flight, from
// 4 nodes, against the API double (a separate process with apiserver semantics), with and without
// 20 % of the whereabouts API requests failing (conflicts, 500/503/504, dropped connections, and
// writes that land while the client sees a failure). Every ADD succeeds or fails cleanly, no
// address is ever held twice or reported without being recorded, a failed ADD leaves nothing
// behind, and after the runtime's DELs (repeated until they succeed, as kubelet does) no entry and
// no reservation is left. The state is read raw from the double, as Go Whereabouts would read it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { inParallel, type PluginOutcome } from "../../src/cli/exec-plugin.ts";
import { type ApiDouble, startApiDouble } from "../k8s-api/harness.ts";
import { type AgentProcess, startAgentProcess } from "../support/agent.ts";
import { assertEmpty, assertNoDuplicates } from "../support/invariants.ts";
import { add, assertCleanOutcome, del, netConf } from "../support/plugin.ts";
import { delUntilDone, faultMix, kubeIpam, podAttachments, reportedHoldings } from "./go-runtime.ts";
import { assertReservationsMatchEntries, holdings, rawObjects, rawStore } from "./go-view.ts";

const PODS = 200;
const IN_FLIGHT = 32;
const NODES = 4;

describe("kubernetes store under concurrent plugin processes", () => {
  let api: ApiDouble;
  before(async () => {
    api = await startApiDouble({ seed: 3 });
  });
  after(() => api?.stop());

  it(`${PODS} ADDs, ${IN_FLIGHT} in flight from ${NODES} nodes, get distinct recorded addresses; ${PODS} DELs leave nothing`, async () => {
    const namespace = "burst";
    const config = netConf(kubeIpam(api.kubeconfigPath(namespace), { range: "198.18.0.0/24" }));
    const calls = podAttachments(config, PODS, NODES);
    const outcomes = await inParallel(calls, IN_FLIGHT, (c) => add(c));
    for (const [i, o] of outcomes.entries()) assert.equal(o.code, 0, `ADD ${calls[i]!.pod}: ${o.stdout}`);
    const reported = reportedHoldings(calls, outcomes);

    const objects = await rawObjects(api, namespace);
    await assertNoDuplicates(rawStore(objects), reported);
    assert.equal(holdings(objects).length, PODS, "one entry per ADD");
    assertReservationsMatchEntries(objects, "");

    const dels = await inParallel(calls, IN_FLIGHT, (c) => del(c));
    for (const [i, o] of dels.entries()) assert.equal(o.code, 0, `DEL ${calls[i]!.pod}: ${o.stdout}`);
    await assertEmpty(rawStore(await rawObjects(api, namespace)));
  });

  for (const via of ["plugins alone", "two node agents"] as const)
    it(`the same with 20 % of API requests failing (${via}): clean outcomes, no duplicates, failed ADDs leave nothing, DELs leave nothing`, async (t) => {
      const namespace = via === "plugins alone" ? "faulty" : "faulty-agents";
      const config = netConf(kubeIpam(api.kubeconfigPath(namespace), { range: "198.18.1.0/24" }));
      const agents: AgentProcess[] =
        via === "plugins alone" ? [] : [await startAgentProcess(), await startAgentProcess()];
      t.after(() => Promise.all(agents.map((a) => a.stop())));
      const calls = podAttachments(config, PODS, NODES).map((c, i) =>
        agents.length === 0 ? c : { ...c, env: { ...c.env, ...agents[i % 2]!.env } },
      );
      await api.resetRequests();
      await api.setFaults(faultMix(0.2));
      let outcomes: PluginOutcome[];
      try {
        outcomes = await inParallel(calls, IN_FLIGHT, (c) => add(c));
      } finally {
        await api.clearFaults();
      }
      for (const [i, o] of outcomes.entries()) assertCleanOutcome(o, `ADD ${calls[i]!.pod}`);
      for (const o of outcomes) assert.doesNotMatch(o.stderr, /did not answer/, "the agents answered");
      const { log } = await api.requests();
      const faulted = log.filter((r) => r.fault !== undefined).length;
      const ok = outcomes.filter((o) => o.code === 0).length;
      t.diagnostic(
        `${ok}/${PODS} ADDs succeeded; ${faulted} of ${log.length} API requests faulted (${((100 * faulted) / log.length).toFixed(1)} %)`,
      );
      assert.ok(faulted >= log.length * 0.1, "faults were injected");
      assert.ok(ok >= PODS * 0.9, `most ADDs succeed despite the faults (${ok}/${PODS})`);

      // Before any DEL: exactly the successful ADDs hold something (a failed ADD left nothing).
      const reported = reportedHoldings(calls, outcomes);
      const objects = await rawObjects(api, namespace);
      await assertNoDuplicates(rawStore(objects), reported);
      assert.deepEqual(
        holdings(objects)
          .map((h) => `${h.allocation.podRef} ${h.address}`)
          .sort(),
        reported.map((r) => `${r.podRef} ${r.address}`).sort(),
        "the pool holds exactly the addresses reported to successful ADDs",
      );
      assertReservationsMatchEntries(objects, "");

      // The runtime follows every ADD, failed or not, with a DEL, under the same faults.
      await api.setFaults(faultMix(0.2));
      let retried = 0;
      try {
        const results = await inParallel(calls, IN_FLIGHT, (c) => delUntilDone(c));
        retried = results.filter((r) => r.tries > 1).length;
      } finally {
        await api.clearFaults();
      }
      t.diagnostic(`${retried} DELs needed more than one try`);
      await assertEmpty(rawStore(await rawObjects(api, namespace)));
    });
});
