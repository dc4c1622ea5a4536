// The meta-plugin (bin/multus, thin mode) end to end: run by the lab as a runtime runs it, pods and
// NetworkAttachmentDefinitions in the API double, the Debian plugins and bin/thereabouts as
// delegates, what lands in the pods' namespaces read back and put next to the network-status
// annotation the meta-plugin wrote. Root only. Addresses come from documentation ranges only.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { hostLocalHoldings } from "./multus-networks.ts";
import {
  CNI_VERSION,
  hostLocalIpam,
  kernelLinkSupport,
  localIpam,
  requirePrerequisites,
  staticIpam,
  storeRows,
} from "./netns-harness.ts";
import { describeModes, type ModeContext, MultusLab } from "./netns-multus.ts";
import { readNamespace } from "./netns-readback.ts";
import { removeStaleRuns } from "./netns-runs.ts";
import { listNamespaces } from "./netns-shell.ts";

before(async () => {
  requirePrerequisites({
    plugins: ["multus", "whereabouts", "macvlan", "ipvlan", "bridge", "host-local", "static"],
  });
  await removeStaleRuns();
});

after(async () => {
  const ours = (await listNamespaces()).filter((n) => n.includes(`-${process.pid}-`));
  assert.deepEqual(ours, [], "every namespace this run created is gone");
});

// Declared before the tests so the ipvlan test's name says which variant runs (this test kernel has
// no ipvlan).
const ipvlan = await kernelLinkSupport("ipvlan");

describeModes(scenarios);

