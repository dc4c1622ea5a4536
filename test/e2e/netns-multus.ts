// The meta-plugin in the namespace lab: bin/multus run by the lab as a runtime runs it (inside the
// pod's node namespace, CNI protocol, a Multus configuration whose master delegate is a bridge with
// host-local per node), with the Kubernetes API double holding the pods and the
// NetworkAttachmentDefinitions. The double listens on 127.0.0.1 in the test's own namespace; each
// node reaches it at the same URL through a relay (fixtures/api-relay.ts) over a unix socket in the
// lab directory, so the kubeconfig, its CA and the double stay exactly as the other tests use them.
//
// Two modes, as a cluster runs the meta-plugin: thin (bin/multus does the work itself) and agent
// (each node runs its node agent, netns-agent.ts, which serves the node's bin/multus calls and runs
// their delegates). In agent mode every call is checked to have been served by the node's agent
// while it runs, so a hand-off that silently falls back to thin mode fails the test.
import assert from "node:assert/strict";
import { createServer, connect as netConnect, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe } from "node:test";
import type { PluginOutcome } from "../../src/cli/exec-plugin.ts";
import { createPod } from "../controller/support.ts";
import { type ApiDouble, startApiDouble } from "../k8s-api/harness.ts";
import { type NodeAgent, startNodeAgent, WORKING_ALONE } from "./netns-agent.ts";
import type { NsProcess } from "./netns-daemons.ts";
import {
  type AddResult,
  CNI_VERSION,
  CniCallError,
  hostLocalIpam,
  Lab,
  type Node,
  type Pod,
  REPO_ROOT,
  SYSTEM_CNI_DIR,
} from "./netns-harness.ts";
import { type AttachmentView, attachmentIn } from "./netns-readback.ts";

const NETWORKS = "k8s.v1.cni.cncf.io/networks";
const NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status";
const RELAY = join(REPO_ROOT, "test", "e2e", "fixtures", "api-relay.ts");
const NAD_PATH = "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions";

/** One network-status entry as Multus writes it (the fields these tests compare). */
export interface NetworkStatusEntry {
  readonly name: string;
  readonly interface?: string;
  readonly ips?: string[];
  readonly mac?: string;
  readonly default?: boolean;
}

/** How a node serves the meta-plugin's calls: bin/multus alone, or its node agent. */
export type MultusMode = "thin" | "agent";
/** Every scenario of the multus e2e files runs in each. */
export const MULTUS_MODES: readonly MultusMode[] = ["thin", "agent"];

/** What the scenarios of one mode get: the mode, and that mode's API double (started before them). */
export interface ModeContext {
  readonly mode: MultusMode;
  api(): ApiDouble;
}

/**
 * Declares `scenarios` once per mode, each in a describe block named after it with an API double of
 * its own (the scenarios of both modes create the same pods' and NADs' names).
 */
export function describeModes(scenarios: (context: ModeContext) => void): void {
  for (const mode of MULTUS_MODES)
    describe(`${mode} mode`, () => {
      let api: ApiDouble | undefined;
      before(async () => {
        api = await startApiDouble();
      });
      after(async () => {
        await api?.stop();
      });
      scenarios({
        mode,
        api: () => {
          if (api === undefined) throw new Error("the API double is started before the scenarios");
          return api;
        },
      });
    });
}

/** A meta-plugin call's outcome and who did the work. */
export interface MultusOutcome extends PluginOutcome {
  readonly servedBy: "agent" | "plugin";
}

/** What call() can know of a call beforehand. */
export interface CallChecks {
  /** False when the call runs no delegate at all (e.g. a DEL with nothing known to delete). */
  readonly runsDelegates?: boolean;
  /** The agent socket the plugin is pointed at, in place of its node's (the lab's own tests). */
  readonly agentSocket?: string;
}

/** A lab pod that also exists in the API double (same name, namespace default). */
export interface ApiPod {
  readonly pod: Pod;
  readonly uid: string;
  /** CNI_ARGS as the kubelet gives them to a CNI plugin. */
  readonly cniArgs: string;
}

/** A lab whose nodes reach the API double, and the meta-plugin's calls on them. */
export class MultusLab {
  readonly lab: Lab;
  readonly api: ApiDouble;
  readonly mode: MultusMode;
  private readonly relay: Server;
  private readonly relays: NsProcess[] = [];
  /** Agent mode: each node's agent, by node name. */
  private readonly agents = new Map<string, NodeAgent>();

