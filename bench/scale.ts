// Cluster-scale benchmarks on the API double with 5 ms added to every write: many nodes with an
// agent each (process per call), Whereabouts #313's one node with 128 pods × 16 networks, and
// thousands of simulated nodes allocating from node slices in one process. Every run ends with
// the checks: no address held twice (or reported but not stored), and after the DELs nothing left.
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { execPlugin, inParallel, type PluginOutcome } from "../src/cli/exec-plugin.ts";
import { wrapText } from "../src/tools/migrate/report.ts";
import { type Controller, WB } from "../test/controller/support.ts";
import type { ApiDouble } from "../test/k8s-api/harness.ts";
import { type AgentProcess, startAgentProcess } from "../test/support/agent.ts";
import { addressesOf, podArgs } from "../test/support/plugin.ts";
import {
  type CpuPerCall,
  cpuNow,
  cpuPerCall,
  createNads,
  createNodes,
  createPods,
  duplicatesIn,
  leftoversIn,
  type Network,
  network,
  nodeName,
  type Reported,
  requestCount,
  SCALE_NS,
  sliceWithController,
  startCluster,
  WRITE_MS,
} from "./scale-cluster.ts";
import { type SimulatedAgents, startSimulatedAgents } from "./scale-simulated.ts";
import { fmt, percentile, type Sweep, sweep } from "./stats.ts";

const PLUGIN = { file: join(import.meta.dirname, "..", "bin", "thereabouts") };

/** One attachment: a pod on a node, on a network. */
interface Attachment {
  readonly node: number;
  readonly pod: string;
  readonly network: Network;
}

const containerOf = (a: Attachment) => `c-${a.pod}`;

function pluginCall(command: "ADD" | "DEL", a: Attachment, socket: string): Promise<PluginOutcome> {
  return execPlugin(PLUGIN, {
    command,
    config: a.network.config,
    containerId: containerOf(a),
    ifName: `net-${a.network.name}`.slice(0, 15),
    netns: `/var/run/netns/${a.pod}`,
    cniArgs: podArgs(a.pod, SCALE_NS),
    env: { NODENAME: nodeName(a.node), THEREABOUTS_AGENT_SOCKET: socket },
  });
}

function reportedOf(attachments: readonly Attachment[], outcomes: readonly PluginOutcome[]): Reported[] {
  return outcomes.flatMap((o, i) =>
    o.code === 0
      ? [{ address: addressesOf(o)[0]!.split("/")[0]!, podRef: `${SCALE_NS}/${attachments[i]!.pod}` }]
      : [],
  );
}

/** What every run reports: the double's counts per call, CPU, and the checks after each phase. */
interface Checked {
  readonly perAdd: { total: number; writes: number };
  readonly perDel: { total: number; writes: number };
  readonly cpu: CpuPerCall;
  readonly duplicates: number;
  readonly leftovers: number;
  readonly firstFailure: string | undefined;
}

interface ProcessRun extends Checked {
  readonly label: string;
  readonly add: Sweep;
  readonly del: Sweep;
  readonly seconds: number;
}

/**
 * Process per call through one agent per node: ADD every attachment, check, DEL every one, check.
 * `prepare` runs after the nodes and agents are up and before the latency and the counts start.
 */
