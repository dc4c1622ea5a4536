// The meta-plugin served by the node agent, where the agent goes away: killed (SIGKILL) between a
// pod's ADD and its DEL, the DEL is done by bin/multus alone, from the meta-plugin's cache, and
// removes everything; stopped (SIGTERM) in the middle of a burst of ADDs, every ADD is still
// answered (by the agent, which finishes the calls it has, or by the plugin alone), no address is
// given twice, and DEL removes everything. Each node runs bin/thereabouts agent in its namespace
// (netns-agent.ts); pods and NADs are in the API double. First, the lab's own check that a call
// was served by the agent catches one the plugin ran alone. Root only. Documentation ranges only.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import { inParallel, type PluginOutcome } from "../../src/cli/exec-plugin.ts";
import { startApiDouble } from "../k8s-api/harness.ts";
import {
  assertNothingLeft,
  SECONDARY_NETWORKS,
  SECONDARY_STATUS,
  secondaryNetworks,
} from "./multus-networks.ts";
import { WORKING_ALONE } from "./netns-agent.ts";
import { CNI_VERSION, localIpam, requirePrerequisites, storeRows } from "./netns-harness.ts";
import { type ApiPod, MultusLab } from "./netns-multus.ts";
import { removeStaleRuns } from "./netns-runs.ts";
import { listNamespaces } from "./netns-shell.ts";

before(async () => {
  requirePrerequisites({
    plugins: ["multus", "thereabouts", "whereabouts", "macvlan", "bridge", "host-local", "static"],
  });
  await removeStaleRuns();
});

after(async () => {
  const ours = (await listNamespaces()).filter((n) => n.includes(`-${process.pid}-`));
  assert.deepEqual(ours, [], "every namespace this run created is gone");
});

/** An agent-mode lab on an API double of its own (the tests create the same NADs), both gone after. */
async function newLab(t: { after(fn: () => Promise<void>): void }): Promise<MultusLab> {
  const api = await startApiDouble();
  t.after(() => api.stop());
  const m = await MultusLab.create(api, ["node-a"], { mode: "agent" });
  t.after(() => m.dispose());
  return m;
}

test("the lab's check: an ADD that bin/multus runs alone while the agent is up fails as not served by the agent", async (t) => {
  const m = await newLab(t);
  const a = m.lab.node("node-a");
  await secondaryNetworks(m, a);
  const p = await m.pod("node-a", SECONDARY_NETWORKS);
  // An empty socket tells the plugin to use no agent: it works alone, silently.
  await assert.rejects(
    m.call("ADD", p, { agentSocket: "" }),
    /multus ADD for \S+ was not served by node-a's agent \(the agent ran no delegate\) exited 0/,
  );
  await m.assertStatusMatchesNamespace(p, SECONDARY_STATUS); // the ADD itself worked
  await m.del(p);
  await assertNothingLeft(m, p);
});

test("the agent killed between ADD and DEL: bin/multus deletes alone, from its cache, and nothing is left", async (t) => {
  const m = await newLab(t);
  const a = m.lab.node("node-a");
  const agent = m.agent("node-a");
  await secondaryNetworks(m, a);
  const p = await m.pod("node-a", SECONDARY_NETWORKS);
  const ipamAdds = await agent.ipamCalls("ADD");
  await m.add(p); // checked: served by the agent
  // The thereabouts delegate the agent ran handed its IPAM call back to the same agent.
  assert.equal(await agent.ipamCalls("ADD"), ipamAdds + 1, "the delegate's IPAM ADD was served by the agent");
  await m.assertStatusMatchesNamespace(p, SECONDARY_STATUS);
  assert.equal(storeRows(m.lab.storePath).allocations, 1);

  await agent.kill();
  assert.ok(existsSync(agent.socket), "a killed agent leaves its socket behind");
  const del = await m.call("DEL", p);
  assert.equal(del.code, 0, del.stdout);
  assert.equal(del.servedBy, "plugin");
  assert.match(del.stderr, WORKING_ALONE, "the plugin found the dead agent's socket and worked without it");
  await assertNothingLeft(m, p);
  assert.equal(await m.networkStatus(p), undefined, "DEL cleared network-status");
});

test("the agent stopped in the middle of a burst of ADDs: every ADD answered, no address given twice, DEL removes everything", async (t) => {
  const m = await newLab(t);
  const agent = m.agent("node-a");
  const store = m.lab.storePath;
  await m.nad("burst-conf", {
    cniVersion: CNI_VERSION,
    type: "macvlan",
    master: "uplink",
    mode: "bridge",
    ipam: localIpam(store, "whereabouts", { range: "198.51.100.0/24" }),
  });
  const count = 16;
  const pods: ApiPod[] = [];
  for (let i = 0; i < count; i++) pods.push(await m.pod("node-a", "burst-conf"));
  const childFaults = agent.reapedChildFaults();
  // Four at a time: the agent is stopped once four are answered, so the next ADDs start while it
  // finishes the calls it has (its socket refusing new ones), and the last four once it is gone.
  let answered = 0;
  let stopping: Promise<void> | undefined;
  let agentRanDelegates = false;
  const started: boolean[] = [];
  const outcomes = await inParallel(pods, 4, async (p, i): Promise<PluginOutcome> => {
    if (i >= count - 4) await stopping;
    started[i] = agent.process.running();
    const outcome = await m.run("ADD", p);
    if (++answered === 4) {
      agentRanDelegates = agent.reapedChildFaults() > childFaults;
      stopping = agent.stop();
    }
    return outcome;
  });
  await stopping;
  for (const [i, outcome] of outcomes.entries())
    assert.equal(outcome.code, 0, `ADD of pod ${i}: ${outcome.stdout}${outcome.stderr}`);
  assert.ok(agentRanDelegates, "the agent served ADDs before it was stopped");
  const afterStop = started.filter((up) => !up).length;
  t.diagnostic(
    `${count} ADDs, four at a time: ${count - afterStop} started while the agent ran, ${afterStop} after it was gone; ${outcomes.filter((o) => WORKING_ALONE.test(o.stderr)).length} said the plugin worked alone`,
  );
  assert.ok(afterStop >= 4, "the last ADDs started after the agent was gone (the plugin alone)");

  const net1: string[] = [];
  const eth0: string[] = [];
  for (const p of pods) {
    const [master, secondary] = await m.assertStatusMatchesNamespace(p, ["podnet", "default/burst-conf"]);
    eth0.push(...master!.ips);
    net1.push(...secondary!.ips);
  }
  assert.equal(new Set(net1).size, count, `${count} different addresses on net1: ${net1.join(" ")}`);
  assert.equal(new Set(eth0).size, count, `${count} different addresses on eth0: ${eth0.join(" ")}`);
  assert.equal(storeRows(store).allocations, count, "thereabouts holds one address per pod");

  for (const p of pods) await m.del(p); // the agent is gone: the plugin alone
  for (const p of pods) assert.deepEqual(await m.links(p), ["lo"]);
  assert.equal(storeRows(store).allocations, 0, "every address is back in the pool");
});
