// The simulated cluster the scale benchmarks run in: the API double with Node objects, NADs for
// the networks, the controller (bin/thereabouts controller, which slices sliced networks for the
// nodes), request accounting split into reads and writes, CPU by process, and the checks every run
// ends with (no address held twice, nothing left after the DELs).
import { availableParallelism, loadavg } from "node:os";
import { inParallel } from "../src/cli/exec-plugin.ts";
import {
  type Controller,
  createPod,
  expectOk,
  NS,
  startController,
  WB,
  waitFor,
} from "../test/controller/support.ts";
import { isWrite } from "../test/k8s-api/faults.ts";
import { type ApiDouble, startApiDouble } from "../test/k8s-api/harness.ts";
import { holdings, rawObjects } from "../test/kubernetes/go-view.ts";
import { cpuOf, machineCpu } from "./cpu.ts";
import { duplicates } from "./kubernetes.ts";

/** Every object of the scale runs lives here: the controller's namespace is the pools' namespace. */
export const SCALE_NS = NS;
/** Added to every write before it commits, as in the Kubernetes section (a stand-in for etcd). */
export const WRITE_MS = 5;
/** Setup requests (nodes, NADs) in flight at once. */
const SETUP_IN_FLIGHT = 64;

export interface Network {
  /** NAD name, network name and network_name. */
  readonly name: string;
  /** The network's CNI configuration as a NAD carries it and a plugin gets it. */
  readonly config: string;
}

/**
 * A macvlan network on the Kubernetes datastore of `api`, whole-range or sliced; `overlapping`
 * false turns enable_overlapping_ranges off (no OverlappingRangeIPReservation per address).
 */
export function network(
  api: ApiDouble,
  name: string,
  range: string,
  sliceSize?: string,
  overlapping = true,
): Network {
  const ipam = {
    type: "thereabouts",
    datastore: "kubernetes",
    kubernetes: { kubeconfig: api.kubeconfigPath(SCALE_NS) },
    range,
    network_name: name,
    ...(sliceSize === undefined ? {} : { node_slice_size: sliceSize }),
    ...(overlapping ? {} : { enable_overlapping_ranges: false }),
  };
  return {
    name,
    config: JSON.stringify({ cniVersion: "1.0.0", name, type: "macvlan", master: "eth0", ipam }),
  };
}

export const nodeName = (n: number): string => `node-${n}`;

export async function startCluster(seed: number): Promise<ApiDouble> {
  return startApiDouble({ seed });
}

export async function createNodes(api: ApiDouble, count: number): Promise<void> {
  await inParallel(
    Array.from({ length: count }, (_, n) => nodeName(n)),
    SETUP_IN_FLIGHT,
    async (name) =>
      expectOk(
        await api.request("POST", "/api/v1/nodes", { apiVersion: "v1", kind: "Node", metadata: { name } }),
      ),
  );
}

/**
 * The pods, running on their nodes: the controller frees the addresses of pods the API does not
 * know, so every attachment's pod exists as in a real cluster.
 */
export async function createPods(
  api: ApiDouble,
  pods: readonly { name: string; node: number }[],
): Promise<void> {
  await inParallel(pods, SETUP_IN_FLIGHT, (p) =>
    createPod(api, SCALE_NS, p.name, { nodeName: nodeName(p.node) }),
  );
}

export async function createNads(api: ApiDouble, networks: readonly Network[]): Promise<void> {
  for (const n of networks)
    expectOk(
      await api.request(
        "POST",
        `/apis/k8s.cni.cncf.io/v1/namespaces/${SCALE_NS}/network-attachment-definitions`,
        {
          apiVersion: "k8s.cni.cncf.io/v1",
          kind: "NetworkAttachmentDefinition",
          metadata: { name: n.name },
          spec: { config: n.config },
        },
      ),
    );
}

