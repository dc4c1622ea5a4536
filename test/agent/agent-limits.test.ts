// The agent under load it must not let one caller turn into a node-wide problem, as the runtime
// sees it (bin/thereabouts agent and plugin processes): a call stuck on a datastore that never
// answers does not hold up /healthz or other pools' calls; a client that sends nothing is dropped;
// store handles of many distinct stores are closed again; bogus commands do not grow /metrics.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { agentHealth } from "../../src/agent/client.ts";
import { READ_DEADLINE_MS } from "../../src/agent/socket-listener.ts";
import { DEFAULT_MAX_OPEN } from "../../src/agent/warm-stores.ts";
import { inParallel } from "../../src/cli/exec-plugin.ts";
import { kubeIpam } from "../kubernetes/go-runtime.ts";
import { agentMetrics, startAgentProcess } from "../support/agent.ts";
import {
  type AddCall,
  add,
  addressesOf,
  localNetConf,
  netConf,
  run,
  type TempDir,
  tempDir,
} from "../support/plugin.ts";

/** A TCP server that accepts connections and never answers (a hung API server). */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const held = new Set<Socket>();
  const server = createServer((s) => {
    held.add(s);
    s.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of held) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** What arrives on a connection that sends `text` and then nothing, until the agent closes it. */
function idleClient(socket: string, text: string): Promise<{ answer: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let answer = "";
    const c = connect(socket, () => c.write(text));
    c.on("data", (d: Buffer) => {
      answer += d.toString();
    });
    c.on("close", () => resolve({ answer, ms: performance.now() - started }));
    c.on("error", reject);
  });
}

