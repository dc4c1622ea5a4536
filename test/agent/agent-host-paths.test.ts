// An agent in a container (`agent --host-paths`): it shares only some host directories, mounted at
// their host paths. Here the agent runs in a mount namespace of its own where one "host-only"
// directory is an empty tmpfs, as a container without that mount would see it, and the plugins
// run on the host. Checked: without the flag the agent answers from a store the host does not
// have (the hazard: a second store, one address twice); with it, every call naming a path outside
// the shared directories (store, flat file, log file, the files of a kubeconfig, a link out of
// them) is declined and the plugin runs it alone on the host, while calls inside are served.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startApiDouble } from "../k8s-api/harness.ts";
import { kubeIpam } from "../kubernetes/go-runtime.ts";
import { agentMetrics, startAgentProcess } from "../support/agent.ts";
import { type AddCall, add, addressesOf, del, netConf, type TempDir, tempDir } from "../support/plugin.ts";

/** Calls of `command` that ended with `result`, on every store. */
function count(metrics: string, command: string, result: string): number {
  const pattern = new RegExp(
    `thereabouts_agent_calls_total\\{command="${command}",store="[a-z]+",result="${result}"\\} (\\d+)`,
    "g",
  );
  return [...metrics.matchAll(pattern)].reduce((n, m) => n + Number(m[1]), 0);
}

