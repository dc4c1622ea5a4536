// The meta-plugin benchmark: pod ADD and DEL with three attachments (eth0 from the master delegate,
// net1..net3 from three NADs) through bin/multus, one process per pod as a runtime runs it, against
// the Kubernetes API double (its request log tells which requests each pod cost), with the Debian
// plugins in real network namespaces. Thin mode (the plugin alone) against agent-served mode (its
// calls handed to a `thereabouts agent`, which runs the delegates itself), bursts of pods at 8 and
// 16 in flight. Every run is checked: every address held once, network-status equal to what is in
// the namespaces, and after the DELs nothing left anywhere.
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { execPlugin, type PluginOutcome } from "../src/cli/exec-plugin.ts";
import { wrapText } from "../src/tools/migrate/report.ts";
import { type ApiDouble, type RequestCounts, startApiDouble } from "../test/k8s-api/harness.ts";
import { type AgentProcess, agentMetrics, startAgentProcess } from "../test/support/agent.ts";
import { type CpuTimes, cpuOf, machineCpu, memoryOf } from "./cpu.ts";
import { type BenchPod, BIN_DIR, MultusScene, NETWORKS, NODE } from "./multus-lab.ts";
import { fmt, type Sweep, sweep, sweepRow } from "./stats.ts";

const MULTUS = { file: join(BIN_DIR, "multus") };
const PODS = 150;
const IN_FLIGHT = [8, 16] as const;
const CORES = availableParallelism();
type Mode = "thin" | "agent";

/** Requests of one phase per pod, by what they are for. */
interface RequestMix {
  readonly getPod: number;
  readonly getNad: number;
  readonly status: number;
  readonly ipam: number;
  readonly other: number;
  readonly total: number;
  /** Kinds outside the four columns, for the record ("verb resource" → per pod). */
  readonly otherKinds: string;
}

function mixOf(counts: RequestCounts, pods: number): RequestMix {
  let getPod = 0;
  let getNad = 0;
  let status = 0;
  let ipam = 0;
  let other = 0;
  const otherKinds: string[] = [];
  for (const [kind, n] of Object.entries(counts.counts)) {
    const [verb, resource = ""] = kind.split(" ");
    if (verb === "get" && resource === "pods") getPod += n;
    else if (verb === "get" && resource.startsWith("network-attachment-definitions.")) getNad += n;
    else if (resource === "pods/status") status += n;
    else if (resource.endsWith(".whereabouts.cni.cncf.io")) ipam += n;
    else {
      other += n;
      otherKinds.push(`${kind} ${fmt(n / pods, 2)}`);
    }
  }
  return {
    getPod: getPod / pods,
    getNad: getNad / pods,
    status: status / pods,
    ipam: ipam / pods,
    other: other / pods,
    total: counts.total / pods,
    otherKinds: otherKinds.join(", "),
  };
}

/** CPU ms per pod of one phase, by who spent it. */
interface CpuSplit {
  /** The plugin processes and the delegates they ran themselves. */
  readonly plugins: number;
  readonly agent: number;
  /** The delegates the agent ran. */
  readonly agentDelegates: number;
  readonly api: number;
  readonly harness: number;
  /** All of it over (wall time × cores): 1.00 is every core busy throughout. */
  readonly busy: number;
  /** The same for every process of the machine (other work on it shows as the difference). */
  readonly machineBusy: number;
  /** The pods per second these CPU costs allow on every core of the machine. */
  readonly ceiling: number;
}

interface CpuMark {
  readonly self: CpuTimes;
  readonly harnessUs: number;
  readonly api: CpuTimes;
  readonly agent: CpuTimes;
  readonly machine: { busy: number; total: number };
  readonly at: number;
}

function mark(api: ApiDouble, agent: AgentProcess | undefined): CpuMark {
  const none: CpuTimes = { own: 0, children: 0 };
  return {
    self: cpuOf("self"),
    harnessUs: process.cpuUsage().user + process.cpuUsage().system,
    api: cpuOf(api.pid),
    agent: agent?.child.pid === undefined ? none : cpuOf(agent.child.pid),
    machine: machineCpu(),
    at: performance.now(),
  };
}