/** The controller, started now; resolves once every node holds a slice of every sliced network. */
export async function sliceWithController(
  api: ApiDouble,
  networks: readonly Network[],
  nodes: number,
  timeoutMs: number,
): Promise<{ controller: Controller; seconds: number }> {
  const started = performance.now();
  const controller = await startController(api);
  const sliced = async (n: Network) => {
    const r = await api.request("GET", `${WB}/nodeslicepools/${n.name}`);
    if (r.status !== 200) return false;
    const allocations = (JSON.parse(r.body) as { status?: { allocations?: { nodeName: string }[] } }).status
      ?.allocations;
    return new Set((allocations ?? []).map((a) => a.nodeName).filter((x) => x !== "")).size >= nodes;
  };
  try {
    for (const n of networks)
      await waitFor(`the controller slicing ${n.name} for ${nodes} nodes`, () => sliced(n), timeoutMs);
  } catch (e) {
    await controller.kill("SIGKILL");
    throw e;
  }
  return { controller, seconds: (performance.now() - started) / 1000 };
}

/** Requests the double served since its last reset: all of them, and the writes among them. */
export async function requestCount(api: ApiDouble): Promise<{ total: number; writes: number }> {
  const { total, counts } = await api.requests();
  let writes = 0;
  for (const [kind, n] of Object.entries(counts)) if (isWrite(kind.split(" ")[0]!)) writes += n;
  return { total, writes };
}

/** An address reported to a pod on a network, for the duplicate check. */
export interface Reported {
  readonly address: string;
  readonly podRef: string;
}

/** Addresses held twice or reported but not stored for their pod, over all pools of the namespace. */
export async function duplicatesIn(api: ApiDouble, reported: readonly Reported[]): Promise<number> {
  const stored = holdings(await rawObjects(api, SCALE_NS)).map((h) => ({
    address: h.address,
    podRef: h.allocation.podRef,
  }));
  return duplicates(reported, stored);
}

/**
 * Entries and reservations left in the namespace (after every DEL: none); with `of`, only those of
 * these pods (namespace/name).
 */
export async function leftoversIn(api: ApiDouble, of?: ReadonlySet<string>): Promise<number> {
  const after = await rawObjects(api, SCALE_NS);
  const counted = (podRef: string) => of === undefined || of.has(podRef);
  return (
    holdings(after).filter((h) => counted(h.allocation.podRef)).length +
    after.reservations.filter((r) => counted(r.spec.podref ?? "")).length
  );
}

/** CPU ms so far of named processes (and the machine's), for what-bounds-the-figure lines. */
export interface CpuMark {
  readonly byProcess: Readonly<Record<string, number>>;
  readonly machine: { readonly busy: number; readonly total: number };
  /** The 1-minute load average: the machine may be shared with work other than the run's. */
  readonly load: number;
}

export function cpuNow(pids: Readonly<Record<string, readonly number[]>>): CpuMark {
  const self = cpuOf("self");
  // The plugin processes this harness ran and reaped are its children's time.
  const byProcess: Record<string, number> = { harness: self.own, plugins: self.children };
  for (const [who, list] of Object.entries(pids))
    byProcess[who] = list.reduce((sum, pid) => sum + cpuOf(pid).own, 0);
  return { byProcess, machine: machineCpu(), load: loadavg()[0]! };
}

/** CPU spent between two marks. */
export interface CpuPerCall {
  /** ms per call, by process. */
  readonly byProcess: Readonly<Record<string, number>>;
  /** All of it, ms per call. */
  readonly total: number;
  /** The machine's cores busy over the phase (every process of the machine), 0..1. */
  readonly machineBusy: number;
  /** The calls per second that CPU cost allows on every core of the machine. */
  readonly ceiling: number;
  /** The 1-minute load average at the phase's end (other work on the machine included). */
  readonly load: number;
}

export function cpuPerCall(a: CpuMark, b: CpuMark, calls: number): CpuPerCall {
  const byProcess = Object.fromEntries(
    Object.keys(b.byProcess).map((k) => [k, ((b.byProcess[k] ?? 0) - (a.byProcess[k] ?? 0)) / calls]),
  );
  const total = Object.values(byProcess).reduce((x, y) => x + y, 0);
  return {
    byProcess,
    total,
    machineBusy: (b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total),
    ceiling: (availableParallelism() * 1000) / total,
    load: b.load,
  };
}