describe("agent --host-paths (an agent in its own mount namespace)", () => {
  let dir: TempDir;
  let shared: string;
  let hostOnly: string;
  before(() => {
    dir = tempDir();
    shared = join(dir.path, "shared");
    hostOnly = join(dir.path, "host-only");
    mkdirSync(shared);
    mkdirSync(hostOnly);
  });
  after(() => dir.remove());

  // The flat file's default places are looked at by every call: shared, as in the DaemonSet (the
  // agent sees the host's, here the test machine's, view of them).
  const defaults = "/etc/kubernetes/cni/net.d,/etc/cni/net.d,/host/etc/cni/net.d";
  const local = (path: string, range: string, extra: Record<string, unknown> = {}) =>
    netConf({ type: "thereabouts", range, datastore: "local", local: { path }, ...extra });

  it("without --host-paths the agent's answer comes from a store the host does not have (the hazard)", async () => {
    const agent = await startAgentProcess(undefined, [], { tmpfsOver: [hostOnly] });
    try {
      const config = local(join(hostOnly, "hazard.db"), "198.18.40.0/29");
      const alone = await add({ config, pod: "a", containerId: "ca" });
      const served = await add({ config, pod: "b", containerId: "cb", env: agent.env });
      assert.equal(alone.code, 0, alone.stdout);
      assert.equal(served.code, 0, served.stdout);
      // Both got the first address: the agent allocated in its own, empty view of the directory.
      assert.deepEqual(addressesOf(served), addressesOf(alone));
    } finally {
      await agent.stop();
    }
  });

  it("with --host-paths, a store outside them is left to the plugin (no duplicate); inside, the agent serves", async () => {
    const agent = await startAgentProcess(undefined, ["--host-paths", `${shared},${defaults}`], {
      tmpfsOver: [hostOnly],
    });
    try {
      const outside = local(join(hostOnly, "store.db"), "198.18.41.0/29");
      const calls: AddCall[] = ["a", "b", "c"].map((pod, i) => ({
        config: outside,
        pod,
        containerId: `c-${pod}`,
        env: i === 0 ? {} : agent.env,
      }));
      const got = [];
      for (const c of calls) {
        const o = await add(c);
        assert.equal(o.code, 0, o.stdout);
        assert.doesNotMatch(o.stderr, /did not answer/, "a declined call is not a failure of the agent");
        got.push(addressesOf(o)[0]);
      }
      assert.deepEqual(got, ["198.18.41.1/29", "198.18.41.2/29", "198.18.41.3/29"]);
      for (const c of calls.slice(1)) assert.equal((await del(c)).code, 0);

      const inside = local(join(shared, "store.db"), "198.18.42.0/29");
      const servedCall = { config: inside, pod: "d", containerId: "c-d", env: agent.env };
      const served = await add(servedCall);
      assert.deepEqual(addressesOf(served), ["198.18.42.1/29"]);
      const alone = await add({ config: inside, pod: "e", containerId: "c-e" });
      assert.deepEqual(addressesOf(alone), ["198.18.42.2/29"], "the agent wrote the store the host sees");
      assert.equal((await del(servedCall)).code, 0);

      const metrics = await agentMetrics(agent.socket);
      assert.equal(count(metrics, "ADD", "declined"), 2);
      assert.equal(count(metrics, "DEL", "declined"), 2);
      assert.equal(count(metrics, "ADD", "ok"), 1);
      assert.equal(count(metrics, "DEL", "ok"), 1);
      // Declined once the configuration named its store: counted under that datastore.
      assert.match(
        metrics,
        /thereabouts_agent_calls_total\{command="ADD",store="local",result="declined"\} 2\n/,
      );
      assert.match(agent.stderr(), new RegExp(`host paths ${shared},/etc/kubernetes/cni/net.d,`));
    } finally {
      await agent.stop();
    }
  });

  it("declines a flat file, log file or symbolic link it cannot see as the host does", async () => {
    const agent = await startAgentProcess(undefined, ["--host-paths", `${shared},${defaults}`], {
      tmpfsOver: [hostOnly],
    });
    try {
      const store = join(shared, "flat.db");
      // The range comes from a flat file only the host sees: served by the agent it would be missing.
      writeFileSync(join(hostOnly, "whereabouts.conf"), JSON.stringify({ range: "198.18.43.0/29" }));
      const flat = netConf({
        type: "thereabouts",
        datastore: "local",
        local: { path: store },
        configuration_path: hostOnly,
      });
      const viaFlat = await add({ config: flat, pod: "f", containerId: "c-f", env: agent.env });
      assert.deepEqual(addressesOf(viaFlat), ["198.18.43.1/29"], viaFlat.stdout);

      const logFile = join(hostOnly, "plugin.log");
      const logged = local(store, "198.18.44.0/29", { log_file: logFile, log_level: "debug" });
      assert.equal((await add({ config: logged, pod: "g", containerId: "c-g", env: agent.env })).code, 0);
      assert.ok(readFileSync(logFile, "utf8").length > 0, "the plugin, on the host, wrote the log");

      // A link inside the shared directory pointing out of it resolves on the host only.
      writeFileSync(join(hostOnly, "real.conf"), JSON.stringify({ range: "198.18.45.0/29" }));
      const linkDir = join(shared, "linked");
      mkdirSync(linkDir);
      symlinkSync(join(hostOnly, "real.conf"), join(linkDir, "whereabouts.conf"));
      const viaLink = netConf({
        type: "thereabouts",
        datastore: "local",
        local: { path: store },
        configuration_path: linkDir,
      });
      const linked = await add({ config: viaLink, pod: "h", containerId: "c-h", env: agent.env });
      assert.deepEqual(addressesOf(linked), ["198.18.45.1/29"], linked.stdout);

      const metrics = await agentMetrics(agent.socket);
      assert.equal(count(metrics, "ADD", "declined"), 3);
      assert.equal(count(metrics, "ADD", "error"), 0);
    } finally {
      await agent.stop();
    }
  });

  it("declines a kubeconfig naming a CA file it cannot see, serves one that carries its CA inline", async () => {
    const api = await startApiDouble({ tls: true, token: "t0ken" });
    const agent = await startAgentProcess(undefined, ["--host-paths", `${shared},${defaults}`], {
      tmpfsOver: [hostOnly],
    });
    try {
      const inline = join(shared, "inline.kubeconfig");
      writeFileSync(inline, readFileSync(api.kubeconfigPath("kube-system"), "utf8"));
      const caFile = join(hostOnly, "ca.crt");
      writeFileSync(caFile, api.caPem ?? "");
      const byFile = join(shared, "by-file.kubeconfig");
      writeFileSync(
        byFile,
        readFileSync(inline, "utf8").replace(
          /certificate-authority-data: .*/,
          `certificate-authority: ${caFile}`,
        ),
      );
      assert.notEqual(readFileSync(byFile, "utf8"), readFileSync(inline, "utf8"));
      for (const [kubeconfig, pod] of [
        [inline, "k1"],
        [byFile, "k2"],
      ] as const) {
        const o = await add({
          config: netConf(kubeIpam(kubeconfig, { range: "198.18.46.0/29" })),
          pod,
          containerId: `c-${pod}`,
          env: agent.env,
        });
        assert.equal(o.code, 0, o.stdout);
      }
      const metrics = await agentMetrics(agent.socket);
      assert.equal(count(metrics, "ADD", "ok"), 1, "the inline kubeconfig was served");
      assert.equal(count(metrics, "ADD", "declined"), 1, "the CA file outside was left to the plugin");
    } finally {
      await agent.stop();
      await api.stop();
    }
  });

  it("refuses a relative --host-paths entry at start", async () => {
    await assert.rejects(startAgentProcess(undefined, ["--host-paths", "etc/cni"]), /absolute directories/);
  });
});