async function processRun(
  label: string,
  api: ApiDouble,
  nodes: number,
  attachments: readonly Attachment[],
  inFlight: number,
  controller: Controller | undefined,
): Promise<ProcessRun> {
  const agents: AgentProcess[] = [];
  try {
    // One agent per simulated node, as the DaemonSet runs them, each with its node's name.
    const started = await inParallel(
      Array.from({ length: nodes }, (_, n) => n),
      8,
      (n) => startAgentProcess(undefined, ["--node-name", nodeName(n)]),
    );
    agents.push(...started);
    await warmUp(agents, attachments);
    await api.setLatency({ writeMs: WRITE_MS });
    const pids = {
      agents: agents.map((a) => a.child.pid!),
      api: [api.pid],
      controller: controller === undefined ? [] : [controller.pid],
    };
    await api.resetRequests();
    const outcomes: PluginOutcome[] = [];
    const cpuBefore = cpuNow(pids);
    const t0 = performance.now();
    const add = await sweep(
      async (i) => {
        const a = attachments[i]!;
        outcomes[i] = await pluginCall("ADD", a, agents[a.node]!.socket);
        return outcomes[i]!;
      },
      attachments.length,
      inFlight,
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuPerCall(cpuBefore, cpuNow(pids), attachments.length);
    const addCounts = await requestCount(api);
    const dups = await duplicatesIn(api, reportedOf(attachments, outcomes));
    await api.resetRequests();
    const del = await sweep(
      (i) => pluginCall("DEL", attachments[i]!, agents[attachments[i]!.node]!.socket),
      attachments.length,
      inFlight,
    );
    const delCounts = await requestCount(api);
    const n = attachments.length;
    const failed = outcomes.find((o) => o.code !== 0);
    return {
      label,
      add,
      del,
      seconds,
      perAdd: { total: addCounts.total / n, writes: addCounts.writes / n },
      perDel: { total: delCounts.total / n, writes: delCounts.writes / n },
      cpu,
      duplicates: dups,
      leftovers: await leftoversIn(api),
      firstFailure:
        failed === undefined ? undefined : `${failed.stdout}${failed.stderr}`.trim().slice(0, 300),
    };
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
  }
}

/** ADD/DEL pairs each agent serves before the measured phase. */
const WARM_UP = 10;

/**
 * Steady state: a node's agent runs long before its pods come (a DaemonSet). Each agent first
 * serves WARM_UP ADD/DEL pairs of a pod of its own on its node's first network, not counted:
 * without them, the 20 ADDs each of 50 agents serves would mostly pay its own JIT warm-up.
 */
async function warmUp(agents: readonly AgentProcess[], attachments: readonly Attachment[]): Promise<void> {
  await inParallel(
    agents.map((_, n) => n),
    8,
    async (n) => {
      const first = attachments.find((a) => a.node === n);
      if (first === undefined) return;
      const warm = { node: n, pod: `warm-up-${n}`, network: first.network };
      for (let k = 0; k < WARM_UP; k++)
        for (const command of ["ADD", "DEL"] as const) {
          const outcome = await pluginCall(command, warm, agents[n]!.socket);
          if (outcome.code !== 0)
            throw new Error(
              `warm-up ${command} on ${nodeName(n)} failed: ${outcome.stdout}${outcome.stderr}`,
            );
        }
    },
  );
}

const MANY_NODES = 50;
const MANY_PODS = 1_000;
const MANY_IN_FLIGHT = 64;

/** 1,000 pods over 50 nodes, whole-range pool or node slices (the controller slicing). */
export async function manyNodes(sliced: boolean, overlapping = true): Promise<ProcessRun> {
  const api = await startCluster(31);
  let controller: Controller | undefined;
  try {
    await createNodes(api, MANY_NODES);
    await createPods(
      api,
      Array.from({ length: MANY_PODS }, (_, i) => ({ name: `pod-${i}`, node: i % MANY_NODES })),
    );
    const net = sliced
      ? network(api, "scale-sliced", "10.40.0.0/16", "/26", overlapping)
      : network(api, "scale-whole", "10.40.0.0/21", undefined, overlapping);
    if (sliced) {
      await createNads(api, [net]);
      controller = (await sliceWithController(api, [net], MANY_NODES, 30_000)).controller;
    }
    const attachments = Array.from({ length: MANY_PODS }, (_, i) => ({
      node: i % MANY_NODES,
      pod: `pod-${i}`,
      network: net,
    }));
    const label =
      (sliced ? "node slices (/26 of a /16)" : "whole-range pool (a /21)") +
      (overlapping ? "" : ", enable_overlapping_ranges off");
    return await processRun(label, api, MANY_NODES, attachments, MANY_IN_FLIGHT, controller);
  } finally {
    await controller?.kill("SIGTERM");
    await api.stop();
  }
}

const ISSUE_313_PODS = 128;
const ISSUE_313_NETWORKS = 16;
const ISSUE_313_IN_FLIGHT = 64;

/** Whereabouts #313: one node, 128 pods × 16 whole-range networks, through the node's agent. */
export async function issue313(): Promise<ProcessRun> {
  const api = await startCluster(32);
  try {
    await createNodes(api, 1);
    await createPods(
      api,
      Array.from({ length: ISSUE_313_PODS }, (_, i) => ({ name: `pod-${i}`, node: 0 })),
    );
    const nets = Array.from({ length: ISSUE_313_NETWORKS }, (_, k) =>
      network(api, `net${k}`, `10.${50 + k}.0.0/24`),
    );
    // Pod by pod, each pod's networks in order (as a meta-plugin attaches them), pods in parallel.
    const attachments = Array.from({ length: ISSUE_313_PODS * ISSUE_313_NETWORKS }, (_, i) => ({
      node: 0,
      pod: `pod-${Math.floor(i / ISSUE_313_NETWORKS)}`,
      network: nets[i % ISSUE_313_NETWORKS]!,
    }));
    return await processRun(
      `${ISSUE_313_PODS} pods × ${ISSUE_313_NETWORKS} networks, one node`,
      api,
      1,
      attachments,
      ISSUE_313_IN_FLIGHT,
      undefined,
    );
  } finally {
    await api.stop();
  }
}

export const SIM_NODES = 5_000;
export const SIM_NETWORKS = 10;
/** Simulated nodes allocating at once (each its networks one after another). */
const SIM_IN_FLIGHT = 200;
/** Simulated nodes deleting at once in the DEL phase. */
const SIM_DEL_IN_FLIGHT = SIM_IN_FLIGHT;
/** The DEL phase deletes the pods of every node (every `SIM_DEL_EVERY`-th). */
const SIM_DEL_EVERY = 1;

interface SimulatedRun extends Checked {
  readonly nodes: number;
  /** Nodes that allocated (the others hold their slices only). */
  readonly allocating: number;
  /** Nodes whose pods the DEL phase deleted. */
  readonly deleting: number;
  readonly networks: number;
  readonly slicingSeconds: number;
  /** Size of one NodeSlicePool as the API serves it. */
  readonly nodeSlicePoolBytes: number;
  /** The double's requests while the controller sliced (its start-up lists and watches included). */
  readonly slicingRequests: { total: number; writes: number };
  readonly addSeconds: number;
  readonly delSeconds: number;
  readonly addP50: number;
  readonly addP99: number;
  readonly failures: number;
}

/**
 * `nodeCount` nodes × `networkCount` sliced networks: the controller slices every network for
 * every node; then `allocating` of the nodes (spread evenly over them) ADD one pod on every
 * network, and DEL it.
 */
export async function simulated(
  nodeCount: number,
  networkCount: number,
  allocating: number,
  overlapping = true,
): Promise<SimulatedRun> {
  const api = await startCluster(33);
  let controller: Controller | undefined;
  let agents: SimulatedAgents | undefined;
  const step = Math.floor(nodeCount / allocating);
  const allocatingNodes = Array.from({ length: nodeCount }, (_, n) => n)
    .filter((n) => n % step === 0)
    .slice(0, allocating);
  try {
    await createNodes(api, nodeCount);
    await createPods(
      api,
      allocatingNodes.map((n) => ({ name: `pod-${nodeName(n)}`, node: n })),
    );
    // /29 slices of a /16: 8,192 slices (6 addresses each), enough for every node.
    const nets = Array.from({ length: networkCount }, (_, k) =>
      network(api, `sim${k}`, `10.${100 + k}.0.0/16`, "/29", overlapping),
    );
    await createNads(api, nets);
    await api.setLatency({ writeMs: WRITE_MS });
    await api.resetRequests();
    const sliced = await sliceWithController(api, nets, nodeCount, 120_000);
    controller = sliced.controller;
    const slicing = await requestCount(api);
    const nodeSlicePoolBytes = (await api.request("GET", `${WB}/nodeslicepools/${nets[0]!.name}`)).body
      .length;
    agents = await startSimulatedAgents({
      kubeconfig: api.kubeconfigPath(SCALE_NS),
      nodes: allocatingNodes,
      networks: nets,
      inFlight: { ADD: SIM_IN_FLIGHT, DEL: SIM_DEL_IN_FLIGHT },
      delEvery: SIM_DEL_EVERY,
    });
    const pids = { agents: [agents.pid], api: [api.pid], controller: [controller.pid] };
    await api.resetRequests();
    const cpuBefore = cpuNow(pids);
    const add = await agents.run("ADD");
    const n = allocatingNodes.length * networkCount;
    const cpu = cpuPerCall(cpuBefore, cpuNow(pids), n);
    const addCounts = await requestCount(api);
    const dups = await duplicatesIn(api, add.reported);
    await api.resetRequests();
    const del = await agents.run("DEL");
    const delCounts = await requestCount(api);
    const deleted = allocatingNodes.filter((_, i) => i % SIM_DEL_EVERY === 0);
    const dels = deleted.length * networkCount;
    return {
      nodes: nodeCount,
      allocating: allocatingNodes.length,
      networks: networkCount,
      slicingSeconds: sliced.seconds,
      slicingRequests: slicing,
      nodeSlicePoolBytes,
      addSeconds: add.seconds,
      delSeconds: del.seconds,
      addP50: percentile(add.ms, 50),
      addP99: percentile(add.ms, 99),
      failures: add.failures.length + del.failures.length,
      perAdd: { total: addCounts.total / n, writes: addCounts.writes / n },
      deleting: deleted.length,
      perDel: { total: delCounts.total / dels, writes: delCounts.writes / dels },
      cpu,
      duplicates: dups,
      leftovers: await leftoversIn(api, new Set(deleted.map((n) => `${SCALE_NS}/pod-${nodeName(n)}`))),
      firstFailure: [
        ...add.failures.map((f) => `ADD: ${f}`),
        ...del.failures.map((f) => `DEL: ${f}`),
      ][0]?.slice(0, 300),
    };
  } finally {
    await agents?.close();
    await controller?.kill("SIGTERM");
    await api.stop();
  }
}

/** Nodes of the simulated section that allocate: all of them. */
const SIM_ALLOCATING = SIM_NODES;

export async function benchScale(): Promise<string> {
  const whole = await manyNodes(false);
  const sliced = await manyNodes(true);
  const slicedAlone = await manyNodes(true, false);
  const shape313 = await issue313();
  const sim = await simulated(SIM_NODES, SIM_NETWORKS, SIM_ALLOCATING);
  const simAlone = await simulated(SIM_NODES, SIM_NETWORKS, SIM_ALLOCATING, false);
  return report([whole, sliced, slicedAlone], shape313, sim, simAlone);
}

function cpuText(cpu: CpuPerCall): string {
  const parts = Object.entries(cpu.byProcess)
    .filter(([, ms]) => ms >= 0.05)
    .map(([who, ms]) => `${who} ${fmt(ms)}`);
  return `${parts.join(", ")}; all ${fmt(cpu.total)} ms (CPU ceiling ${fmt(cpu.ceiling, 0)} ADDs/s on ${availableParallelism()} cores), machine busy ${fmt(100 * cpu.machineBusy, 0)}%, load average ${fmt(cpu.load, 1)}`;
}

/** What bounds the process-per-call figures, from their CPU split. */
function processBounds(
  whole: ProcessRun,
  sliced: ProcessRun,
  alone: ProcessRun,
  shape313: ProcessRun,
): string {
  const c = sliced.cpu.byProcess;
  const w = whole.cpu.byProcess;
  const s = shape313.cpu.byProcess;
  return (
    "What bounds these: CPU. With node slices the ADDs ran at " +
    `${fmt(sliced.add.perSecond, 0)}/s against a CPU ceiling of ${fmt(sliced.cpu.ceiling, 0)}/s, the machine ` +
    `${fmt(100 * sliced.cpu.machineBusy, 0)}% busy: per ADD the plugin process costs ${fmt(c["plugins"] ?? 0)} ms ` +
    `(a Bun start that hands the call over), the agents ${fmt(c["agents"] ?? 0)} ms, the API double ` +
    `${fmt(c["api"] ?? 0)} ms. A sliced ADD no longer reads the NodeSlicePool (the agent's watch answers it): ` +
    `${fmt(sliced.perAdd.total, 2)} requests per ADD. Each agent served ${WARM_UP} ADD/DEL pairs before the ` +
    `measured phase (a DaemonSet's agent runs long before its pods come); without them each of the ${MANY_NODES} ` +
    `agents' ${MANY_PODS / MANY_NODES} ADDs mostly paid its own JIT warm-up (measured 2026-12-05 cold: agents ` +
    "6.4 ms per ADD, p99 1249 ms on a quiet machine). Whole-range, the agents spend " +
    `${fmt(w["agents"] ?? 0)} ms per ADD; the one agent of the #313 run, serving ` +
    `${(ISSUE_313_PODS * ISSUE_313_NETWORKS).toLocaleString("en-US")}, ${fmt(s["agents"] ?? 0)} ms. ` +
    `${MANY_NODES} nodes' plugins and agents share ${availableParallelism()} cores here; on a real cluster each ` +
    "node's run on that node's cores, so the next step for this figure is more machine, or less CPU per " +
    "plugin start and per agent call (a warm agent spends about 2.5 ms on a sequential call: its HTTP requests, " +
    "the configuration's decoding, the decision; no one part dominates). The load averages count the run's own " +
    "processes (64 plugins in flight, the agents, the API double). " +
    "Whole-range, every node writes " +
    `one pool: ${fmt(whole.perAdd.writes, 2)} writes per ADD (commits that lost the race are retried) and the ` +
    `API double's CPU grows with the pool (${fmt(w["api"] ?? 0)} ms per ADD against ${fmt(c["api"] ?? 0)} sliced), ` +
    `so p99 is ${fmt(whole.add.p99, 0)} ms against ${fmt(sliced.add.p99, 0)}. The #313 run is bound by plugin ` +
    `starts: ${fmt(s["plugins"] ?? 0)} of its ${fmt(shape313.cpu.total)} ms per ADD. Writes: without contention an ADD ` +
    "writes twice, the pool entry and the address's OverlappingRangeIPReservation (Go's format, one object per " +
    "address, which is what keeps a network whole on some nodes and sliced on others, and Go nodes, from " +
    "handing out an address twice); with `enable_overlapping_ranges` off only the entry: " +
    `${fmt(alone.perAdd.writes, 2)} writes per ADD (p99 ${fmt(alone.add.p99, 0)} ms). The agent groups concurrent ` +
    `commits to one pool into one write, but ${MANY_IN_FLIGHT} calls in flight over ${MANY_NODES} nodes are about ` +
    `${fmt(MANY_IN_FLIGHT / MANY_NODES, 1)} per agent at a time, too few to group here (the #313 run, one node: ` +
    `${fmt(shape313.perAdd.writes, 2)}). With overlapping ranges on, ≤ 1 write per ADD cannot be had in Go's ` +
    "format: each address's reservation is an object of its own, which the API creates one per request and " +
    "Go's plugins read one object per address, and the entry must be written too (Go's plugins and controller " +
    "read the slice pool), so an ADD writes at least 1 + (its share of a grouped entry write). The target is " +
    `met with \`enable_overlapping_ranges\` off (${fmt(alone.perAdd.writes, 2)} writes per ADD, the row above), ` +
    "the setting for a sliced network whose range no other network shares; there the slicing keeps pods " +
    "apart, and the controller never offers a slice another pool of the network holds an address in (a " +
    "re-slice's old slice pools, a whole-range pool), which Go's re-slice does (docs/node-slices.md, " +
    '"Without overlapping-range reservations").'
  );
}

function simulatedBounds(sim: SimulatedRun, simAlone: SimulatedRun): string {
  const adds = sim.allocating * sim.networks;
  const rate = adds / sim.addSeconds;
  const all = sim.nodes * sim.networks;
  const c = sim.cpu.byProcess;
  const api = c["api"] ?? 0;
  return (
    `What bounds this: CPU, on ${availableParallelism()} cores shared by the simulated agents' process, the API ` +
    `double and the controller: per ADD the agents spend ${fmt(c["agents"] ?? 0)} ms, the API double ${fmt(api)} ms, ` +
    `the controller ${fmt(c["controller"] ?? 0)} ms (it watches the slice pools the ADDs create); all ` +
    `${fmt(sim.cpu.total)} ms, a ceiling of ${fmt(sim.cpu.ceiling, 0)} ADDs/s; ${fmt(rate, 0)}/s were measured, the ` +
    `machine ${fmt(100 * sim.cpu.machineBusy, 0)}% busy. A call no longer reads the NodeSlicePool: the agents' ` +
    `watch answers it (before, every call GOT and decoded its ${fmt(sim.nodeSlicePoolBytes / 1024, 0)} KiB, 6.6 ms ` +
    "of an agent's CPU per ADD, so 250 nodes' 2,500 allocations were all this run could do), and an ADD is the " +
    `slice pool's GET (404 for a node's first pod), its POST and the address's reservation: ${fmt(sim.perAdd.total, 2)} ` +
    `requests and ${fmt(sim.perAdd.writes, 2)} writes per ADD; without the reservations (the second row) ` +
    `${fmt(simAlone.perAdd.total, 2)} requests and ${fmt(simAlone.perAdd.writes, 2)} writes, at ` +
    `${fmt((simAlone.allocating * simAlone.networks) / simAlone.addSeconds, 0)} ADDs/s. The agents run under Bun, as the shipped agent ` +
    "does (under Node the same work costs about 2.5 times the CPU, mostly its fetch). On a real cluster each " +
    "agent spends its share on its own node; what stays shared is the API: " +
    `${fmt(api)} ms of the double's CPU per ADD (${fmt((all * api) / 1000, 0)} s of one core for all ` +
    `${all.toLocaleString("en-US")}), and one NodeSlicePool watch per agent, which sends every change (a slice ` +
    `assigned or claimed) to all ${sim.nodes.toLocaleString("en-US")} agents, where the simulation shares one. ` +
    `DELs: every node's pods, ${(sim.deleting * sim.networks).toLocaleString("en-US")} DELs ${SIM_DEL_IN_FLIGHT} at ` +
    `once, took ${fmt(sim.delSeconds, 1)} s (${fmt((sim.deleting * sim.networks) / sim.delSeconds, 0)}/s, ` +
    `${fmt(sim.perDel.total, 2)} requests each): a DEL drops its reservation by name and owner label, one ` +
    "deletecollection the API serves by reading the one key the name pins, so it costs the same at any number " +
    "of reservations. Before 2026-12-05 a DEL dropped its owner's reservations by owner label alone, which the " +
    "API serves by reading every reservation of the namespace (labels are not indexed, on a real API server " +
    "either): 1,000 DELs 8 at once took 46 s then, and 5,000 of them 16 at once 349 s, some timing out. " +
    "The controller is not the bound: it sliced " +
    `${sim.networks} networks for ${sim.nodes.toLocaleString("en-US")} nodes in ${fmt(sim.slicingSeconds)} s with ` +
    `${sim.slicingRequests.writes} writes (one per NodeSlicePool)${sim.slicingRequests.writes > sim.networks ? " and its Lease" : ""}.`
  );
}

function simRow(sim: SimulatedRun, reservations: string): string {
  const adds = sim.allocating * sim.networks;
  const dels = sim.deleting * sim.networks;
  return `| ${sim.nodes} × ${sim.networks} | ${reservations} | ${sim.allocating} | ${fmt(sim.slicingSeconds)} | ${fmt(sim.addSeconds)} | ${fmt(adds / sim.addSeconds, 0)} | ${fmt(sim.addP50)} | ${fmt(sim.addP99)} | ${fmt(sim.perAdd.total, 2)} | ${fmt(sim.perAdd.writes, 2)} | ${dels.toLocaleString("en-US")} | ${fmt(sim.delSeconds)} | ${fmt(dels / sim.delSeconds, 0)} | ${fmt(sim.perDel.total, 2)} | ${sim.failures} | ${sim.duplicates} | ${sim.leftovers} |`;
}

function report(
  runs: readonly ProcessRun[],
  shape313: ProcessRun,
  sim: SimulatedRun,
  simAlone: SimulatedRun,
): string {
  const [whole, sliced, alone] = runs as [ProcessRun, ProcessRun, ProcessRun];
  const row = (r: ProcessRun) =>
    `| ${r.label} | ${r.add.inFlight} | ${fmt(r.seconds)} | ${fmt(r.add.perSecond, 0)} | ${fmt(r.add.p50)} | ${fmt(r.add.p99)} | ${r.add.failures} | ${fmt(r.perAdd.total, 2)} | ${fmt(r.perAdd.writes, 2)} | ${fmt(r.del.perSecond, 0)} | ${fmt(r.perDel.total, 2)} | ${fmt(r.perDel.writes, 2)} | ${r.del.failures} | ${r.duplicates} | ${r.leftovers} |`;
  const header =
    "| workload | in flight | ADD s | ADDs/s | ADD p50 ms | ADD p99 ms | ADD failures | requests per ADD | writes per ADD | DELs/s | requests per DEL | writes per DEL | DEL failures | duplicates | leftovers |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|";
  const failures = [...runs, shape313]
    .filter((r) => r.firstFailure !== undefined)
    .map((r) => `- ${r.label}: ${r.firstFailure}`);
  if (sim.firstFailure !== undefined) failures.push(`- simulated nodes: ${sim.firstFailure}`);
  if (simAlone.firstFailure !== undefined)
    failures.push(`- simulated nodes, overlapping ranges off: ${simAlone.firstFailure}`);
  const simAdds = sim.allocating * sim.networks;
  return [
    "## Cluster scale (API double, writes +5 ms)",
    "",
    ...wrapText(
      `Every run: a fresh API double with ${WRITE_MS} ms added to every write (as in the Kubernetes section), Node ` +
        "objects for the simulated nodes and a Pod object for every pod (the controller frees the addresses of " +
        "pods the API does not know); requests and writes are the double's counts over the phase, the " +
        "controller's and the agents' included; CPU per ADD by process from /proc. After the ADDs every pool " +
        "is read raw (no address held twice, every reported address stored for its pod); after the DELs nothing " +
        "may be left (no entry, no reservation).",
      110,
      "",
    ),
    "",
    ...wrapText(
      `**Many nodes.** ${MANY_PODS.toLocaleString("en-US")} pods over ${MANY_NODES} simulated nodes, process per call (bin/thereabouts), one ` +
        "`thereabouts agent --node-name node-<n>` process per node on a socket of its own, each pod's plugin " +
        `handing its call to its node's agent; ${MANY_IN_FLIGHT} in flight. Whole-range: one IPPool for the network. ` +
        "Node slices: a NAD with `node_slice_size`, `thereabouts controller` running, which creates the " +
        "NodeSlicePool and gives every node a slice before the ADDs start (the simulated section times that). " +
        `Before the measured phase each agent serves ${WARM_UP} ADD/DEL pairs of a pod of its own (steady state: ` +
        "a node's agent runs long before its pods come), not counted.",
      110,
      "",
    ),
    "",
    ...wrapText(
      `**Whereabouts #313.** One node, ${ISSUE_313_PODS} pods × ${ISSUE_313_NETWORKS} whole-range networks = ` +
        `${(ISSUE_313_PODS * ISSUE_313_NETWORKS).toLocaleString("en-US")} ADDs, process per call through the node's agent, pod by pod with ` +
        `each pod's networks in order, ${ISSUE_313_IN_FLIGHT} in flight.`,
      110,
      "",
    ),
    "",
    header,
    ...runs.map(row),
    row(shape313),
    "",
    "CPU ms per ADD by process (plugins: the plugin processes; agents: all node agents; api: the API double):",
    "",
    ...[...runs, shape313].map((r) => `- ${r.label}: ${cpuText(r.cpu)}.`),
    "",
    ...wrapText(processBounds(whole, sliced, alone, shape313), 110, ""),
    "",
    ...wrapText(
      "Reference: Go Whereabouts v0.6.3 on this harness (Kubernetes section, issue #3): with 5 ms per write " +
        "and 32 in flight 8 ADDs/s, p99 22.8 s, 10 requests per ADD (every ADD of the cluster serialised on one " +
        "Lease). At that rate the #313 shape's 2,048 ADDs take about 4 min (the issue: pods miss kubelet's " +
        "4-minute sandbox timeout). Targets: ≥ 80 ADDs/s (10× Go) with p99 ≤ 1 s and ≤ 1 write per ADD " +
        `amortised over ${MANY_NODES} nodes; ≤ 30 s for the #313 shape.`,
      110,
      "",
    ),
    "",
    ...wrapText(
      `**Simulated nodes.** ${sim.nodes.toLocaleString("en-US")} nodes × ${sim.networks} sliced networks (/29 ` +
        "slices of a /16 each: 8,192 slices) × 1 pod, every node allocating: " +
        `${simAdds.toLocaleString("en-US")} allocations. \`thereabouts controller\` slices the networks for every ` +
        "node (timed from its start until every node holds a slice of every network). The node agents are " +
        "simulated in one process run by Bun, as the shipped agent is (bench/scale-agents.ts): per node one " +
        "`WarmStores` (the agent's store handles: its Kubernetes client and caching store), each call run through " +
        "the agent's in-process handlers (`pluginHandlers` and `runPlugin`, the node's name given as an agent gives " +
        `it), real HTTP to the double; ${SIM_IN_FLIGHT} nodes at once, each its networks one after another. What ` +
        "the simulated agents share, as one process would: ONE NodeSlicePool watch (the agent's view, listed " +
        "before the ADDs start, as on nodes whose agents run already), where a real cluster has one per agent " +
        "(what that costs is said below). DELs: every node's pods, and nothing may be left. Run twice: with the " +
        "overlapping-range reservations (the default) and without (`enable_overlapping_ranges: false`).",
      110,
      "",
    ),
    "",
    "| nodes × networks | overlapping-range reservations | allocating nodes | controller slicing s | ADD s | ADDs/s | ADD p50 ms | ADD p99 ms | requests per ADD | writes per ADD | DELs | DEL s | DELs/s | requests per DEL | failures | duplicates | leftovers |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    simRow(sim, "on"),
    simRow(simAlone, "off"),
    "",
    `CPU ms per ADD (agents: the simulated agents' process; harness: the benchmark driving it), reservations on: ${cpuText(sim.cpu)}; off: ${cpuText(simAlone.cpu)}.`,
    "",
    ...wrapText(simulatedBounds(sim, simAlone), 110, ""),
    "",
    ...wrapText(
      "Target (Whereabouts' Fast IPAM proposal): 5,000 nodes × 10 networks × 1 pod, all 50,000 allocations " +
        "in ≤ 60 s. At Go v0.6.3's 8 ADDs/s on this harness they would take about 104 minutes; Go v0.9's node slices " +
        "were not measured here.",
      110,
      "",
    ),
    ...(failures.length > 0 ? ["", "First failures:", "", ...failures] : []),
    "",
  ].join("\n");
}