function split(a: CpuMark, b: CpuMark, pods: number, cores: number): CpuSplit {
  const plugins = b.self.children - a.self.children;
  const agent = b.agent.own - a.agent.own;
  const agentDelegates = b.agent.children - a.agent.children;
  const api = b.api.own - a.api.own;
  const harness = (b.harnessUs - a.harnessUs) / 1000;
  const all = plugins + agent + agentDelegates + api + harness;
  return {
    plugins: plugins / pods,
    agent: agent / pods,
    agentDelegates: agentDelegates / pods,
    api: api / pods,
    harness: harness / pods,
    busy: all / ((b.at - a.at) * cores),
    machineBusy: (b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total),
    ceiling: (cores * 1000 * pods) / all,
  };
}

interface Phase {
  readonly sweep: Sweep;
  readonly requests: RequestMix;
  readonly cpu: CpuSplit;
  /** Calls the agent ran, and those it turned back to their plugin (undefined: no agent, or no count). */
  readonly agentCalls?: { readonly ran: number; readonly turnedBack: number };
}

const CALLS_METRIC = /^thereabouts_agent_multus_calls_total\{([^}]*)\} (\S+)$/gm;

/**
 * The agent's count of meta-plugin calls by result (its /metrics). Declined and shed calls were run
 * by their plugin alone; an agent without the count gives undefined.
 */
async function agentCallCounts(agent: AgentProcess | undefined): Promise<Map<string, number> | undefined> {
  if (agent === undefined) return undefined;
  const byResult = new Map<string, number>();
  for (const [, labels = "", value] of (await agentMetrics(agent.socket)).matchAll(CALLS_METRIC)) {
    const result = /result="([^"]*)"/.exec(labels)?.[1] ?? "";
    byResult.set(result, (byResult.get(result) ?? 0) + Number(value));
  }
  return byResult.size === 0 ? undefined : byResult;
}

function callsBetween(
  a: Map<string, number> | undefined,
  b: Map<string, number> | undefined,
): Phase["agentCalls"] {
  if (a === undefined || b === undefined) return undefined;
  const delta = (...results: string[]) => results.reduce((n, r) => n + (b.get(r) ?? 0) - (a.get(r) ?? 0), 0);
  return { ran: delta("ok", "error", "timeout"), turnedBack: delta("declined", "shed") };
}

interface Run {
  readonly mode: Mode;
  readonly add: Phase;
  readonly del: Phase;
  readonly duplicates: number;
  readonly mismatches: number;
  readonly leftovers: number;
  readonly agentMemory?: { idleMiB: number; peakMiB: number };
}

function call(
  command: "ADD" | "DEL",
  scene: MultusScene,
  pod: BenchPod,
  socket: string,
): Promise<PluginOutcome> {
  return execPlugin(MULTUS, {
    command,
    config: scene.config(),
    containerId: pod.containerId,
    ifName: "eth0",
    netns: `/var/run/netns/${pod.netns}`,
    cniArgs: pod.cniArgs,
    env: { THEREABOUTS_AGENT_SOCKET: socket, CNI_PATH: "/usr/lib/cni" },
  });
}

async function phase(
  command: "ADD" | "DEL",
  scene: MultusScene,
  pods: readonly BenchPod[],
  inFlight: number,
  agent: AgentProcess | undefined,
  failed: string[],
): Promise<Phase> {
  const socket = agent?.socket ?? "/nonexistent";
  await scene.api.resetRequests();
  const callsBefore = await agentCallCounts(agent);
  const before = mark(scene.api, agent);
  const result = await sweep(
    async (i) => {
      const outcome = await call(command, scene, pods[i]!, socket);
      if (outcome.code !== 0 && failed.length < 3)
        failed.push(`${command} ${pods[i]!.name}: ${outcome.stdout}${outcome.stderr}`);
      return outcome;
    },
    pods.length,
    inFlight,
  );
  const after = mark(scene.api, agent);
  const agentCalls = callsBetween(callsBefore, await agentCallCounts(agent));
  return {
    sweep: result,
    requests: mixOf(await scene.api.requests(), pods.length),
    cpu: split(before, after, pods.length, CORES),
    ...(agentCalls === undefined ? {} : { agentCalls }),
  };
}