  private constructor(lab: Lab, api: ApiDouble, relay: Server, mode: MultusMode) {
    this.lab = lab;
    this.api = api;
    this.relay = relay;
    this.mode = mode;
  }

  /**
   * A lab with `nodes`, each running a relay to `api` and, in agent mode, its node agent; dispose()
   * removes all of it.
   */
  static async create(
    api: ApiDouble,
    nodes: readonly string[],
    options: { readonly mode?: MultusMode } = {},
  ): Promise<MultusLab> {
    const lab = await Lab.create({ nodes });
    const socket = join(lab.dir, "api.sock");
    const port = new URL(api.url).port;
    const relay = createServer((client) => {
      const upstream = netConnect(Number(port), "127.0.0.1");
      client.pipe(upstream).pipe(client);
      upstream.on("error", () => client.destroy());
      client.on("error", () => upstream.destroy());
    });
    const multusLab = new MultusLab(lab, api, relay, options.mode ?? "thin");
    try {
      await new Promise<void>((resolve, reject) => {
        relay.once("error", reject);
        relay.listen(socket, resolve);
      });
      for (const node of lab.nodes) {
        const proc = await lab.startProcess(
          node.ns,
          `API relay on ${node.name}`,
          process.execPath,
          [RELAY, port, socket],
          {
            ready: (output) => output.includes("relaying"),
          },
        );
        multusLab.relays.push(proc);
      }
      if (multusLab.mode === "agent")
        for (const node of lab.nodes) multusLab.agents.set(node.name, await startNodeAgent(lab, node));
    } catch (error) {
      await multusLab.dispose();
      throw error;
    }
    return multusLab;
  }

  async dispose(): Promise<void> {
    this.relay.close();
    await this.lab.dispose();
  }

  /**
   * Takes the API server away from every node: the relays stop, so a connection to the
   * kubeconfig's address is refused in the nodes, as with an API server that is down.
   */
  async stopApiRelays(): Promise<void> {
    for (const relay of this.relays) await relay.stop();
  }

  /** Creates a NetworkAttachmentDefinition in namespace default. */
  async nad(name: string, config: object): Promise<void> {
    const res = await this.api.request("POST", NAD_PATH, {
      apiVersion: "k8s.cni.cncf.io/v1",
      kind: "NetworkAttachmentDefinition",
      metadata: { name },
      spec: { config: JSON.stringify(config) },
    });
    assert.equal(res.status, 201, res.body);
  }

  /** A pod namespace on `node` and the pod in the API double, annotated with `networks`. */
  async pod(node: string, networks: string): Promise<ApiPod> {
    const pod = await this.lab.addPod({ node, ifName: "eth0" });
    const uid = await createPod(this.api, "default", pod.name, {
      annotations: { [NETWORKS]: networks },
      nodeName: node,
    });
    const cniArgs = `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${pod.containerId};K8S_POD_UID=${uid}`;
    return { pod, uid, cniArgs };
  }

  /**
   * The node's Multus configuration (what `install --multus` writes as 00-multus.conf): master
   * delegate a bridge `cni0` with host-local in 10.244.<n>.0/24, its caches in the node directory.
   */
  config(node: Node): object {
    const n = this.lab.nodes.indexOf(node);
    return {
      cniVersion: CNI_VERSION,
      name: "multus-cni-network",
      type: "multus",
      kubeconfig: this.api.kubeconfigPath("default"),
      cniDir: join(node.dir, "multus"),
      confDir: join(node.dir, "net.d"),
      binDir: SYSTEM_CNI_DIR,
      delegates: [
        {
          cniVersion: CNI_VERSION,
          name: "podnet",
          type: "bridge",
          bridge: "cni0",
          isGateway: true,
          ipam: hostLocalIpam(node, [{ subnet: `10.244.${n}.0/24` }]),
        },
      ],
    };
  }

  /** The node's agent (agent mode only). */
  agent(node: string): NodeAgent {
    const agent = this.agents.get(node);
    if (agent === undefined) throw new Error(`${node} runs no node agent (mode ${this.mode})`);
    return agent;
  }