describe("node agent: one caller cannot stall or bloat it (processes)", () => {
  let dir: TempDir;
  before(() => {
    dir = tempDir();
  });
  after(() => dir.remove());

  it("a call stuck on a datastore that never answers holds up neither /healthz nor another pool's ADD, and is answered (code 11)", async () => {
    const hung = await silentServer();
    const agent = await startAgentProcess();
    try {
      const kubeconfig = join(dir.path, "hung.kubeconfig");
      writeFileSync(
        kubeconfig,
        [
          "apiVersion: v1",
          "kind: Config",
          `clusters: [{name: hung, cluster: {server: "http://127.0.0.1:${hung.port}"}}]`,
          "users: [{name: u, user: {token: t}}]",
          "contexts: [{name: hung, context: {cluster: hung, user: u}}]",
          "current-context: hung",
          "",
        ].join("\n"),
      );
      const idle = idleClient(agent.socket, "GET /healthz HTTP/1.1\r\nHost: a");
      const stuckStarted = performance.now();
      const stuck = add({
        config: netConf(kubeIpam(kubeconfig, { range: "198.18.80.0/28" })),
        pod: "stuck",
        containerId: "ctr-stuck",
        env: agent.env,
      });
      await sleep(300); // the stuck call is in the agent now
      const health: number[] = [];
      for (let i = 0; i < 10; i++) {
        const t0 = performance.now();
        assert.equal(await agentHealth(agent.socket), "ok");
        health.push(performance.now() - t0);
      }
      assert.ok(
        Math.max(...health) < 500,
        `/healthz answered promptly while a call is stuck: ${health.map(Math.round)} ms`,
      );
      const local: AddCall = {
        config: localNetConf(join(dir.path, "beside.db"), "198.18.81.0/28"),
        pod: "beside",
        containerId: "ctr-beside",
        env: agent.env,
      };
      const t0 = performance.now();
      const beside = await add(local);
      const besideMs = performance.now() - t0;
      assert.deepEqual(addressesOf(beside), ["198.18.81.1/28"]);
      assert.doesNotMatch(beside.stderr, /working without it/, "the agent served it");
      assert.ok(besideMs < 2000, `an ADD on another store was served promptly: ${Math.round(besideMs)} ms`);
      const outcome = await stuck;
      const stuckMs = performance.now() - stuckStarted;
      assert.ok(stuckMs > 1000, "the stuck call was still running while the others were answered");
      assert.equal(outcome.code, 1);
      assert.equal((JSON.parse(outcome.stdout) as { code: number }).code, 11, outcome.stdout);
      assert.doesNotMatch(outcome.stderr, /working without it/, "the agent answered the stuck call itself");
      const dropped = await idle;
      assert.match(
        dropped.answer,
        /^HTTP\/1\.1 408 /,
        "a client that never finishes its request is answered 408",
      );
      assert.ok(
        dropped.ms >= READ_DEADLINE_MS - 100 && dropped.ms < READ_DEADLINE_MS + 3000,
        `after ${dropped.ms} ms`,
      );
      const metrics = await agentMetrics(agent.socket);
      assert.match(metrics, /thereabouts_agent_rejected_connections_total\{reason="timeout"\} 1\n/);
    } finally {
      await agent.stop();
      await hung.close();
    }
  });

  it("closes the store handles of 150 distinct stores: at most a bounded number stay open, then none once idle", async () => {
    const agent = await startAgentProcess(undefined, ["--store-idle-seconds", "1"]);
    try {
      const baseline = agent.openFds();
      const calls: AddCall[] = Array.from({ length: 150 }, (_, i) => ({
        config: localNetConf(join(dir.path, `store-${i}.db`), "198.18.82.0/28"),
        pod: `pod-${i}`,
        containerId: `ctr${i}`,
        env: agent.env,
      }));
      const outcomes = await inParallel(calls, 8, (c) => add(c));
      for (const o of outcomes) {
        assert.equal(o.code, 0, o.stdout);
        assert.doesNotMatch(o.stderr, /working without it/);
      }
      const busy = agent.openFds();
      // A sqlite handle holds 3 fds (database, WAL, shared memory); 150 stores would be 450.
      assert.ok(
        busy - baseline <= DEFAULT_MAX_OPEN * 3,
        `at most ${DEFAULT_MAX_OPEN} handles stay open: ${baseline} → ${busy} fds`,
      );
      let now = busy;
      for (let i = 0; i < 40 && now > baseline + 2; i++) {
        await sleep(250);
        now = agent.openFds();
      }
      assert.ok(
        now <= baseline + 2,
        `idle handles closed: ${baseline} fds at start, ${busy} after 150 stores, ${now} idle`,
      );
      assert.match(await agentMetrics(agent.socket), /thereabouts_agent_store_handles_open 0\n/);
      const again = await add(calls[0]!);
      assert.deepEqual(
        addressesOf(again),
        ["198.18.82.1/28"],
        "a closed store is opened again, its data intact",
      );
    } finally {
      await agent.stop();
    }
  });

  it("300 bogus CNI_COMMANDs are answered as errors and leave /metrics small", async () => {
    const agent = await startAgentProcess();
    try {
      const config = localNetConf(join(dir.path, "bogus.db"), "198.18.83.0/28");
      const outcomes = await inParallel(
        Array.from({ length: 300 }, (_, i) => i),
        8,
        (i) =>
          run({
            command: `BOGUS-${i}-${"x".repeat(64)}` as "ADD",
            config,
            containerId: `c${i}`,
            ifName: "eth0",
            env: agent.env,
          }),
      );
      for (const o of outcomes) {
        assert.equal(o.code, 1);
        assert.equal((JSON.parse(o.stdout) as { code: number }).code, 4, o.stdout);
        assert.doesNotMatch(o.stderr, /working without it/);
      }
      const metrics = await agentMetrics(agent.socket);
      assert.match(
        metrics,
        /thereabouts_agent_calls_total\{command="other",store="none",result="error"\} 300\n/,
      );
      assert.doesNotMatch(metrics, /BOGUS/);
      assert.ok(metrics.length < 20_000, `/metrics is ${metrics.length} bytes`);
    } finally {
      await agent.stop();
    }
  });
});
