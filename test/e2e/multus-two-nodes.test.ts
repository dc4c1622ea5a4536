// Two simulated nodes whose pods are attached through the meta-plugin (bin/multus run by the lab
// as a runtime runs it, pods and NADs in the API double): a secondary macvlan network on each node's
// uplink with thereabouts IPAM (as whereabouts; one embedded store stands for the cluster-wide one),
// one NAD for both nodes, and the pods reach each other across nodes on net1 while their primary
// networks (a bridge per node) stay apart. Root only. Addresses from documentation ranges only.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CNI_VERSION, localIpam, requirePrerequisites, storeRows } from "./netns-harness.ts";
import { type ApiPod, describeModes, MultusLab } from "./netns-multus.ts";
import { removeStaleRuns } from "./netns-runs.ts";
import { listNamespaces } from "./netns-shell.ts";

before(async () => {
  requirePrerequisites({ plugins: ["multus", "whereabouts", "macvlan", "bridge", "host-local"] });
  await removeStaleRuns();
});

after(async () => {
  const ours = (await listNamespaces()).filter((n) => n.includes(`-${process.pid}-`));
  assert.deepEqual(ours, [], "every namespace this run created is gone");
});

describeModes(({ mode, api }) => {
  test("pods on two nodes attached through multus (macvlan + thereabouts on each uplink) ping each other across nodes", async (t) => {
    const m = await MultusLab.create(api(), ["node-a", "node-b"], { mode });
    t.after(() => m.dispose());
    const store = m.lab.storePath;
    // The uplink has the same name on every node, so one NAD serves both, as on a real cluster.
    await m.nad("lan-conf", {
      cniVersion: CNI_VERSION,
      type: "macvlan",
      master: "uplink",
      mode: "bridge",
      ipam: localIpam(store, "whereabouts", { range: "192.0.2.0/24", range_start: "192.0.2.10" }),
    });
    const pods: ApiPod[] = [
      await m.pod("node-a", "lan-conf"),
      await m.pod("node-b", "lan-conf"),
      await m.pod("node-b", "lan-conf"),
    ];
    for (const p of pods) await m.add(p);
    const views = [];
    for (const p of pods) views.push(await m.assertStatusMatchesNamespace(p, ["podnet", "default/lan-conf"]));
    assert.deepEqual(
      views.map(([eth0, net1]) => [eth0!.ips, net1!.ips]),
      [
        [["10.244.0.2"], ["192.0.2.10"]],
        [["10.244.1.2"], ["192.0.2.11"]],
        [["10.244.1.3"], ["192.0.2.12"]],
      ],
      "cluster-wide addresses on net1; each node's own subnet on eth0",
    );
    const net1 = views.map((v) => v[1]!.ips[0]!);
    // Across nodes both ways, and within node-b.
    await m.lab.ping(pods[0]!.pod, net1[1]!);
    await m.lab.ping(pods[0]!.pod, net1[2]!);
    await m.lab.ping(pods[1]!.pod, net1[0]!);
    await m.lab.ping(pods[2]!.pod, net1[1]!);
    // The primary networks are per-node bridges: node-a's pod cannot reach node-b's eth0.
    await assert.rejects(m.lab.ping(pods[0]!.pod, views[1]![0]!.ips[0]!));

    for (const p of pods) await m.del(p);
    for (const p of pods) assert.deepEqual(await m.links(p), ["lo"]);
    assert.equal(storeRows(store).allocations, 0, "every address is back in the pool");
  });
});