function scenarios({ mode, api }: ModeContext): void {
  async function newLab(t: { after(fn: () => Promise<void>): void }): Promise<MultusLab> {
    const lab = await MultusLab.create(api(), ["node-a", "node-b"], { mode });
    t.after(() => lab.dispose());
    return lab;
  }

  test("macvlan-conf,macvlan-conf: net1 and net2 on the node's uplink; network-status = the namespace; DEL clears both", async (t) => {
    const m = await newLab(t);
    const a = m.lab.node("node-a");
    await m.nad("macvlan-conf", {
      cniVersion: "0.3.1",
      type: "macvlan",
      master: a.uplink,
      mode: "bridge",
      ipam: hostLocalIpam(a, [{ subnet: "192.0.2.0/24", rangeStart: "192.0.2.10", rangeEnd: "192.0.2.19" }]),
    });
    const p = await m.pod("node-a", "macvlan-conf,macvlan-conf");
    const result = await m.add(p);
    assert.deepEqual(await m.links(p), ["eth0", "lo", "net1", "net2"]);
    // Only the master's result comes back.
    assert.deepEqual(
      result.interfaces?.filter((i) => i.sandbox !== undefined).map((i) => i.name),
      ["eth0"],
    );
    const [eth0, net1, net2] = await m.assertStatusMatchesNamespace(p, [
      "podnet",
      "default/macvlan-conf",
      "default/macvlan-conf",
    ]);
    assert.deepEqual(eth0!.ips, ["10.244.0.2"]);
    assert.deepEqual([net1!.ips, net2!.ips], [["192.0.2.10"], ["192.0.2.11"]]);
    assert.notEqual(net1!.mac, net2!.mac);
    const status = await m.networkStatus(p);
    assert.equal(status![0]!.default, true, "the master's entry is the default");
    // The second pod on the same node gets the next addresses; the two pods reach each other on net1.
    const q = await m.pod("node-a", "macvlan-conf");
    await m.add(q);
    const [, qnet1] = await m.assertStatusMatchesNamespace(q, ["podnet", "default/macvlan-conf"]);
    assert.deepEqual(qnet1!.ips, ["192.0.2.12"]);
    await m.lab.ping(q.pod, "192.0.2.11");

    await m.del(p);
    assert.deepEqual(await m.links(p), ["lo"]);
    assert.equal(await m.networkStatus(p), undefined, "DEL clears network-status");
    await m.del(q);
    const held = hostLocalHoldings(a, "macvlan-conf");
    assert.deepEqual(held, [], "host-local holds nothing after DEL");
  });

  test("thereabouts (as whereabouts), host-local and static IPAM on bridge and macvlan, one pod: each interface as its NAD says", async (t) => {
    const m = await newLab(t);
    const a = m.lab.node("node-a");
    const store = m.lab.storePath;
    await m.nad("ta-macvlan", {
      cniVersion: CNI_VERSION,
      type: "macvlan",
      master: a.uplink,
      mode: "bridge",
      ipam: localIpam(store, "whereabouts", { range: "198.51.100.0/24", range_start: "198.51.100.50" }),
    });
    await m.nad("ta-bridge", {
      cniVersion: CNI_VERSION,
      type: "bridge",
      bridge: "br-ta",
      ipam: localIpam(store, "whereabouts", { range: "203.0.113.0/28" }),
    });
    await m.nad("hl-bridge", {
      cniVersion: CNI_VERSION,
      plugins: [
        {
          type: "bridge",
          bridge: "br-hl",
          ipam: hostLocalIpam(a, [{ subnet: "192.0.2.128/26", rangeStart: "192.0.2.130" }]),
        },
      ],
    });
    await m.nad("static-macvlan", {
      cniVersion: CNI_VERSION,
      type: "macvlan",
      master: a.uplink,
      ipam: staticIpam([{ address: "192.0.2.77/24" }], [{ dst: "198.18.0.0/15", gw: "192.0.2.1" }]),
    });
    const p = await m.pod("node-a", "ta-macvlan,ta-bridge@tabr,hl-bridge,static-macvlan");
    await m.add(p);
    const views = await m.assertStatusMatchesNamespace(p, [
      "podnet",
      "default/ta-macvlan",
      "default/ta-bridge",
      "default/hl-bridge",
      "default/static-macvlan",
    ]);
    assert.deepEqual(
      views.map((v) => [v.interface, v.ips]),
      [
        ["eth0", ["10.244.0.2"]],
        ["net1", ["198.51.100.50"]],
        ["tabr", ["203.0.113.1"]],
        ["net3", ["192.0.2.130"]],
        ["net4", ["192.0.2.77"]],
      ],
    );
    const net = await m.lab.read(p.pod);
    assert.deepEqual(
      Object.fromEntries(net.interfaces.filter((i) => i.name !== "lo").map((i) => [i.name, i.kind])),
      { eth0: "veth", net1: "macvlan", tabr: "veth", net3: "veth", net4: "macvlan" },
    );
    assert.ok(
      net.routes.some((r) => r.dst === "198.18.0.0/15" && r.gateway === "192.0.2.1" && r.dev === "net4"),
      "static IPAM's route is in the pod",
    );
    // The bridge delegates made their bridges in the node's namespace, one pod veth a port of each.
    const nodeNet = await readNamespace(a.ns);
    for (const bridge of ["br-ta", "br-hl"]) {
      assert.equal(nodeNet.interfaces.find((i) => i.name === bridge)?.kind, "bridge", bridge);
      assert.equal(nodeNet.interfaces.filter((i) => i.master === bridge).length, 1, `ports of ${bridge}`);
    }
    assert.equal(storeRows(store).allocations, 2, "thereabouts holds one address per network");
    await m.del(p);
    assert.deepEqual(await m.links(p), ["lo"]);
    assert.equal(storeRows(store).allocations, 0, "DEL released the thereabouts addresses");
    const held = hostLocalHoldings(a, "hl-bridge");
    assert.deepEqual(held, [], "host-local holds nothing after DEL");
  });

  test(`ipvlan NAD through multus: ${ipvlan.supported ? "the kernel has it: net1 is an ipvlan link, pods reach each other, DEL frees" : `not available (${ipvlan.reason}): ADD fails with the delegate's error and leaves nothing`}`, async (t) => {
    const m = await newLab(t);
    const store = m.lab.storePath;
    await m.nad("ipvlan-conf", {
      cniVersion: CNI_VERSION,
      type: "ipvlan",
      master: "uplink",
      mode: "l2",
      ipam: localIpam(store, "whereabouts", { range: "198.51.100.0/24", range_start: "198.51.100.20" }),
    });
    const p = await m.pod("node-a", "ipvlan-conf");
    if (ipvlan.supported) {
      const q = await m.pod("node-b", "ipvlan-conf");
      await m.add(p);
      await m.add(q);
      const [, pnet1] = await m.assertStatusMatchesNamespace(p, ["podnet", "default/ipvlan-conf"]);
      const [, qnet1] = await m.assertStatusMatchesNamespace(q, ["podnet", "default/ipvlan-conf"]);
      assert.equal((await m.lab.read(p.pod)).interfaces.find((i) => i.name === "net1")?.kind, "ipvlan");
      await m.lab.ping(p.pod, qnet1!.ips[0]!);
      assert.deepEqual(pnet1!.ips, ["198.51.100.20"]);
      await m.del(p);
      await m.del(q);
      assert.deepEqual(await m.links(p), ["lo"]);
    } else {
      const outcome = await m.call("ADD", p);
      assert.notEqual(outcome.code, 0);
      assert.match(
        (JSON.parse(outcome.stdout) as { msg: string }).msg,
        new RegExp(
          `^\\[default/${p.pod.name}/${p.uid}:ipvlan-conf\\]: error adding container to network "ipvlan-conf": `,
        ),
      );
      assert.deepEqual(await m.links(p), ["lo"], "the master's eth0 was rolled back too");
      assert.equal(await m.networkStatus(p), undefined);
    }
    assert.equal(storeRows(store).allocations, 0, "thereabouts holds nothing");
  });
}
