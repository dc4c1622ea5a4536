// Node agents simulated in one process, for the scale benchmark's thousands of nodes: per node, the
// store handles an agent keeps (WarmStores: its Kubernetes client and caching store) and the
// handlers an agent runs a forwarded call with (pluginHandlers + runPlugin, the node's name given
// as the agent gives it). No socket and no plugin process: what is measured is the agent's work
// and the API's, real HTTP to the double. The process runs under Bun, as the shipped agent does
// (bench/scale-agents.ts), driven by the benchmark over its stdin and stdout.
//
// What one process would share, the simulated agents share: ONE NodeSlicePool watch (the agent's
// view, src/agent/node-slice-view.ts) on a store of its own, where a real cluster runs one per
// node. So the API serves one LIST and one watch stream here instead of one per node, and each
// NodeSlicePool change is decoded once instead of once per node (docs/benchmarks.md says what
// that leaves out).
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { callIO } from "../src/agent/call-io.ts";
import { type NodeSliceView, watchedNodeSlices } from "../src/agent/node-slice-view.ts";
import { WarmStores } from "../src/agent/warm-stores.ts";
import { inParallel, type PluginOutcome } from "../src/cli/exec-plugin.ts";
import { pluginHandlers } from "../src/cni/plugin.ts";
import { runPlugin } from "../src/cni/skel.ts";
import { readOptionalFile } from "../src/files/config-file.ts";
import { openKubernetesStore } from "../src/store/kubernetes/kubernetes-store.ts";
import type { Store } from "../src/store/store.ts";
import { addressesOf, podArgs } from "../test/support/plugin.ts";
import { type Network, nodeName, type Reported, SCALE_NS } from "./scale-cluster.ts";

export interface SimulatedNode {
  readonly name: string;
  call(command: "ADD" | "DEL", config: string, pod: string, ifName: string): Promise<PluginOutcome>;
  close(): Promise<void>;
}

/** The one NodeSlicePool view of the simulated agents. */
export interface SharedNodeSlices {
  readonly view: NodeSliceView;
  close(): Promise<void>;
}

/** The shared view, on a store of its own opened from the networks' kubeconfig. */
export async function sharedNodeSlices(kubeconfig: string): Promise<SharedNodeSlices> {
  const store: Store = await openKubernetesStore(kubeconfig);
  const view = watchedNodeSlices(store, () => {});
  if (view === undefined) throw new Error("the shared NodeSlicePool view needs the Kubernetes store");
  return {
    view,
    async close() {
      view.close();
      await store.close();
    },
  };
}

export function simulatedNode(index: number, shared: SharedNodeSlices): SimulatedNode {
  const name = nodeName(index);
  const { view } = shared;
  // Every node's handles answer with the shared view; a node closing its handles leaves it open.
  const stores = new WarmStores({
    nodeSlices: () => ({
      getNodeSlicePool: (pool, options) => view.getNodeSlicePool(pool, options),
      claimNodeSlice: (pool, at, range, node, options) => view.claimNodeSlice(pool, at, range, node, options),
      close() {},
    }),
  });
  return {
    name,
    async call(command, config, pod, ifName) {
      const started = performance.now();
      const { io, output } = callIO({
        env: {
          CNI_COMMAND: command,
          CNI_CONTAINERID: `c-${pod}`,
          CNI_NETNS: `/var/run/netns/${pod}`,
          CNI_IFNAME: ifName.slice(0, 15),
          CNI_ARGS: podArgs(pod, SCALE_NS),
          CNI_PATH: "/opt/cni/bin",
        },
        stdin: config,
      });
      const code = await runPlugin(
        io,
        pluginHandlers(io, stores.access, { readFile: readOptionalFile, nodeName: name }),
      );
      return { code, signal: null, ...output(), ms: performance.now() - started };
    },
    close: () => stores.closeAll(),
  };
}

/** What the simulated agents are to do: which nodes, which networks, how many nodes at once. */
export interface AgentsSpec {
  readonly kubeconfig: string;
  /** n of each node-<n> that allocates. */
  readonly nodes: readonly number[];
  readonly networks: readonly Network[];
  /** Nodes calling at once in the ADD phase, and in the DEL phase. */
  readonly inFlight: { readonly ADD: number; readonly DEL: number };
  /** The DEL phase deletes the pods of every `delEvery`-th node only. */
  readonly delEvery: number;
}

/** One phase: every node's ADD (or DEL) on every network. */
export interface PhaseResult {
  readonly seconds: number;
  /** Per call. */
  readonly ms: number[];
  readonly reported: Reported[];
  readonly failures: string[];
}

/** Every node's call on every network, `inFlight` nodes at once, each its networks one after another. */
export async function everyNode(
  command: "ADD" | "DEL",
  nodes: readonly SimulatedNode[],
  nets: readonly Network[],
  inFlight: number,
): Promise<PhaseResult> {
  const ms: number[] = [];
  const reported: Reported[] = [];
  const failures: string[] = [];
  const t0 = performance.now();
  await inParallel(nodes, inFlight, async (node) => {
    for (const net of nets) {
      const o = await node.call(command, net.config, `pod-${node.name}`, `net-${net.name}`);
      ms.push(o.ms);
      if (o.code !== 0) failures.push(o.stdout);
      else if (command === "ADD")
        reported.push({ address: addressesOf(o)[0]!.split("/")[0]!, podRef: `${SCALE_NS}/pod-${node.name}` });
    }
  });
  return { seconds: (performance.now() - t0) / 1000, ms, reported, failures };
}

const BUN = join(import.meta.dirname, "..", "node_modules", "@oven", "bun-linux-x64", "bin", "bun");

/** The simulated agents' process, ready (its NodeSlicePool view listed and watching). */
export interface SimulatedAgents {
  readonly pid: number;
  run(command: "ADD" | "DEL"): Promise<PhaseResult>;
  close(): Promise<void>;
}

export async function startSimulatedAgents(spec: AgentsSpec): Promise<SimulatedAgents> {
  const child: ChildProcess = spawn(
    BUN,
    [join(import.meta.dirname, "scale-agents.ts"), JSON.stringify(spec)],
    {
      stdio: ["pipe", "pipe", "inherit"],
      env: { ...process.env, BUN_CONFIG_NO_AUTOLOAD: "1" },
    },
  );
  const lines: Interface = createInterface({ input: child.stdout! });
  const next = lines[Symbol.asyncIterator]();
  const answer = async (): Promise<unknown> => {
    const line = await next.next();
    if (line.done === true) throw new Error("the simulated agents' process ended");
    return JSON.parse(line.value);
  };
  await answer(); // ready
  return {
    pid: child.pid!,
    async run(command) {
      child.stdin!.write(`${command}\n`);
      return (await answer()) as PhaseResult;
    },
    async close() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.stdin!.end("close\n");
      await exited;
      lines.close();
    },
  };
}
