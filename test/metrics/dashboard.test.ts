// The Grafana dashboard (deploy/grafana/thereabouts-dashboard.json) against a real Prometheus (the
// Debian package) scraping a running node agent (`bin/thereabouts agent --metrics-listen`) and a
// running controller (`bin/thereabouts controller --listen`) on the Kubernetes API double. Traffic
// through the agent on the Kubernetes store (plugin processes: ADDs, DELs, a failed ADD, a lost
// race planted behind the agent's cache, a malformed connection) and pods that end (one deleted,
// one finished long ago) for the controller to reclaim; then EVERY target of EVERY panel, its
// Grafana variables substituted, must be valid PromQL that returns data. Also: 300 bogus
// CNI_COMMANDs add no series (every label value comes from a fixed set).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type Controller,
  createPod,
  deletePod,
  NS,
  setPodStatus,
  startApi,
  startController,
} from "../controller/support.ts";
import type { ApiDouble } from "../k8s-api/harness.ts";
import { kubeIpam } from "../kubernetes/go-runtime.ts";
import { type AgentProcess, startAgentProcess } from "../support/agent.ts";
import { type AddCall, add, addressesOf, del, netConf, ROOT, run } from "../support/plugin.ts";
import { type Prometheus, type Sample, startPrometheus } from "../support/prometheus.ts";

const DASHBOARD = join(ROOT, "deploy", "grafana", "thereabouts-dashboard.json");
const RANGE = "10.77.0.0/24";
const POOL = "10.77.0.0-24";
const WB = `/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/${NS}`;
/**
 * What `$__rate_interval` stands for here. Grafana makes it at least four scrape intervals; a
 * minute spans the whole test, so every rate() sees the traffic and a quantile is a number.
 */
const RATE_INTERVAL = "1m";
/** Grafana's reference to the dashboard's data source variable (not a template literal here). */
const DATASOURCE_VARIABLE = "$" + "{datasource}";
const DATASOURCE = { type: "prometheus", uid: DATASOURCE_VARIABLE };

