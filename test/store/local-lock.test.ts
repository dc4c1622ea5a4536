// The local store waiting for another process's write lock, as the runtime sees it: a node agent
// (bin/thereabouts agent) serving an ADD on a store whose write lock another process holds keeps
// answering /healthz and ADDs on other stores, because the wait is a timer, not SQLite's blocking
// busy handler; the waiting ADD succeeds once the lock is released, or fails with code 11 when the
// store call's budget (10 s) runs out — through the agent and for a plugin working alone alike.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { agentHealth } from "../../src/agent/client.ts";
import { StoreUnavailableError } from "../../src/errors/errors.ts";
import { deadlineIn } from "../../src/ipam/retry.ts";
import { openLocalStore } from "../../src/store/local/sqlite-store.ts";
import { poolChange } from "../../src/store/store.ts";
import { type AgentProcess, startAgentProcess } from "../support/agent.ts";
import {
  add,
  addressesOf,
  assertCleanOutcome,
  localNetConf,
  type TempDir,
  tempDir,
} from "../support/plugin.ts";

const worker = join(dirname(fileURLToPath(import.meta.url)), "local-worker.ts");

/** How long a call through an agent that is not stalled may take (healthz; ADD exec to result). */
const HEALTH_BOUND_MS = 100;
const ADD_BOUND_MS = 400;

const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill("SIGKILL");
});

/** A process that holds the store's write lock (BEGIN IMMEDIATE) for `ms`, then rolls back. */
function holdWriteLock(path: string, ms: number): { locked: Promise<void>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [worker, "hold-write", path, String(ms)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let out = "";
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("close", (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  const locked = new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("locked\n")) resolve();
    });
    void exited.then((code) => reject(new Error(`lock holder exited (${code}) before locking: ${err}`)));
  });
  return { locked, exited };
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

function summary(ms: readonly number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
  return `${ms.length} calls, p50 ${at(0.5)} ms, max ${at(1)} ms`;
}

