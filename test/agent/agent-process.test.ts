// The node agent as shipped: `bin/thereabouts agent` serving plugin processes over its socket.
// Checked: plugins through two agents and plugins without one share a store without a duplicate;
// an agent killed mid-burst costs no ADD (plugins work alone) and a new agent takes over its
// socket; answers through the agent are the plugin's own. The socket's trust boundary is checked
// in agent-trust.test.ts, stalls and limits in agent-limits.test.ts.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { inParallel } from "../../src/cli/exec-plugin.ts";
import { openLocalStore } from "../../src/store/local/sqlite-store.ts";
import { startApiDouble } from "../k8s-api/harness.ts";
import { kubeIpam } from "../kubernetes/go-runtime.ts";
import { agentMetrics, startAgentProcess } from "../support/agent.ts";
import { assertEmpty, assertNoDuplicates, type Holding } from "../support/invariants.ts";
import {
  type AddCall,
  add,
  addressesOf,
  del,
  localNetConf,
  netConf,
  run,
  type TempDir,
  tempDir,
} from "../support/plugin.ts";

const PODS = 200;
const IN_FLIGHT = 32;

function holdings(
  calls: readonly AddCall[],
  outcomes: readonly { code: number | null; stdout: string; stderr: string }[],
): Holding[] {
  return outcomes.map((o, i) => {
    assert.equal(o.code, 0, `ADD ${calls[i]!.pod}: ${o.stdout} ${o.stderr}`);
    return { address: addressesOf(o as never)[0]!.split("/")[0]!, podRef: `default/${calls[i]!.pod}` };
  });
}