async function runOnce(
  scene: MultusScene,
  run: number,
  mode: Mode,
  inFlight: number,
  failed: string[],
): Promise<Run> {
  // The agent first, as on a node: the pods it serves are created (scheduled) while it runs.
  const agent = mode === "agent" ? await startAgentProcess() : undefined;
  const pid = agent?.child.pid;
  const idleMiB = pid === undefined ? 0 : memoryOf(pid).rssMiB;
  try {
    const pods = await scene.pods(run, PODS);
    const add = await phase("ADD", scene, pods, inFlight, agent, failed);
    const { duplicates, mismatches, missing } = await scene.checkAdded(pods);
    const del = await phase("DEL", scene, pods, inFlight, agent, failed);
    const leftovers = await scene.leftovers(pods);
    const memory = pid === undefined ? undefined : memoryOf(pid);
    return {
      mode,
      add,
      del,
      duplicates,
      mismatches: mismatches + missing,
      leftovers: leftovers + scene.removeNamespaces(pods),
      ...(memory === undefined ? {} : { agentMemory: { idleMiB, peakMiB: memory.peakMiB } }),
    };
  } finally {
    await agent?.stop();
  }
}

const LABEL: Record<Mode, string> = {
  thin: "pod ADD, 3 NADs, thin (plugin alone)",
  agent: "pod ADD, 3 NADs, agent-served",
};

export async function benchMultus(workdir: string): Promise<string> {
  const api = await startApiDouble({ seed: 13 });
  let scene: MultusScene | undefined;
  const runs: Run[] = [];
  const failed: string[] = [];
  // The agent serves the pods of its node ($NODENAME, else the host name): the pods' node here.
  const nodeName = process.env["NODENAME"];
  process.env["NODENAME"] = NODE;
  try {
    scene = await MultusScene.create(api, workdir);
    let run = 0;
    for (const inFlight of IN_FLIGHT)
      for (const mode of ["thin", "agent"] as const)
        runs.push(await runOnce(scene, run++, mode, inFlight, failed));
  } finally {
    if (nodeName === undefined) delete process.env["NODENAME"];
    else process.env["NODENAME"] = nodeName;
    scene?.dispose();
    await api.stop();
  }
  return report(runs, failed);
}

const HEADER = "| workload | in flight | pods/s | p50 ms | p99 ms | failures |\n|---|---|---|---|---|---|";

