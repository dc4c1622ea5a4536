// Issue #4, unreachable etcd, as the runtime sees it: plugin processes (alone and through a node
// agent) against etcd endpoints nobody serves. ADD fails within a bounded time with a CNI error
// that names etcd and the reason; STATUS reports the datastore unreachable (code 50) and succeeds
// once etcd is there.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type AgentProcess, startAgentProcess } from "../support/agent.ts";
import { assertCleanOutcome, netConf, podArgs, run } from "../support/plugin.ts";
import { EtcdCluster, freePort } from "./etcd-cluster.ts";

/** etcd's own client timeout for one call (src/store/etcd: DEFAULT_ETCD_TIMEOUT_MS) plus start-up slack. */
const BOUND_MS = 15_000;

describe("etcd unreachable (plugin processes)", () => {
  let agent: AgentProcess;
  let cluster: EtcdCluster;
  before(async () => {
    agent = await startAgentProcess();
    cluster = await EtcdCluster.start({ members: 1, inMemory: true });
  });
  after(async () => {
    await agent?.stop();
    await cluster?.stop();
  });

  for (const via of ["alone", "through the agent"] as const) {
    it(`ADD fails in bounded time with a clear error, STATUS reports it (${via})`, async () => {
      const env = via === "alone" ? { THEREABOUTS_AGENT_SOCKET: "/nonexistent/agent.sock" } : agent.env;
      const dead = `127.0.0.1:${await freePort()}`;
      const config = netConf(
        { type: "thereabouts", range: "198.18.20.0/24", datastore: "etcd", etcd_host: dead },
        "1.1.0",
      );
      const started = performance.now();
      const [added, status] = await Promise.all([
        run({
          command: "ADD",
          config,
          containerId: "c1",
          ifName: "eth0",
          netns: "/x",
          cniArgs: podArgs("p1"),
          env,
        }),
        run({ command: "STATUS", config, env }),
      ]);
      const elapsed = performance.now() - started;
      assert.ok(elapsed < BOUND_MS, `both answered within ${BOUND_MS} ms (${Math.round(elapsed)} ms)`);
      assertCleanOutcome(added, "ADD");
      const addError = JSON.parse(added.stdout) as { code: number; msg: string };
      assert.equal(added.code, 1);
      assert.equal(addError.code, 11, "try again later");
      assert.match(addError.msg, new RegExp(`etcd at http://${dead}.*connection refused \\(ECONNREFUSED\\)`));
      assertCleanOutcome(status, "STATUS");
      const statusError = JSON.parse(status.stdout) as { code: number; msg: string; details?: string };
      assert.equal(statusError.code, 50);
      assert.match(statusError.msg, /datastore etcd is unreachable/);
      assert.match(statusError.details ?? "", /connection refused/);
      for (const o of [added, status]) assert.doesNotMatch(o.stderr, /did not answer/);

      const live = netConf(
        { type: "thereabouts", range: "198.18.20.0/24", ...cluster.ipamKeys({ prefix: "/status" }) },
        "1.1.0",
      );
      const up = await run({ command: "STATUS", config: live, env });
      assert.equal(up.code, 0, up.stdout);
    });
  }
});
