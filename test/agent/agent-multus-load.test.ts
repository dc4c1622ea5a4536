// The node agent under a burst of meta-plugin calls, as after a node reboot (Multus' thick daemon
// runs them all at once and runs out of memory). A real agent process; the calls sent over its
// socket exactly as bin/multus sends them (callAgent on MULTUS_PATH), all at once; each call the
// agent declines (or does not answer) run again by bin/multus alone, as the plugin does. Pods are
// cheap: one static delegate of type whereabouts (bin/whereabouts, an IPAM plugin: no interface,
// so every pod shares one network namespace) on an embedded store, which is what the delegate's
// IPAM call back into the agent writes.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { MULTUS_REQUEST_BYTES } from "../../src/agent/call-gate.ts";
import { callAgent } from "../../src/agent/client.ts";
import { MULTUS_PATH } from "../../src/agent/protocol.ts";
import { inParallel } from "../../src/cli/exec-plugin.ts";
import { type AgentProcess, agentMetrics, startAgentProcess } from "../support/agent.ts";
import { ROOT, type TempDir, tempDir } from "../support/plugin.ts";

const MULTUS = join(ROOT, "bin", "multus");
const RANGE = "10.120.0.0/21";
/** What the test machine (2 cores) runs alone at once: the runtime would run them all. */
const ALONE_AT_ONCE = 8;
const BUDGET_KIB = 256 * 1024;

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Who answered: the agent, or the plugin alone after the agent declined or did not answer. */
  readonly by: "agent" | "alone";
  /** Milliseconds from the start of the test to the answer. */
  readonly at: number;
}