/** What bounds the figures, read from the runs at the lowest number in flight. */
function bounds(runs: readonly Run[]): string[] {
  const at = IN_FLIGHT[0];
  const thin = runs.find((r) => r.mode === "thin" && r.add.sweep.inFlight === at);
  const agent = runs.find((r) => r.mode === "agent" && r.add.sweep.inFlight === at);
  if (thin === undefined || agent === undefined) return [];
  const total = (c: CpuSplit) => c.plugins + c.agent + c.agentDelegates + c.api + c.harness;
  const t = thin.add.cpu;
  const a = agent.add.cpu;
  const text =
    `What bounds these figures (ADD at ${at} in flight): CPU (the machine's cores were busy ` +
    `${fmt(100 * Math.min(t.machineBusy, a.machineBusy), 0)}% of the time or more). Thin, a pod ADD costs ${fmt(total(t), 0)} ms of CPU in ` +
    `all (ceiling ${fmt(t.ceiling, 0)} pods/s on ${CORES} cores, ${fmt(thin.add.sweep.perSecond, 0)} measured), ` +
    `agent-served ${fmt(total(a), 0)} ms (ceiling ${fmt(a.ceiling, 0)}, ${fmt(agent.add.sweep.perSecond, 0)} measured). ` +
    "Each pod is 9 processes in both modes: `bin/multus` and its 8 delegates (bridge and macvlan twice each, " +
    "and the IPAM plugin each of them runs: host-local twice, `bin/whereabouts` twice). Agent-served, the " +
    `delegates' processes are ${fmt(a.agentDelegates, 0)} ms of it (${fmt((100 * a.agentDelegates) / total(a), 0)}%): ` +
    "CNI runs delegates as processes, so no meta-plugin design removes that share; the agent's own work is " +
    `${fmt(a.agent, 0)} ms, the process that hands the call over ${fmt(a.plugins, 0)} ms. The API double spends ` +
    `${fmt(t.api, 0)} ms (thin) and ${fmt(a.api, 0)} ms (agent-served) per pod: not the bound. Where "machine busy" ` +
    'is above "busy", other work on the machine took the difference: compare the CPU costs and ceilings then, ' +
    "not pods/s.";
  return wrapText(text, 110, "");
}