describe("node agent (process)", () => {
  let dir: TempDir;
  before(() => {
    dir = tempDir();
  });
  after(() => dir.remove());

  it(`${PODS} ADDs, ${IN_FLIGHT} in flight, through two agents and without one, share a store without a duplicate; DEL empties it`, async () => {
    const path = join(dir.path, "shared.db");
    const config = localNetConf(path, "198.18.8.0/24");
    const [a, b] = [await startAgentProcess(), await startAgentProcess()];
    try {
      const route = (i: number) => (i % 4 === 0 ? {} : i % 4 === 1 ? b.env : a.env);
      const calls: AddCall[] = Array.from({ length: PODS }, (_, i) => ({
        config,
        pod: `pod-${i}`,
        containerId: `ctr${i}`,
        env: { NODENAME: `node-${i % 4}`, ...route(i) },
      }));
      const outcomes = await inParallel(calls, IN_FLIGHT, (c) => add(c));
      for (const o of outcomes) assert.doesNotMatch(o.stderr, /did not answer/, "every agent answered");
      const store = await openLocalStore(path);
      try {
        await assertNoDuplicates(store, holdings(calls, outcomes));
        // DEL through a different path than the ADD took: the agent's cache must not hide entries.
        const dels = await inParallel(calls, IN_FLIGHT, (c, i) => del({ ...c, env: { ...route(i + 1) } }));
        for (const [i, o] of dels.entries()) assert.equal(o.code, 0, `DEL ${calls[i]!.pod}: ${o.stdout}`);
        await assertEmpty(store);
      } finally {
        await store.close();
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it("an agent SIGKILLed mid-burst costs no ADD; a new agent takes over its socket and DELs everything", async () => {
    const path = join(dir.path, "killed.db");
    const config = localNetConf(path, "198.18.9.0/24");
    const agent = await startAgentProcess();
    const calls: AddCall[] = Array.from({ length: PODS }, (_, i) => ({
      config,
      pod: `pod-${i}`,
      containerId: `ctr${i}`,
      env: agent.env,
    }));
    let done = 0;
    const outcomes = await inParallel(calls, IN_FLIGHT, async (c) => {
      const o = await add(c);
      if (++done === PODS / 4) await agent.kill();
      return o;
    });
    const reported = holdings(calls, outcomes);
    const fellBack = outcomes.filter((o) => /did not answer/.test(o.stderr)).length;
    assert.ok(fellBack > 0, "some plugins found the socket of the dead agent and worked alone");
    const store = await openLocalStore(path);
    try {
      await assertNoDuplicates(store, reported);
      const successor = await startAgentProcess(agent.socket);
      try {
        // A repeated ADD through the new agent gives every pod the address it already has.
        const again = await inParallel(calls.slice(0, 40), IN_FLIGHT, (c) => add(c));
        assert.deepEqual(holdings(calls.slice(0, 40), again), reported.slice(0, 40));
        const dels = await inParallel(calls, IN_FLIGHT, (c) => del(c));
        for (const [i, o] of dels.entries()) assert.equal(o.code, 0, `DEL ${calls[i]!.pod}: ${o.stdout}`);
        for (const o of dels) assert.doesNotMatch(o.stderr, /did not answer/);
        await assertEmpty(store);
      } finally {
        assert.equal(await successor.stop(), 0, "the agent exits cleanly on SIGTERM");
      }
    } finally {
      await store.close();
    }
  });

  it("an agent stopped by SIGTERM mid-burst answers the calls it has, exits 0, and removes its socket", async () => {
    const path = join(dir.path, "terminated.db");
    const config = localNetConf(path, "198.18.16.0/24");
    const agent = await startAgentProcess();
    const calls: AddCall[] = Array.from({ length: 100 }, (_, i) => ({
      config,
      pod: `pod-${i}`,
      containerId: `ctr${i}`,
      env: agent.env,
    }));
    let done = 0;
    let stopped: Promise<number | null> | undefined;
    const outcomes = await inParallel(calls, IN_FLIGHT, async (c) => {
      const o = await add(c);
      if (++done === 25) stopped = agent.stop();
      return o;
    });
    assert.equal(await stopped, 0, "exit code after SIGTERM");
    assert.equal(existsSync(agent.socket), false, "the socket is gone");
    const reported = holdings(calls, outcomes);
    const store = await openLocalStore(path);
    try {
      await assertNoDuplicates(store, reported);
      const dels = await inParallel(calls, IN_FLIGHT, (c) => del(c));
      for (const [i, o] of dels.entries()) assert.equal(o.code, 0, `DEL ${calls[i]!.pod}: ${o.stdout}`);
      await assertEmpty(store);
    } finally {
      await store.close();
    }
  });

  it("answers through the agent are the plugin's own, errors included, and nothing is written on a failed ADD", async () => {
    const path = join(dir.path, "same.db");
    const agent = await startAgentProcess();
    try {
      const cases: { name: string; config: string; env?: Record<string, string>; cniArgs?: string }[] = [
        { name: "ADD 0.3.1", config: localNetConf(path, "198.18.10.0/28") },
        {
          name: "ADD 1.0.0",
          config: JSON.stringify({
            cniVersion: "1.0.0",
            name: "n",
            type: "macvlan",
            ipam: {
              type: "thereabouts",
              range: "198.18.11.0/28",
              datastore: "local",
              local: { path },
              gateway: "198.18.11.1",
            },
          }),
        },
        {
          name: "bad range",
          config: netConf({
            type: "thereabouts",
            range: "198.18.300.0/24",
            datastore: "local",
            local: { path },
          }),
        },
        { name: "no ipam", config: JSON.stringify({ cniVersion: "0.3.1", name: "n", type: "macvlan" }) },
        { name: "bad CNI_ARGS", config: localNetConf(path, "198.18.12.0/28"), cniArgs: "K8S_POD_NAME" },
        { name: "not JSON", config: "{" },
      ];
      for (const c of cases) {
        const call = (env: Record<string, string>, pod: string) =>
          run({
            command: "ADD",
            config: c.config,
            containerId: `ctr-${pod}`,
            ifName: "eth0",
            netns: "/var/run/netns/x",
            cniArgs: c.cniArgs ?? `K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod}`,
            env,
          });
        const alone = await call({ THEREABOUTS_AGENT_SOCKET: join(dir.path, "no-agent.sock") }, "alone");
        const via = await call(agent.env, "via");
        assert.equal(via.code, alone.code, `${c.name}: exit code`);
        const shape = (stdout: string) => stdout.replace(/198\.18\.\d+\.\d+/g, "IP");
        assert.equal(shape(via.stdout), shape(alone.stdout), `${c.name}: stdout`);
        assert.doesNotMatch(via.stderr, /did not answer/);
      }
      const store = await openLocalStore(path);
      try {
        const pools = await store.listPools();
        assert.deepEqual(
          pools.map((p) => p.range).sort(),
          ["198.18.10.0/28", "198.18.11.0/28"],
          "only the good ADDs wrote",
        );
      } finally {
        await store.close();
      }
    } finally {
      await agent.stop();
    }
  });

  it("a kubeconfig rewritten with a new token takes effect at the agent's next call", async () => {
    const api = await startApiDouble({ tls: true, token: "rotated-token", anonymousAuth: false });
    const agent = await startAgentProcess();
    try {
      const kubeconfig = join(dir.path, "rotating.kubeconfig");
      const stale = readFileSync(api.kubeconfigPath("rotation", { token: "expired-token" }), "utf8");
      const current = readFileSync(api.kubeconfigPath("rotation"), "utf8");
      writeFileSync(kubeconfig, stale);
      const call = (pod: string): AddCall => ({
        config: netConf(kubeIpam(kubeconfig, { range: "198.18.14.0/28" })),
        pod,
        containerId: `ctr-${pod}`,
        env: agent.env,
      });
      const refused = await add(call("a"));
      assert.equal(refused.code, 1, "the agent's store used the stale token");
      assert.match(refused.stdout, /401|[Uu]nauthori[sz]ed|credentials/);
      // The installer rewrites the kubeconfig with the new token (a later mtime).
      await new Promise((r) => setTimeout(r, 20));
      writeFileSync(kubeconfig, current);
      const accepted = await add(call("b"));
      assert.equal(accepted.code, 0, accepted.stdout);
      for (const o of [refused, accepted]) assert.doesNotMatch(o.stderr, /did not answer/);
      assert.equal((await del(call("b"))).code, 0);
    } finally {
      await agent.stop();
      await api.stop();
    }
  });

  it("serves Prometheus metrics on its socket and, when asked, over TCP", async () => {
    const agent = await startAgentProcess(undefined, ["--metrics-listen", "127.0.0.1:0"]);
    try {
      const url = /metrics on (http:\S+)/.exec(agent.stderr())?.[1];
      assert.ok(url, `the agent names its metrics address: ${agent.stderr()}`);
      const path = join(dir.path, "metrics.db");
      const calls = ["a", "b"].map((pod) => ({
        config: localNetConf(path, "198.18.15.0/28"),
        pod,
        containerId: `c-${pod}`,
        env: agent.env,
      }));
      for (const c of calls) assert.equal((await add(c)).code, 0);
      const bad = await add({ ...calls[0]!, config: netConf({ type: "thereabouts", range: "nope" }) });
      assert.equal(bad.code, 1);
      assert.equal((await del(calls[0]!)).code, 0);
      const overSocket = await agentMetrics(agent.socket);
      const overTcp = await (await fetch(url)).text();
      for (const text of [overSocket, overTcp]) {
        assert.match(text, /thereabouts_agent_calls_total\{command="ADD",store="local",result="ok"\} 2\n/);
        // The configuration did not decode: no datastore to name.
        assert.match(text, /thereabouts_agent_calls_total\{command="ADD",store="none",result="error"\} 1\n/);
        assert.match(text, /thereabouts_agent_calls_total\{command="DEL",store="local",result="ok"\} 1\n/);
        assert.match(
          text,
          /thereabouts_agent_call_duration_seconds_count\{command="ADD",store="local"\} 2\n/,
        );
        assert.match(text, /thereabouts_agent_call_duration_seconds_count\{command="ADD",store="none"\} 1\n/);
        assert.match(text, /thereabouts_agent_allocation_retries_count\{store="local"\} 2\n/);
        assert.match(text, /thereabouts_agent_changes_total 3\n/, "two ADDs and a DEL changed the pool");
        assert.match(text, /thereabouts_agent_store_handles_opened_total 1\n/);
      }
    } finally {
      await agent.stop();
    }
  });
});