describe("local store: another process holds the write lock (agent and plugin processes)", () => {
  let dir: TempDir;
  let agent: AgentProcess;
  before(async () => {
    dir = tempDir();
    agent = await startAgentProcess();
  });
  after(async () => {
    await agent?.stop();
    dir?.remove();
  });

  it("the agent keeps answering /healthz and another store's ADDs while an ADD waits; that ADD succeeds once the lock is released", async (t) => {
    const locked = localNetConf(join(dir.path, "locked.db"), "198.18.30.0/24");
    const other = localNetConf(join(dir.path, "other.db"), "198.18.31.0/24");
    // Both stores exist (schema, WAL) before the lock is taken, as on a node in use.
    const first = await add({ config: locked, pod: "first", containerId: "c-first", env: agent.env });
    assert.deepEqual(addressesOf(first), ["198.18.30.1/24"]);
    assert.deepEqual(
      addressesOf(await add({ config: other, pod: "o-0", containerId: "c-o-0", env: agent.env })),
      ["198.18.31.1/24"],
    );

    const holdMs = 2_000;
    const holder = holdWriteLock(join(dir.path, "locked.db"), holdMs);
    await holder.locked;
    const lockedAt = performance.now();
    const waiting = timed(() =>
      add({ config: locked, pod: "waits", containerId: "c-waits", env: agent.env }),
    );
    // Let that plugin start and hand its call to the agent before sampling.
    await sleep(200);
    const health: number[] = [];
    const adds: number[] = [];
    for (let i = 1; performance.now() - lockedAt < holdMs - 500; i++) {
      const h = await timed(() => agentHealth(agent.socket));
      assert.equal(h.value, "ok", "the agent answers /healthz");
      health.push(h.ms);
      const a = await timed(() =>
        add({ config: other, pod: `o-${i}`, containerId: `c-o-${i}`, env: agent.env }),
      );
      assert.deepEqual(addressesOf(a.value), [`198.18.31.${i + 1}/24`]);
      assert.doesNotMatch(a.value.stderr, /did not answer/, "served by the agent");
      adds.push(a.ms);
    }
    const waited = await waiting;
    t.diagnostic(
      `lock held ${holdMs} ms; /healthz ${summary(health)}; other store's ADD ${summary(adds)}; waiting ADD ${Math.round(waited.ms)} ms`,
    );
    assert.deepEqual(addressesOf(waited.value), ["198.18.30.2/24"]);
    assert.doesNotMatch(waited.value.stderr, /did not answer/, "served by the agent");
    assert.ok(
      performance.now() - lockedAt >= holdMs - 100,
      "the waiting ADD finished only after the release",
    );
    assert.equal(await holder.exited, 0);
    assert.ok(health.length >= 3, `sampled /healthz ${health.length} times`);
    assert.ok(Math.max(...health) < HEALTH_BOUND_MS, `/healthz within ${HEALTH_BOUND_MS} ms`);
    assert.ok(Math.max(...adds) < ADD_BOUND_MS, `other store's ADDs within ${ADD_BOUND_MS} ms`);
  });

  it("a store call whose caller's deadline is nearly spent fails with code 11 at that deadline, not at the store's budget", async () => {
    const path = join(dir.path, "deadline.db");
    const store = await openLocalStore(path);
    try {
      const holder = holdWriteLock(path, 3_000);
      await holder.locked;
      const change = poolChange("p", "10.0.0.0/24", {
        create: [["1", { containerId: "c1", podRef: "ns/a", ifName: "eth0" }]],
      });
      const { value: error, ms } = await timed(() =>
        store.commit(change, { deadline: deadlineIn(300) }).then(
          () => undefined,
          (e: unknown) => e,
        ),
      );
      assert.ok(error instanceof StoreUnavailableError, String(error));
      assert.equal(error.kind, "unavailable");
      assert.match(error.message, /waited \d+ ms for another process's lock/);
      assert.ok(ms >= 250 && ms < 1_000, `gave up after ${Math.round(ms)} ms, at the caller's deadline`);
      assert.equal(await holder.exited, 0);
      assert.deepEqual(await store.commit(change, { deadline: deadlineIn(1_000) }), { ok: true });
    } finally {
      await store.close();
    }
  });

  it("an ADD whose store stays locked fails with code 11 at the store call's budget, through the agent and alone, and records nothing", async () => {
    const path = join(dir.path, "stays-locked.db");
    const config = localNetConf(path, "198.18.32.0/24");
    assert.deepEqual(
      addressesOf(await add({ config, pod: "first", containerId: "c-first", env: agent.env })),
      ["198.18.32.1/24"],
    );
    const holder = holdWriteLock(path, 13_000);
    await holder.locked;
    const calls = [
      { how: "through the agent", env: agent.env },
      { how: "alone", env: { THEREABOUTS_AGENT_SOCKET: "" } },
    ];
    const outcomes = await Promise.all(
      calls.map(({ env }, i) =>
        timed(() => add({ config, pod: `late-${i}`, containerId: `c-late-${i}`, env })),
      ),
    );
    assert.equal(await agentHealth(agent.socket), "ok", "the agent still answers");
    for (const [i, { value, ms }] of outcomes.entries()) {
      const how = calls[i]!.how;
      assertCleanOutcome(value, how);
      assert.equal(value.code, 1, how);
      const error = JSON.parse(value.stdout) as { code: number; msg: string };
      assert.equal(error.code, 11, `${how}: ${value.stdout}`);
      assert.match(error.msg, /locked/, how);
      assert.match(error.msg, new RegExp(path.replaceAll(".", "\\.")), how);
      assert.ok(ms >= 9_500 && ms < 12_500, `${how}: gave up after ${Math.round(ms)} ms, at the 10 s budget`);
    }
    assert.equal(await holder.exited, 0);
    const store = await openLocalStore(path);
    try {
      const pools = await store.listPools();
      assert.deepEqual(
        pools.flatMap((p) => [...p.allocations.values()].map((a) => a.podRef)),
        ["default/first"],
      );
      assert.deepEqual(
        (await store.listReservations()).map((r) => r.podRef),
        ["default/first"],
      );
    } finally {
      await store.close();
    }
  });
});