function report(runs: readonly Run[], failed: readonly string[]): string {
  const reqRow = (label: string, r: Run, m: RequestMix) =>
    `| ${label} | ${r.mode} | ${r.add.sweep.inFlight} | ${fmt(m.getPod, 2)} | ${fmt(m.getNad, 2)} | ${fmt(m.status, 2)} | ${fmt(m.ipam, 2)} | ${fmt(m.other, 2)} | ${fmt(m.total, 2)} |`;
  const agentMs = (r: Run, ms: number) => (r.mode === "thin" ? "–" : fmt(ms));
  const cpuRow = (label: string, r: Run, c: CpuSplit) =>
    `| ${label} | ${r.mode} | ${r.add.sweep.inFlight} | ${fmt(c.plugins)} | ${agentMs(r, c.agent)} | ${agentMs(r, c.agentDelegates)} | ${fmt(c.api)} | ${fmt(c.harness)} | ${fmt(c.busy, 2)} | ${fmt(c.machineBusy, 2)} | ${fmt(c.ceiling, 0)} |`;
  const others = runs.flatMap((r) =>
    (["add", "del"] as const)
      .filter((p) => r[p].requests.otherKinds !== "")
      .map((p) => `${p.toUpperCase()} ${r.mode} at ${r.add.sweep.inFlight}: ${r[p].requests.otherKinds}`),
  );
  const served = (r: Run, key: "ran" | "turnedBack") =>
    r.add.agentCalls === undefined || r.del.agentCalls === undefined
      ? "–"
      : `${r.add.agentCalls[key]} / ${r.del.agentCalls[key]}`;
  const memory = (r: Run, key: "idleMiB" | "peakMiB") =>
    r.agentMemory === undefined ? "–" : fmt(r.agentMemory[key]);
  return [
    "## Multus meta-plugin (API double, network namespaces)",
    "",
    `${PODS} pods per run, each \`k8s.v1.cni.cncf.io/networks: ${NETWORKS.join(",")}\`: eth0 from the master`,
    "delegate (bridge with host-local, in the configuration: no API), net1 a bridge with thereabouts IPAM on the",
    "Kubernetes store, net2 a macvlan with host-local, net3 a macvlan with thereabouts IPAM on the Kubernetes store",
    "(Debian bridge, macvlan, host-local; `bin/whereabouts` for thereabouts). `bin/multus` is run once per pod",
    "as a runtime runs it, into a network namespace of its own, against the API double (a separate process,",
    "plain HTTP, one for the whole section; its request log gives the counts). Thin: the plugin works alone,",
    "its thereabouts delegates too. Agent-served: the plugins hand their calls to one `thereabouts agent`",
    "(started per run), which resolves the pod and its NADs, runs the delegates and takes their IPAM calls.",
    "Each run: the ADDs of all pods, then the DELs, at the given number in flight.",
    "",
    HEADER,
    ...runs.map((r) => sweepRow(LABEL[r.mode], r.add.sweep)),
    ...runs.map((r) => sweepRow(`pod DEL, ${r.mode === "thin" ? "thin" : "agent-served"}`, r.del.sweep)),
    "",
    "API requests per pod (the double's counts; IPAM store: the thereabouts delegates' IP pool and reservation",
    "requests, both attachments together):",
    "",
    "| phase | mode | in flight | GET pod | GET NAD | pods/status | IPAM store | other | total |",
    "|---|---|---|---|---|---|---|---|---|",
    ...runs.map((r) => reqRow("ADD", r, r.add.requests)),
    ...runs.map((r) => reqRow("DEL", r, r.del.requests)),
    ...(others.length > 0 ? ["", ...wrapText(`Other requests: ${others.join("; ")}.`, 110, "")] : []),
    "",
    "Reference: Multus v4 thin, read from its source, makes per pod ADD one GET of the pod, one GET per NAD, then",
    "for network-status another GET of the pod and an update of pods/status (the NAD client library's newer",
    "versions read the pod once more before the update): 6 or 7 requests with 3 NADs before any IPAM (the issue",
    "counts 5: the pod once, a GET per NAD, one status update). Per DEL one GET of the pod; it leaves",
    "network-status as it is (thereabouts clears it: the PATCH in the DEL rows). Go Whereabouts' IPAM on the",
    "Kubernetes store adds 10 requests per ADD and 9 per DEL for each of its attachments (see the Kubernetes",
    "section): 20 and 18 for the two here. Multus' thick daemon reads pods and NADs from informer caches.",
    "",
    "CPU ms per pod, by process (from /proc: the plugin processes with the delegates they ran, the agent, the",
    "delegates the agent ran, the API double, this harness); busy: all of it over wall time × cores; machine",
    "busy: every process of the machine, from /proc/stat; CPU ceiling: the pods per second that CPU cost allows",
    `on ${CORES} cores:`,
    "",
    "| phase | mode | in flight | plugins | agent | agent's delegates | API double | harness | busy | machine busy | CPU ceiling pods/s |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    ...runs.map((r) => cpuRow("ADD", r, r.add.cpu)),
    ...runs.map((r) => cpuRow("DEL", r, r.del.cpu)),
    "",
    ...bounds(runs),
    "",
    ...wrapText(
      "Checked after every run: every address (in the namespaces and in the store) held by one " +
        "pod only, each pod's network-status equal to the addresses on its interfaces (and the " +
        "store holding as many entries as the namespaces have thereabouts addresses), and after the " +
        "DELs nothing left: no interface but lo in the namespaces, no network-status, no store " +
        "entry or reservation, no host-local address file, no scratch or result cache, no veth on " +
        "the bridges, no namespace after removal. Agent RSS: idle right after start, peak (VmHWM) " +
        "over the run. Calls the agent ran and those it turned back (declined or shed: their plugin ran " +
        "them alone), by its own metrics (–: an agent that does not count them).",
      110,
      "",
    ),
    "",
    "| mode | in flight | addresses held twice | status or store ≠ namespaces | leftovers after DEL | agent RSS idle MiB | agent RSS peak MiB | ADDs / DELs the agent ran | turned back to the plugin |",
    "|---|---|---|---|---|---|---|---|---|",
    ...runs.map(
      (r) =>
        `| ${r.mode} | ${r.add.sweep.inFlight} | ${r.duplicates} | ${r.mismatches} | ${r.leftovers} | ${memory(r, "idleMiB")} | ${memory(r, "peakMiB")} | ${served(r, "ran")} | ${served(r, "turnedBack")} |`,
    ),
    ...(failed.length > 0
      ? ["", "First failures:", "", ...failed.map((f) => `- ${f.trim().slice(0, 300)}`)]
      : []),
    "",
  ].join("\n");
}
