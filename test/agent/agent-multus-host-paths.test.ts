// Meta-plugin calls to an agent in a container (`agent --host-paths`): the agent runs in a mount
// namespace of its own where one "host-only" directory is an empty tmpfs; bin/multus runs on the
// host and hands its calls to the agent. A call whose every path is shared is served (its
// delegate's IPAM call too); one whose caches lie in the host-only directory is declined, and the
// plugin runs it alone on the host, where its caches are.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { agentMetrics, startAgentProcess } from "../support/agent.ts";
import { runMultus as multus } from "../support/multus.ts";
import { ROOT, type TempDir, tempDir } from "../support/plugin.ts";

const count = (metrics: string, series: string) =>
  Number(new RegExp(`^${series.replace(/[{}]/g, "\\$&")} (\\d+)$`, "m").exec(metrics)?.[1] ?? 0);

describe("agent --host-paths: meta-plugin calls", () => {
  let dir: TempDir;
  let shared: string;
  let hostOnly: string;
  let ns: string;
  before(() => {
    dir = tempDir();
    shared = join(dir.path, "shared");
    hostOnly = join(dir.path, "host-only");
    mkdirSync(shared);
    mkdirSync(hostOnly);
    ns = `thab-mhp-${process.pid}`;
    execFileSync("ip", ["netns", "add", ns]);
  });
  after(() => {
    execFileSync("ip", ["netns", "del", ns]);
    dir.remove();
  });

  it("serves a call whose every path is shared; declines one whose caches the agent cannot see, which the plugin runs alone", async () => {
    // The flat file's default places are read by the delegate's IPAM call: shared, as in a DaemonSet.
    const defaults = "/etc/kubernetes/cni/net.d,/etc/cni/net.d,/host/etc/cni/net.d";
    const agent = await startAgentProcess(
      undefined,
      ["--host-paths", `${shared},${join(ROOT, "bin")},/usr/lib/cni,/var/run/netns,${defaults}`],
      { tmpfsOver: [hostOnly] },
    );
    try {
      const config = (cniDir: string) =>
        JSON.stringify({
          cniVersion: "1.0.0",
          name: "multus-cni-network",
          type: "multus",
          cniDir,
          binDir: join(ROOT, "bin"),
          confDir: join(shared, "net.d"),
          delegates: [
            {
              cniVersion: "1.0.0",
              name: "pods",
              type: "whereabouts",
              ipam: {
                type: "whereabouts",
                range: "10.121.0.0/24",
                datastore: "local",
                local: { path: join(shared, "store.db") },
              },
            },
          ],
        });
      const env = (pod: string) => ({
        ...agent.env,
        CNI_CONTAINERID: `ctr-${pod}`,
        CNI_NETNS: `/var/run/netns/${ns}`,
        CNI_IFNAME: "eth0",
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod}`,
        CNI_PATH: "/usr/lib/cni",
      });
      const ip = (o: { stdout: string }) =>
        (JSON.parse(o.stdout) as { ips: { address: string }[] }).ips[0]!.address;

      const inside = config(join(shared, "multus"));
      const served = await multus("ADD", inside, env("a"));
      assert.equal(served.code, 0, served.stdout + served.stderr);
      assert.equal(ip(served), "10.121.0.1/24");
      let metrics = await agentMetrics(agent.socket);
      assert.equal(count(metrics, 'thereabouts_agent_multus_calls_total{command="ADD",result="ok"}'), 1);
      assert.equal(
        count(metrics, 'thereabouts_agent_calls_total{command="ADD",store="local",result="ok"}'),
        1,
      );

      const outside = config(join(hostOnly, "multus"));
      const alone = await multus("ADD", outside, env("b"));
      assert.equal(alone.code, 0, alone.stdout + alone.stderr);
      assert.doesNotMatch(alone.stderr, /did not answer/, "declined is not a failure of the agent");
      assert.equal(ip(alone), "10.121.0.2/24", "the same store as the agent's calls");
      assert.ok(existsSync(join(hostOnly, "multus", "ctr-b")), "the delegate list is on the host");
      metrics = await agentMetrics(agent.socket);
      assert.equal(
        count(metrics, 'thereabouts_agent_multus_calls_total{command="ADD",result="declined"}'),
        1,
      );

      const deleted = await multus("DEL", outside, env("b"));
      assert.equal(deleted.code, 0, deleted.stdout + deleted.stderr);
      assert.ok(!existsSync(join(hostOnly, "multus", "ctr-b")), "the plugin's DEL found it");
      assert.equal((await multus("DEL", inside, env("a"))).code, 0);
      metrics = await agentMetrics(agent.socket);
      assert.equal(
        count(metrics, 'thereabouts_agent_multus_calls_total{command="DEL",result="declined"}'),
        1,
      );
      assert.equal(count(metrics, 'thereabouts_agent_multus_calls_total{command="DEL",result="ok"}'), 1);
    } finally {
      await agent.stop();
    }
  });
});