/** A metric's value in the agent's /metrics text (0 when the series is not there). */
function metric(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** The agent's peak resident memory so far (VmHWM), in KiB. */
function peakKib(agent: AgentProcess): number {
  const status = readFileSync(`/proc/${agent.child.pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
}

describe("node agent: a burst of meta-plugin calls (processes)", () => {
  let dir: TempDir;
  let ns: string;
  let store: string;
  let cniDir: string;
  const t0 = performance.now();

  before(() => {
    dir = tempDir("thereabouts-multus-load-");
    ns = `thab-load-${process.pid}`;
    execFileSync("ip", ["netns", "add", ns]);
    store = join(dir.path, "store.db");
    cniDir = join(dir.path, "cni");
  });
  after(() => {
    execFileSync("ip", ["netns", "del", ns]);
    dir.remove();
  });

  const config = (extra: object = {}) =>
    JSON.stringify({
      cniVersion: "1.0.0",
      name: "multus-cni-network",
      type: "multus",
      cniDir,
      binDir: join(ROOT, "bin"),
      confDir: join(dir.path, "net.d"),
      delegates: [
        {
          cniVersion: "1.0.0",
          name: "pods",
          type: "whereabouts",
          ipam: { type: "whereabouts", range: RANGE, datastore: "local", local: { path: store } },
        },
      ],
      ...extra,
    });
  const env = (command: "ADD" | "DEL", pod: number): Record<string, string> => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: `ctr${pod}`,
    CNI_NETNS: `/var/run/netns/${ns}`,
    CNI_IFNAME: "eth0",
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod${pod}`,
    CNI_PATH: "/usr/lib/cni",
  });

  /** bin/multus working alone, as the plugin does when the agent declines. */
  const alone = (command: "ADD" | "DEL", pod: number, stdin: string): Promise<Outcome> =>
    new Promise((resolve, reject) => {
      const child = spawn(MULTUS, [], {
        env: { PATH: process.env["PATH"] ?? "", THEREABOUTS_AGENT_SOCKET: "", ...env(command, pod) },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (b: Buffer) => (stdout += b));
      child.stderr.on("data", (b: Buffer) => (stderr += b));
      child.on("error", reject);
      child.on("close", (code) =>
        resolve({ code: code ?? -1, stdout, stderr, by: "alone", at: performance.now() - t0 }),
      );
      child.stdin.end(stdin);
    });

  type Call = { readonly command: "ADD" | "DEL"; readonly pod: number };

  /**
   * Sends every call at once (`later` ones once `between` resolves); the ones declined or
   * unanswered then run alone, ALONE_AT_ONCE at a time. Each call's outcome, in the order given.
   */
  async function burst(
    agent: AgentProcess,
    stdin: string,
    calls: readonly Call[],
    later: readonly Call[] = [],
    between: () => Promise<void> = async () => {},
  ): Promise<{ outcomes: Outcome[]; declined: Map<string, number> }> {
    const declined = new Map<string, number>();
    const all = [...calls, ...later];
    const sent = between();
    const first = await Promise.all(
      all.map(async ({ command, pod }, i): Promise<Outcome | undefined> => {
        if (i >= calls.length) await sent;
        try {
          const a = await callAgent(agent.socket, { env: env(command, pod), stdin }, 70_000, MULTUS_PATH);
          if (!("declined" in a)) return { ...a, by: "agent", at: performance.now() - t0 };
          declined.set(a.declined, (declined.get(a.declined) ?? 0) + 1);
        } catch (error) {
          const why = `no answer: ${String(error)}`;
          declined.set(why, (declined.get(why) ?? 0) + 1);
        }
        return undefined;
      }),
    );
    const left = all.flatMap((_, i) => (first[i] === undefined ? [i] : []));
    const ran = await inParallel(left, ALONE_AT_ONCE, (i) => alone(all[i]!.command, all[i]!.pod, stdin));
    left.forEach((i, k) => {
      first[i] = ran[k];
    });
    return { outcomes: first as Outcome[], declined };
  }

  const addressOf = (o: Outcome) => {
    assert.equal(o.code, 0, `${o.by}: ${o.stdout} ${o.stderr}`);
    return (JSON.parse(o.stdout) as { ips: { address: string }[] }).ips[0]!.address;
  };
  const used = () => {
    const conf = join(dir.path, "show.conf");
    writeFileSync(
      conf,
      JSON.stringify({
        name: "pods",
        type: "whereabouts",
        ipam: { type: "whereabouts", range: RANGE, datastore: "local", local: { path: store } },
      }),
    );
    const shown = JSON.parse(
      execFileSync(join(ROOT, "bin", "thereabouts"), ["show", "--config", conf, "-o", "json"], {
        encoding: "utf8",
      }),
    ) as { pools: { used: number }[] };
    return shown.pools.reduce((n, p) => n + p.used, 0);
  };

  const pods = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
  let peak = 0;

  it("1,000 ADDs at once with the default limits: every call answered, each pod its own address, the agent within 256 MiB", async () => {
    const agent = await startAgentProcess();
    try {
      const started = performance.now();
      const { outcomes, declined } = await burst(
        agent,
        config(),
        pods(0, 1000).map((pod) => ({ command: "ADD", pod })),
      );
      const seconds = (performance.now() - started) / 1000;
      const addresses = new Set(outcomes.map(addressOf));
      assert.equal(addresses.size, 1000, "1,000 distinct addresses");
      assert.equal(used(), 1000);
      const served = outcomes.filter((o) => o.by === "agent").length;
      peak = Math.max(peak, peakKib(agent));
      const metrics = await agentMetrics(agent.socket);
      const shed = metric(metrics, 'thereabouts_agent_multus_calls_total{command="ADD",result="shed"}');
      assert.equal(
        metric(metrics, 'thereabouts_agent_multus_calls_total{command="ADD",result="ok"}'),
        served,
      );
      assert.equal(served + shed, 1000, `the agent served or shed every call: ${[...declined]}`);
      // Turned away at once (queue full) or after waiting (on a slow machine): never unanswered.
      for (const why of declined.keys())
        assert.match(why, /^node agent busy \((queue full|waited too long)\)/);
      assert.ok(served >= 8, `at least as many as the slots were served: ${served}`);
      assert.ok(shed > 0, "more calls than slots and queue: some were shed");
      assert.equal(metric(metrics, "thereabouts_agent_multus_calls_in_flight"), 0);
      assert.equal(metric(metrics, "thereabouts_agent_multus_calls_queued"), 0);
      assert.ok(peak < BUDGET_KIB, `agent peak RSS ${peak} KiB`);
      process.stderr.write(
        `# 1,000 ADDs at once, default limits: ${served} served by the agent, ${shed} shed (run alone); agent peak RSS ${Math.round(peak / 1024)} MiB; ${seconds.toFixed(1)} s\n`,
      );
    } finally {
      await agent.stop();
    }
  });

  it("with small limits, ADDs arriving to a full queue are shed, and DELs go ahead of the ADDs waiting", async () => {
    // ADDs wait for the readiness file (DEL never does): the running ADD holds the one slot until
    // the file is there, so the queue is full of ADDs when the DELs arrive, and stays full.
    const ready = join(dir.path, "ready");
    const agent = await startAgentProcess(undefined, [
      "--multus-max-calls",
      "1",
      "--multus-queue",
      "16",
      "--multus-queue-wait-seconds",
      "20",
    ]);
    const shedAdds = async () =>
      metric(
        await agentMetrics(agent.socket),
        'thereabouts_agent_multus_calls_total{command="ADD",result="shed"}',
      );
    const until = async (what: string, done: () => Promise<boolean>) => {
      for (let i = 0; i < 300 && !(await done()); i++) await sleep(50);
      assert.ok(await done(), what);
    };
    try {
      const adds = pods(1000, 1150).map((pod) => ({ command: "ADD" as const, pod }));
      const dels = pods(0, 10).map((pod) => ({ command: "DEL" as const, pod }));
      const { outcomes, declined } = await burst(
        agent,
        config({ readinessindicatorfile: ready }),
        adds,
        dels,
        async () => {
          await until("150 ADDs in: 1 running, 16 waiting, 133 shed", async () => (await shedAdds()) === 133);
          const metrics = await agentMetrics(agent.socket);
          assert.equal(metric(metrics, "thereabouts_agent_multus_calls_in_flight"), 1);
          assert.equal(metric(metrics, "thereabouts_agent_multus_calls_queued"), 16);
          // Once every DEL has taken a waiting ADD's place, the running ADD may finish.
          void until("the DELs wait", async () => (await shedAdds()) === 143).then(() =>
            writeFileSync(ready, ""),
          );
        },
      );
      const addOutcomes = outcomes.slice(0, adds.length);
      const delOutcomes = outcomes.slice(adds.length);
      for (const o of delOutcomes) assert.equal(o.code, 0, o.stdout);
      assert.deepEqual(
        delOutcomes.map((o) => o.by),
        dels.map(() => "agent"),
        "no DEL was shed: each took the place of a waiting ADD",
      );
      const servedAdds = addOutcomes.filter((o) => o.by === "agent");
      assert.equal(servedAdds.length, 1 + 16 - dels.length, "the running ADD and those left waiting");
      // One slot: the running ADD, then every DEL, then the ADDs that had waited longer.
      const order = [
        ...servedAdds.map((o) => ({ kind: "ADD", at: o.at })),
        ...delOutcomes.map((o) => ({ kind: "DEL", at: o.at })),
      ]
        .sort((a, b) => a.at - b.at)
        .map((o) => o.kind);
      assert.deepEqual(order, [
        "ADD",
        ...dels.map(() => "DEL"),
        ...Array.from({ length: 16 - dels.length }, () => "ADD"),
      ]);
      assert.equal(new Set(addOutcomes.map(addressOf)).size, adds.length, "every ADD answered, distinct");
      assert.deepEqual(
        [...declined.keys()],
        ["node agent busy (queue full): the plugin runs this call itself"],
      );
      const metrics = await agentMetrics(agent.socket);
      assert.equal(metric(metrics, 'thereabouts_agent_multus_calls_total{command="ADD",result="ok"}'), 7);
      assert.equal(metric(metrics, 'thereabouts_agent_multus_calls_total{command="DEL",result="shed"}'), 0);
      assert.equal(metric(metrics, 'thereabouts_agent_multus_calls_total{command="DEL",result="ok"}'), 10);
      assert.equal(used(), 1000 - 10 + 150);
    } finally {
      await agent.stop();
    }
  });

  it("DEL of every pod, 64 at a time: all served by the agent, nothing left in the store or the caches", async () => {
    const agent = await startAgentProcess();
    try {
      const stdin = config();
      const left = pods(10, 1150);
      const outcomes = await inParallel(left, 64, (pod) =>
        callAgent(agent.socket, { env: env("DEL", pod), stdin }, 70_000, MULTUS_PATH),
      );
      for (const o of outcomes) assert.ok(!("declined" in o) && o.code === 0, JSON.stringify(o));
      assert.equal(used(), 0, "every address released");
      assert.deepEqual(
        readdirSync(cniDir).filter((f) => f !== "results"),
        [],
        "no pod's delegate list left",
      );
      assert.deepEqual(readdirSync(join(cniDir, "results")), [], "no delegate result cached");
      peak = Math.max(peak, peakKib(agent));
      assert.ok(peak < BUDGET_KIB, `agent peak RSS ${peak} KiB`);
    } finally {
      await agent.stop();
    }
  });

  it("on SIGTERM the waiting calls are declined at once; the running one finishes, then the agent exits", async () => {
    const ready = join(dir.path, "ready-later");
    const agent = await startAgentProcess(undefined, ["--multus-max-calls", "1", "--multus-queue", "4"]);
    const stdin = config({ readinessindicatorfile: ready });
    const sent = pods(2000, 2004).map((pod) =>
      callAgent(agent.socket, { env: env("ADD", pod), stdin }, 70_000, MULTUS_PATH).then((a) => ({
        a,
        at: performance.now(),
      })),
    );
    for (let i = 0; i < 200; i++) {
      if (metric(await agentMetrics(agent.socket), "thereabouts_agent_multus_calls_queued") === 3) break;
      await sleep(25);
    }
    const stopping = performance.now();
    const exited = agent.stop();
    const answers = await Promise.race([
      Promise.all(sent.slice(1)),
      sleep(5_000).then(() => assert.fail("the waiting calls were not answered")),
    ]);
    for (const { a, at } of answers) {
      assert.deepEqual(a, { declined: "node agent busy (closing): the plugin runs this call itself" });
      assert.ok(at - stopping < 2_000, `declined ${Math.round(at - stopping)} ms after SIGTERM`);
    }
    writeFileSync(ready, "");
    const first = await sent[0]!;
    assert.ok(!("declined" in first.a) && first.a.code === 0, JSON.stringify(first.a));
    assert.equal(await exited, 0);
    const done = await alone("DEL", 2000, stdin);
    assert.equal(done.code, 0, done.stdout);
  });

  it("a meta-plugin request too large for what the agent holds is declined before its body is read", async () => {
    const agent = await startAgentProcess();
    try {
      // Four requests announcing large bodies and sending a few bytes: all but 400 bytes of what
      // the agent holds for meta-plugin requests is taken.
      const head = (length: number) => `POST ${MULTUS_PATH} HTTP/1.1\r\nContent-Length: ${length}\r\n\r\n`;
      const length = MULTUS_REQUEST_BYTES / 4 - 100 - head(MULTUS_REQUEST_BYTES / 4).length;
      const held = await Promise.all(
        Array.from(
          { length: 4 },
          () =>
            new Promise<ReturnType<typeof connect>>((resolve, reject) => {
              const c = connect(agent.socket, () => {
                c.write(`${head(length)}{"env":`);
                resolve(c);
              });
              c.on("error", reject);
            }),
        ),
      );
      await sleep(200);
      const stdin = config();
      const refused = await callAgent(agent.socket, { env: env("ADD", 5000), stdin }, 5_000, MULTUS_PATH);
      assert.deepEqual(refused, {
        declined: "node agent busy (request bytes): the plugin runs this call itself",
      });
      for (const c of held) c.destroy();
      await sleep(200);
      const served = await callAgent(agent.socket, { env: env("ADD", 5000), stdin }, 10_000, MULTUS_PATH);
      assert.ok(!("declined" in served), "served once the bytes are given back");
      assert.equal(served.code, 0, served.stdout);
      const deleted = await callAgent(agent.socket, { env: env("DEL", 5000), stdin }, 10_000, MULTUS_PATH);
      assert.ok(!("declined" in deleted) && deleted.code === 0);
      const metrics = await agentMetrics(agent.socket);
      assert.equal(metric(metrics, 'thereabouts_agent_multus_calls_total{command="other",result="shed"}'), 1);
      // An IPAM call is not held up by meta-plugin requests' bytes.
      assert.equal(metric(metrics, 'thereabouts_agent_rejected_connections_total{reason="too_large"}'), 0);
    } finally {
      await agent.stop();
    }
  });
});