  /**
   * Runs bin/multus for the pod on its node as the runtime does; returns the outcome whatever the
   * exit code. In thin mode the plugin is told never to use an agent (THEREABOUTS_AGENT_SOCKET
   * empty); in agent mode it is pointed at the node's agent. No check of who served it: calls that
   * run at the same time on one node cannot be told apart (call() checks one call at a time).
   */
  run(command: "ADD" | "DEL" | "CHECK", p: ApiPod, agentSocket?: string): Promise<PluginOutcome> {
    const socket = agentSocket ?? this.agents.get(p.pod.node.name)?.socket ?? "";
    return this.lab.cni("multus", command, p.pod, this.config(p.pod.node), {
      cniArgs: p.cniArgs,
      env: { THEREABOUTS_AGENT_SOCKET: socket },
    });
  }

  /**
   * run(), and who served the call. In agent mode, while the node's agent runs, it must be the
   * agent: the plugin said nothing of working without it, and the agent reaped child processes (the
   * delegates) meanwhile. A call that runs no delegate (`runsDelegates: false`) leaves no such trace
   * and is checked by the first sign only. Once the test has stopped or killed the agent, it is the
   * plugin.
   */
  async call(command: "ADD" | "DEL" | "CHECK", p: ApiPod, options: CallChecks = {}): Promise<MultusOutcome> {
    const agent = this.agents.get(p.pod.node.name);
    if (agent === undefined || !agent.process.running())
      return { ...(await this.run(command, p, options.agentSocket)), servedBy: "plugin" };
    const before = agent.reapedChildFaults();
    const outcome = await this.run(command, p, options.agentSocket);
    const why = WORKING_ALONE.test(outcome.stderr)
      ? "the plugin worked alone"
      : !agent.process.running()
        ? "the agent is gone"
        : options.runsDelegates !== false && agent.reapedChildFaults() === before
          ? "the agent ran no delegate"
          : undefined;
    if (why !== undefined)
      throw new CniCallError(
        `multus ${command} for ${p.pod.name} was not served by ${p.pod.node.name}'s agent (${why})`,
        outcome,
      );
    return { ...outcome, servedBy: "agent" };
  }

  async add(p: ApiPod): Promise<AddResult> {
    const outcome = await this.call("ADD", p);
    if (outcome.code !== 0) throw new CniCallError(`multus ADD for ${p.pod.name}`, outcome);
    return JSON.parse(outcome.stdout) as AddResult;
  }

  async del(p: ApiPod, options: CallChecks = {}): Promise<void> {
    const outcome = await this.call("DEL", p, options);
    if (outcome.code !== 0) throw new CniCallError(`multus DEL for ${p.pod.name}`, outcome);
  }

  /** The pod's annotations in the API double. */
  async annotations(p: ApiPod): Promise<Record<string, string>> {
    const res = await this.api.request("GET", `/api/v1/namespaces/default/pods/${p.pod.name}`);
    assert.equal(res.status, 200, res.body);
    return (
      (JSON.parse(res.body) as { metadata: { annotations?: Record<string, string> } }).metadata.annotations ??
      {}
    );
  }

  /** The network-status annotation, parsed; undefined when absent. */
  async networkStatus(p: ApiPod): Promise<NetworkStatusEntry[] | undefined> {
    const text = (await this.annotations(p))[NETWORK_STATUS];
    return text === undefined ? undefined : (JSON.parse(text) as NetworkStatusEntry[]);
  }

  /**
   * Asserts the network-status annotation describes exactly what is in the pod's namespace: one
   * entry per attachment, each interface there with those addresses and that MAC. Returns the
   * namespace's views of the entries' interfaces.
   */
  async assertStatusMatchesNamespace(p: ApiPod, names: readonly string[]): Promise<AttachmentView[]> {
    const status = await this.networkStatus(p);
    assert.ok(status !== undefined, `${p.pod.name} has a network-status annotation`);
    assert.deepEqual(
      status.map((s) => s.name),
      names,
      "one entry per attachment, master first",
    );
    const net = await this.lab.read(p.pod);
    const views: AttachmentView[] = [];
    for (const entry of status) {
      const view = attachmentIn(net, entry.interface ?? "");
      assert.ok(view !== undefined, `${entry.interface} of ${entry.name} is in ${p.pod.name}`);
      assert.deepEqual(
        { interface: entry.interface, ips: [...(entry.ips ?? [])].sort(), mac: entry.mac },
        { interface: view.interface, ips: [...view.ips].sort(), mac: view.mac },
        `${entry.name}: network-status = the namespace`,
      );
      views.push(view);
    }
    return views;
  }

  /** Interface names in the pod's namespace, sorted. */
  async links(p: ApiPod): Promise<string[]> {
    return (await this.lab.read(p.pod)).interfaces.map((i) => i.name).sort();
  }
}
