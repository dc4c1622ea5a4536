// An agent that cannot run what a meta-plugin call runs in the pod's namespace (nsenter and ip,
// looked for on its PATH once at start), or one told not to (--no-multus), declines every
// meta-plugin call at once: bin/multus runs it alone on the host and succeeds, where an agent
// taking it would have failed it. The delegate's IPAM call is still the agent's.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { programOnPath } from "../../src/agent/netns-programs.ts";
import { agentMetrics, startAgentProcess } from "../support/agent.ts";
import { runMultus as multus } from "../support/multus.ts";
import { ROOT, type TempDir, tempDir } from "../support/plugin.ts";

const count = (metrics: string, series: string) =>
  Number(new RegExp(`^${series.replace(/[{}]/g, "\\$&")} (\\d+)$`, "m").exec(metrics)?.[1] ?? 0);

describe("agent: meta-plugin calls it cannot run are declined", () => {
  let dir: TempDir;
  let ns: string;
  before(() => {
    dir = tempDir();
    ns = `thab-mpg-${process.pid}`;
    execFileSync("ip", ["netns", "add", ns]);
  });
  after(() => {
    execFileSync("ip", ["netns", "del", ns]);
    dir.remove();
  });

  /** A directory holding links to the host's `programs`, to be an agent's whole PATH. */
  const pathWith = (name: string, programs: readonly string[]) => {
    const d = join(dir.path, name);
    mkdirSync(d);
    for (const p of programs) symlinkSync(programOnPath(p, process.env["PATH"])!, join(d, p));
    return d;
  };

  const config = (range: string) =>
    JSON.stringify({
      cniVersion: "1.0.0",
      name: "multus-cni-network",
      type: "multus",
      cniDir: join(dir.path, "multus"),
      binDir: join(ROOT, "bin"),
      confDir: join(dir.path, "net.d"),
      delegates: [
        {
          cniVersion: "1.0.0",
          name: "pods",
          type: "whereabouts",
          ipam: {
            type: "whereabouts",
            range,
            datastore: "local",
            local: { path: join(dir.path, "store.db") },
          },
        },
      ],
    });

  /** ADD then DEL of one pod through an agent started with `path` as its PATH and `args`. */
  async function addAndDelete(path: string, args: readonly string[], range: string) {
    const agent = await startAgentProcess(undefined, args, { env: { PATH: path } });
    try {
      const env = {
        ...agent.env,
        CNI_CONTAINERID: "ctr-a",
        CNI_NETNS: `/var/run/netns/${ns}`,
        CNI_IFNAME: "eth0",
        CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=a",
        CNI_PATH: "/usr/lib/cni",
      };
      const added = await multus("ADD", config(range), env);
      assert.equal(added.code, 0, added.stdout + added.stderr);
      assert.doesNotMatch(added.stderr, /did not answer|working without it/, "declined is not a failure");
      const deleted = await multus("DEL", config(range), env);
      assert.equal(deleted.code, 0, deleted.stdout + deleted.stderr);
      return {
        added,
        metrics: await agentMetrics(agent.socket),
        stderr: agent.stderr(),
      };
    } finally {
      assert.equal(await agent.stop(), 0);
    }
  }

  const ip = (o: { stdout: string }) =>
    (JSON.parse(o.stdout) as { ips: { address: string }[] }).ips[0]!.address;

  it("without nsenter or without ip on its PATH: declined (the start line says which); the plugin runs the call alone on the host", async () => {
    for (const [name, programs, missing] of [
      ["no-nsenter", ["ip"], "nsenter (util-linux)"],
      ["no-ip", ["nsenter"], "ip (iproute2)"],
    ] as const) {
      const run = await addAndDelete(pathWith(name, programs), [], "10.123.0.0/24");
      assert.equal(ip(run.added), "10.123.0.1/24");
      assert.ok(
        run.stderr.includes(`thereabouts agent: ${missing} is not on this agent's PATH`),
        `${name}: ${run.stderr}`,
      );
      for (const command of ["ADD", "DEL"]) {
        assert.equal(
          count(run.metrics, `thereabouts_agent_multus_calls_total{command="${command}",result="declined"}`),
          1,
          `${name} ${command} declined`,
        );
        assert.equal(
          count(run.metrics, `thereabouts_agent_multus_calls_total{command="${command}",result="ok"}`),
          0,
        );
      }
      // The delegate run by the plugin on the host still hands its IPAM call to the agent.
      assert.equal(
        count(run.metrics, 'thereabouts_agent_calls_total{command="ADD",store="local",result="ok"}'),
        1,
      );
    }
  });

  it("--no-multus: declined whatever is on its PATH; with both programs and no flag, served", async () => {
    const both = pathWith("both", ["nsenter", "ip"]);
    const off = await addAndDelete(both, ["--no-multus"], "10.124.0.0/24");
    assert.match(off.stderr, /thereabouts agent: meta-plugin calls are off \(agent --no-multus\)/);
    assert.equal(
      count(off.metrics, 'thereabouts_agent_multus_calls_total{command="ADD",result="declined"}'),
      1,
    );
    const on = await addAndDelete(both, [], "10.124.0.0/24");
    assert.equal(ip(on.added), "10.124.0.1/24", "the address DEL freed");
    assert.doesNotMatch(on.stderr, /meta-plugin calls/);
    for (const command of ["ADD", "DEL"])
      assert.equal(
        count(on.metrics, `thereabouts_agent_multus_calls_total{command="${command}",result="ok"}`),
        1,
        `${command} served`,
      );
  });
});
