// A DHCP network through the meta-plugin: dnsmasq serves a range from its own namespace on the LAN,
// the Debian dhcp plugin's daemon runs on node-a (one socket path, as one NAD gives, serves pods on
// any node since the nodes share the filesystem), and a NAD with macvlan + dhcp IPAM is attached by
// bin/multus to pods on both nodes: leases from the range, network-status = the namespace, pings
// across nodes, DEL releases the leases. Root only. Addresses from documentation ranges only.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startDhcpDaemon, startDhcpServer } from "./netns-dhcp.ts";
import { CNI_VERSION, requirePrerequisites } from "./netns-harness.ts";
import { type ApiPod, describeModes, MultusLab } from "./netns-multus.ts";
import { removeStaleRuns } from "./netns-runs.ts";
import { listNamespaces, waitUntil } from "./netns-shell.ts";

before(async () => {
  requirePrerequisites({
    plugins: ["multus", "macvlan", "dhcp", "bridge", "host-local"],
    tools: ["dnsmasq"],
  });
  await removeStaleRuns();
});

after(async () => {
  const ours = (await listNamespaces()).filter((n) => n.includes(`-${process.pid}-`));
  assert.deepEqual(ours, [], "every namespace this run created is gone");
});

describeModes(({ mode, api }) => {
  test("a NAD with macvlan + dhcp IPAM (dnsmasq, the CNI dhcp daemon) through multus on two nodes: leases, pings, DEL releases", async (t) => {
    const m = await MultusLab.create(api(), ["node-a", "node-b"], { mode });
    t.after(() => m.dispose());
    const server = await startDhcpServer(m.lab, {
      address: "198.51.100.1/24",
      rangeStart: "198.51.100.100",
      rangeEnd: "198.51.100.149",
    });
    const daemon = await startDhcpDaemon(m.lab, m.lab.node("node-a"));
    await m.nad("dhcp-conf", {
      cniVersion: CNI_VERSION,
      type: "macvlan",
      master: "uplink",
      mode: "bridge",
      ipam: daemon.ipam(),
    });
    const pods: ApiPod[] = [await m.pod("node-a", "dhcp-conf"), await m.pod("node-b", "dhcp-conf")];
    for (const p of pods) {
      const started = performance.now();
      await m.add(p);
      t.diagnostic(`multus ADD with a DHCP attachment: ${Math.round(performance.now() - started)} ms`);
    }
    const leased: string[] = [];
    for (const p of pods) {
      const [, net1] = await m.assertStatusMatchesNamespace(p, ["podnet", "default/dhcp-conf"]);
      assert.equal(net1!.ips.length, 1);
      const address = net1!.ips[0]!;
      const host = Number(address.split(".")[3]);
      assert.ok(
        address.startsWith("198.51.100.") && host >= 100 && host <= 149,
        `${address} is in the range`,
      );
      // The network's name is the NAD's (its config has none): the daemon's client id carries it.
      const lease = server.leases().find((l) => l.clientId === `${p.pod.containerId}/dhcp-conf/net1`);
      assert.equal(lease?.address, address, "dnsmasq's lease for this pod's net1");
      leased.push(address);
    }
    await m.lab.ping(pods[0]!.pod, leased[1]!);
    await m.lab.ping(pods[1]!.pod, server.address);

    for (const p of pods) await m.del(p);
    for (const p of pods) assert.deepEqual(await m.links(p), ["lo"]);
    await waitUntil("dnsmasq to drop the released leases", () => server.leases().length === 0, 5_000);
  });
});