interface Target {
  readonly refId: string;
  readonly expr: string;
  readonly datasource?: { type?: string; uid?: string };
}
interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: { type?: string; uid?: string };
  readonly targets?: readonly Target[];
  readonly panels?: readonly Panel[];
}
interface Dashboard {
  readonly schemaVersion: number;
  readonly templating: { readonly list: readonly { name: string; type: string; query: string }[] };
  readonly panels: readonly Panel[];
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as Dashboard;

/** Every panel, those inside collapsed rows too. */
function allPanels(panels: readonly Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

/** A target's expression as Grafana sends it: its variables substituted. */
function substituted(expr: string): string {
  return expr.replaceAll("$__rate_interval", RATE_INTERVAL).replaceAll(DATASOURCE_VARIABLE, "");
}

function post(socket: string, path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        path,
        method: "POST",
        headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => {
          text += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Bytes that are no HTTP request: the agent refuses them as malformed. */
function sendGarbage(socket: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socket, () => s.write("NOT AN HTTP REQUEST\r\n\r\n"));
    let text = "";
    s.setEncoding("utf8").on("data", (d: string) => {
      text += d;
    });
    s.on("end", () => resolve(text));
    s.on("error", reject);
  });
}

const sum = (samples: readonly Sample[]) => samples.reduce((n, s) => n + s.value, 0);

describe("the Grafana dashboard, every query against a real Prometheus scraping an agent and a controller", () => {
  let api: ApiDouble;
  let agent: AgentProcess;
  let controller: Controller;
  let prometheus: Prometheus;
  let config: string;
  const timings: string[] = [];
  const started = Date.now();
  const mark = (what: string) => timings.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const call = (pod: string, extra: Partial<AddCall> = {}): AddCall => ({
    config,
    pod,
    containerId: `ctr-${pod}`,
    ifName: "net1",
    env: agent.env,
    ...extra,
  });
  /** A pod in the double (so the controller keeps its address) and its ADD through the agent. */
  const attach = async (pod: string) => {
    await createPod(api, "default", pod);
    const outcome = await add(call(pod));
    assert.equal(outcome.code, 0, `ADD ${pod}: ${outcome.stdout} ${outcome.stderr}`);
    assert.doesNotMatch(outcome.stderr, /working without it/, "served by the agent");
    return addressesOf(outcome)[0]!;
  };
  /** An ADD that fails (code 4: no K8S_POD_NAME) after its configuration decoded. */
  const addWithoutPodName = () =>
    run({
      command: "ADD",
      config,
      containerId: "ctr-anonymous",
      ifName: "net1",
      netns: "/var/run/netns/anonymous",
      cniArgs: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default",
      env: agent.env,
    });
  const poolEntries = async (): Promise<Record<string, unknown>> => {
    const r = await api.request("GET", `${WB}/ippools/${POOL}`);
    return (r.json().spec?.allocations ?? {}) as Record<string, unknown>;
  };
  const agentMetrics = async () =>
    (await fetch(`http://${/metrics on http:\/\/(\S+)\/metrics/.exec(agent.stderr())![1]}/metrics`)).text();

  before(async () => {
    api = await startApi();
    agent = await startAgentProcess(undefined, ["--metrics-listen", "127.0.0.1:0"]);
    controller = await startController(api);
    config = netConf(kubeIpam(api.kubeconfigPath(NS), { range: RANGE }), "1.0.0", "metrics-net");
    const agentTarget = /metrics on http:\/\/(\S+)\/metrics/.exec(agent.stderr())?.[1];
    assert.ok(agentTarget, agent.stderr());
    mark("agent and controller up");
    prometheus = await startPrometheus({
      "thereabouts-agent": [agentTarget],
      "thereabouts-controller": [new URL(controller.url).host],
    });
    mark("prometheus ready");

    // Before Prometheus's first scrape: the series of the calls the panels show exist, so that
    // rate() sees the increases that follow (a series is 0 in its first sample, never before).
    await attach("warm-0");
    await attach("warm-1");
    assert.equal((await del(call("warm-1"))).code, 0);
    const failed = await addWithoutPodName();
    assert.equal(failed.code, 1, "an ADD without a pod name fails");
    assert.match(failed.stdout, /no pod name/);
    assert.equal(
      (await post(agent.socket, "/v1/cni", JSON.stringify({ env: { CNI_COMMAND: "BOGUS-0" }, stdin: "" })))
        .status,
      200,
    );
    await prometheus.waitFor(
      "the first scrape of both, with the warm-up calls and the controller leading",
      'thereabouts_agent_calls_total{command="DEL",store="kubernetes",result="ok"} or thereabouts_leader == 1',
      (samples) => samples.length === 2,
    );
    mark("first scrape");

    // The traffic the panels show.
    for (const pod of ["a", "b", "c"]) await attach(pod);
    // A lost race: the agent's cached pool (read by the ADDs just now, trusted for 2 s) does not
    // know of an entry another writer puts at the lowest free address; its next ADD chooses that
    // address, the commit's test fails in the API, and the allocation reads again.
    const held = await poolEntries();
    let free = 1;
    while (String(free) in held) free++;
    await createPod(api, "default", "squatter");
    const planted = await api.request(
      "PATCH",
      `${WB}/ippools/${POOL}`,
      [
        { op: "test", path: `/spec/allocations/${free}`, value: null },
        {
          op: "add",
          path: `/spec/allocations/${free}`,
          value: { id: "ctr-squatter", podref: "default/squatter", ifname: "net1" },
        },
      ],
      { "Content-Type": "application/json-patch+json" },
    );
    assert.equal(planted.status, 200, planted.body);
    const raced = await attach("d");
    assert.notEqual(raced, `10.77.0.${free}/24`, "the planted address is not handed out twice");
    assert.equal((await del(call("a"))).code, 0);
    const failedAgain = await addWithoutPodName();
    assert.equal(failedAgain.code, 1);
    assert.match(await sendGarbage(agent.socket), /^HTTP\/1\.1 400/);
    // Pods that end without a DEL: one force-deleted now, one finished ten minutes ago (its
    // object says when: the leak age counts from then).
    await deletePod(api, "default", "b");
    const tenMinutesAgo = new Date(Date.now() - 600_000).toISOString();
    await setPodStatus(api, "default", "c", {
      phase: "Succeeded",
      containerStatuses: [
        {
          name: "c",
          ready: false,
          restartCount: 0,
          image: "busybox:1.36",
          imageID: "",
          state: { terminated: { exitCode: 0, finishedAt: tenMinutesAgo } },
        },
      ],
    });
    await controller.waitForLog(
      (l) => l.msg === "released" && l["podRef"] === "default/c",
      15_000,
      "the finished pod's address released",
    );
    await controller.waitForLog(
      (l) => l.msg === "released" && l["podRef"] === "default/b",
      15_000,
      "the deleted pod's address released",
    );
    await prometheus.waitFor(
      "a scrape after the reclaims",
      'sum(thereabouts_leak_age_seconds_count{trigger="fast"})',
      (samples) => samples[0]?.value === 2,
    );
    await prometheus.waitFor(
      "a scrape after the agent's calls",
      'sum(thereabouts_agent_rejected_connections_total{reason="malformed"})',
      (samples) => samples[0]?.value === 1,
    );
    mark("traffic scraped");
  });

  after(async () => {
    await prometheus?.stop();
    await controller?.kill();
    await agent?.stop();
    await api?.stop();
  });

  it("is a Grafana dashboard of schemaVersion ≥ 36 whose panels all query the Prometheus of its datasource variable", () => {
    assert.ok(dashboard.schemaVersion >= 36, `schemaVersion ${dashboard.schemaVersion}`);
    const variable = dashboard.templating.list.find((v) => v.name === "datasource");
    assert.deepEqual([variable?.type, variable?.query], ["datasource", "prometheus"]);
    const panels = allPanels(dashboard.panels);
    assert.equal(new Set(panels.map((p) => p.id)).size, panels.length, "panel ids are unique");
    const queried = panels.filter((p) => p.type !== "row");
    assert.ok(queried.length >= 12, `${queried.length} panels`);
    for (const panel of queried) {
      assert.deepEqual(panel.datasource, DATASOURCE, panel.title);
      assert.ok((panel.targets ?? []).length > 0, `${panel.title} has targets`);
      for (const target of panel.targets ?? []) {
        assert.deepEqual(target.datasource, DATASOURCE, panel.title);
        const leftover = substituted(target.expr).match(/\$\S*/);
        assert.equal(leftover, null, `${panel.title} ${target.refId}: only $__rate_interval is used`);
      }
    }
    const titles = queried.map((p) => p.title).join("\n");
    for (const wanted of [
      /ADD and DEL calls/,
      /latency p50 \/ p99, by store/,
      /Errors, timeouts and declined/,
      /Conflicts/,
      /Retries per allocation/,
      /Pool utilisation/,
      /Free addresses/,
      /reclaimed/,
      /Leak age/,
      /rejected connections/,
      /Controller leader/,
      /Reconcile/,
    ])
      assert.match(titles, wanted);
  });

  it("every target of every panel is valid PromQL that returns data (a number, not only NaN)", async () => {
    const at = Date.now() / 1000;
    const failures: string[] = [];
    let targets = 0;
    for (const panel of allPanels(dashboard.panels)) {
      for (const target of panel.targets ?? []) {
        targets++;
        const expr = substituted(target.expr);
        const answer = await prometheus.query(expr, at);
        const what = `${panel.title} ${target.refId}: ${expr}`;
        if (answer.status !== "success") failures.push(`${what}: ${answer.error}`);
        else if (answer.samples.length === 0) failures.push(`${what}: no data`);
        else if (!answer.samples.some((s) => Number.isFinite(s.value)))
          failures.push(`${what}: only ${answer.samples.map((s) => s.value).join(", ")}`);
      }
    }
    assert.deepEqual(failures, [], `${failures.length} of ${targets} targets failed`);
    mark(`${targets} targets queried`);
  });

  it("the panels say what happened: one leader, the lost race, the malformed connection, the pool's use, the leak ages", async () => {
    const q = async (expr: string) => (await prometheus.query(expr)).samples;
    assert.equal(sum(await q("sum(thereabouts_leader)")), 1);
    assert.ok(
      sum(await q('thereabouts_agent_conflicts_total{store="kubernetes",operation="allocate"}')) >= 1,
      "the planted entry cost the agent's ADD a lost race",
    );
    assert.ok(sum(await q('thereabouts_agent_allocation_retries_bucket{store="kubernetes",le="0"}')) >= 4);
    assert.ok(
      sum(await q('thereabouts_agent_allocation_retries_sum{store="kubernetes"}')) >= 1,
      "and a retry",
    );
    assert.equal(sum(await q('thereabouts_agent_rejected_connections_total{reason="malformed"}')), 1);
    assert.equal(sum(await q('thereabouts_agent_rejected_connections_total{reason="peer"}')), 0);
    const errors = await q('thereabouts_agent_calls_total{command="ADD",store="kubernetes",result="error"}');
    assert.equal(sum(errors), 2, "both ADDs without a pod name, on the store they named");
    const entries = Object.keys(await poolEntries()).length;
    // The controller lists pools for its gauges at most every 5 s.
    await prometheus.waitFor(
      "the pool gauges to catch up",
      `thereabouts_pool_used{pool="${POOL}"}`,
      (samples) => samples[0]?.value === entries,
    );
    const [use] = await q(
      `max by (pool) (thereabouts_pool_used{pool="${POOL}"}) / max by (pool) (thereabouts_pool_size{pool="${POOL}"})`,
    );
    assert.ok(
      use !== undefined && Math.abs(use.value - entries / 254) < 1e-9,
      `utilisation ${use?.value} = ${entries}/254`,
    );
    const [free] = await q(`thereabouts_pool_free{pool="${POOL}"}`);
    assert.equal(free?.value, 254 - entries);
    // The deleted pod's address went within seconds of its deletion, the finished pod's ten
    // minutes after it ended (as its object says).
    assert.equal(sum(await q('thereabouts_leak_age_seconds_bucket{trigger="fast",le="15"}')), 1);
    assert.equal(sum(await q('thereabouts_leak_age_seconds_bucket{trigger="fast",le="900"}')), 2);
    assert.equal(sum(await q('thereabouts_leak_age_seconds_bucket{trigger="fast",le="300"}')), 1);
    assert.equal(sum(await q('thereabouts_addresses_reclaimed_total{trigger="fast"}')), 2);
  });

  it("300 bogus CNI_COMMANDs add no series: every label value comes from a fixed set", async () => {
    const series = async () =>
      sum(await prometheus.query('count({job="thereabouts-agent"})').then((a) => a.samples));
    const before = await series();
    assert.ok(before > 50, `${before} series`);
    for (let i = 1; i <= 300; i++) {
      const env = {
        CNI_COMMAND: `BOGUS-${i}-${"x".repeat(i % 7)}`,
        CNI_CONTAINERID: `c${i}`,
        CNI_IFNAME: `if${i}`,
      };
      const answer = await post(agent.socket, "/v1/cni", JSON.stringify({ env, stdin: "{}" }));
      assert.equal(answer.status, 200);
      assert.equal((JSON.parse(answer.body) as { code: number }).code, 1);
    }
    await prometheus.waitFor(
      "a scrape after the bogus calls",
      'thereabouts_agent_calls_total{command="other",store="none",result="error"}',
      (samples) => samples[0]?.value === 301,
    );
    assert.equal(await series(), before, "no new series");
    const text = await agentMetrics();
    assert.doesNotMatch(text, /BOGUS/);
    mark("bogus calls checked");
  });

  it("took a bounded time (Prometheus start and first scrape included)", (t) => {
    t.diagnostic(timings.join("; "));
    assert.ok(Date.now() - started < 60_000, timings.join("; "));
  });
});
