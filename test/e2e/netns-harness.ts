// A throwaway network lab for end-to-end runs of real CNI plugins (the distribution's macvlan,
// ipvlan, bridge, host-local, static, dhcp in /usr/lib/cni; bin/thereabouts) exactly as a runtime
// runs them: CNI_* environment, the configuration on stdin, inside the node's network namespace.
//
// Two shapes. Lab.create() is one simulated node, `ta-host-<tag>`, whose parent link is a dummy (or
// a veth on kernels without dummy). Lab.create({ nodes: ["node-a", "node-b"] }) is a small cluster:
// a LAN namespace holding a bridge (the switch), and one namespace per node whose `uplink` (a veth
// into that switch) is the master macvlan/ipvlan pods attach to; servers such as dnsmasq plug into
// the same switch. Pods are namespaces made per test on a node. Nothing is created in, or changed
// about, the machine's own namespace; names carry a per-run tag (netns-runs.ts) so parallel and
// crashed runs never collide. Needs root, iproute2, ping and sysctl.
import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { execPlugin, type PluginOutcome } from "../../src/cli/exec-plugin.ts";
import { type NsProcess, type StartOptions, startInNamespace } from "./netns-daemons.ts";
import { CNI_PATH, pluginPath } from "./netns-machine.ts";
import {
  interfaceIn,
  type NamespaceAddress,
  type NamespaceNetwork,
  readNamespace,
} from "./netns-readback.ts";
import { hostNamespaceName, makeRunDir, newRunTag, podNamespaceName } from "./netns-runs.ts";
import { deleteNamespace, IP, inNs, ip, ipIn, NETNS_DIR } from "./netns-shell.ts";

// One place to import the lab from.
export * from "./netns-ipam.ts";
export * from "./netns-machine.ts";
export { NETNS_DIR } from "./netns-shell.ts";

export const CNI_VERSION = "1.0.0";

export interface Node {
  /** As given to Lab.create ("node-a"); "host" for the one-node lab. */
  readonly name: string;
  readonly ns: string;
  /** The link in the node's namespace that macvlan/ipvlan pods use as master. */
  readonly uplink: string;
  /** The node's own scratch directory (host-local's dataDir, the dhcp daemon's socket). */
  readonly dir: string;
  /** The switch port (in the LAN namespace) the uplink is plugged into; none in the one-node lab. */
  readonly lanPort: string | undefined;
}

export interface Pod {
  /** Namespace name; also the pod name in CNI_ARGS. */
  readonly name: string;
  readonly netns: string;
  readonly containerId: string;
  /** The interface name plugin calls use unless told otherwise. */
  readonly ifName: string;
  readonly cniArgs: string;
  readonly node: Node;
}

export interface GlobalAddress {
  readonly family: "inet" | "inet6";
  readonly local: string;
  readonly prefixlen: number;
}

/** The parts of a 1.x ADD result these tests read. */
export interface AddResult {
  readonly cniVersion: string;
  readonly interfaces?: { name: string; mac?: string; sandbox?: string }[];
  readonly ips: { address: string; gateway?: string; interface?: number }[];
  readonly routes?: { dst: string; gw?: string }[];
}

export class CniCallError extends Error {
  readonly outcome: PluginOutcome;
  constructor(what: string, outcome: PluginOutcome) {
    super(
      `${what} exited ${outcome.code ?? outcome.signal}\nstdout: ${outcome.stdout}\nstderr: ${outcome.stderr}`,
    );
    this.outcome = outcome;
  }
}

export interface LabOptions {
  /** Node names for a cluster of nodes on one LAN; without them, one node with a dummy parent. */
  readonly nodes?: readonly string[];
}

/** What a plugin call may change from the pod's defaults. */
export interface CallOptions {
  readonly ifName?: string;
  readonly containerId?: string;
  readonly cniArgs?: string;
  /** Extra environment (CNI_PATH included: it replaces the default). */
  readonly env?: Readonly<Record<string, string>>;
}

const LAN_BRIDGE = "lan";
const UPLINK = "uplink";

/**
 * One lab: nodes, pods on demand, daemons, and a scratch directory (also the embedded store's).
 * `dispose()` stops the daemons and removes every namespace and the directory; it never throws
 * before trying everything.
 */
export class Lab {
  readonly tag: string;
  readonly dir: string;
  readonly storePath: string;
  readonly nodes: Node[] = [];
  /** The switch namespace of a cluster lab. */
  readonly lan: string | undefined;
  /** How the one-node lab's parent link was made: a dummy, or a veth on kernels without dummy. */
  parentKind: "dummy" | "veth" = "dummy";
  readonly pods: Pod[] = [];
  private readonly infrastructure: string[] = [];
  private readonly processes: NsProcess[] = [];
  private lanPorts = 0;
  private disposed = false;

  private constructor(cluster: boolean) {
    this.tag = newRunTag();
    this.dir = makeRunDir(this.tag);
    this.storePath = join(this.dir, "store.db");
    this.lan = cluster ? hostNamespaceName(this.tag, "lan") : undefined;
  }

  static async create(options: LabOptions = {}): Promise<Lab> {
    const lab = new Lab(options.nodes !== undefined);
    try {
      if (options.nodes === undefined) await lab.addLoneNode();
      else {
        await lab.addNamespace(lab.lan!);
        // A dumb switch: no STP delay, and multicast (IPv6 neighbour discovery) flooded, not snooped.
        await ipIn(lab.lan!, "link", "add", "name", LAN_BRIDGE, "type", "bridge", "stp_state", "0");
        await ipIn(lab.lan!, "link", "set", LAN_BRIDGE, "type", "bridge", "mcast_snooping", "0");
        await ipIn(lab.lan!, "link", "set", LAN_BRIDGE, "up");
        for (const name of options.nodes) await lab.addClusterNode(name);
      }
    } catch (error) {
      await lab.dispose();
      throw error;
    }
    return lab;
  }

  /** The one-node lab's node namespace (the first node of a cluster). */
  get host(): string {
    return this.nodes[0]!.ns;
  }

  /** The one-node lab's parent link (the first node's uplink). */
  get parent(): string {
    return this.nodes[0]!.uplink;
  }

  node(name: string): Node {
    const node = this.nodes.find((n) => n.name === name);
    if (node === undefined) throw new Error(`lab ${this.tag} has no node ${name}`);
    return node;
  }

  /** A new namespace of the lab's infrastructure, loopback up. */
  private async addNamespace(ns: string): Promise<void> {
    this.infrastructure.push(ns);
    await ip("netns", "add", ns);
    await ipIn(ns, "link", "set", "lo", "up");
  }

  private async newNode(name: string, ns: string, uplink: string, lanPort?: string): Promise<Node> {
    const node: Node = { name, ns, uplink, dir: join(this.dir, name), lanPort };
    await mkdir(node.dir);
    await this.addNamespace(ns);
    this.nodes.push(node);
    return node;
  }

  private async addLoneNode(): Promise<void> {
    const node = await this.newNode("host", hostNamespaceName(this.tag), "ta-parent0");
    try {
      await ipIn(node.ns, "link", "add", "name", node.uplink, "type", "dummy");
    } catch (error) {
      // Some kernels (e.g. minimal VM kernels) are built without CONFIG_DUMMY; a veth pair whose
      // other end is up serves macvlan/ipvlan just as well (pod-to-pod traffic never leaves it).
      if (!/Unknown device type|not supported/i.test(String(error))) throw error;
      this.parentKind = "veth";
      await ipIn(node.ns, "link", "add", "name", node.uplink, "type", "veth", "peer", "name", "ta-parent1");
      await ipIn(node.ns, "link", "set", "ta-parent1", "up");
    }
    await ipIn(node.ns, "link", "set", node.uplink, "up");
  }

  private async addClusterNode(name: string): Promise<void> {
    const node = await this.newNode(name, hostNamespaceName(this.tag, name), UPLINK, this.nextPort());
    await this.plugIntoLan(node.ns, node.uplink, node.lanPort);
  }

  private nextPort(): string {
    return `port${this.lanPorts++}`;
  }

  /**
   * Connects namespace `ns` to the LAN switch: a veth whose end in `ns` is `ifName` and whose other
   * end is a port of the switch; both up. Returns the port's name (in the LAN namespace).
   */
  async plugIntoLan(ns: string, ifName: string, port = this.nextPort()): Promise<string> {
    if (this.lan === undefined) throw new Error("only a lab with nodes has a LAN");
    await ipIn(this.lan, "link", "add", "name", port, "type", "veth", "peer", "name", ifName, "netns", ns);
    await ipIn(this.lan, "link", "set", port, "master", LAN_BRIDGE, "up");
    await ipIn(ns, "link", "set", ifName, "up");
    return port;
  }

  /** A namespace for a server on the LAN (e.g. dnsmasq), its end of the link named `ifName`. */
  async addServerNamespace(role: string, ifName: string): Promise<string> {
    const ns = hostNamespaceName(this.tag, role);
    await this.addNamespace(ns);
    await this.plugIntoLan(ns, ifName);
    return ns;
  }

  /** A bridge in a node's namespace with a fixed MAC (so it does not follow its ports'), up. */
  async addBridge(name: string, mac: string, node = this.nodes[0]!): Promise<void> {
    await ipIn(node.ns, "link", "add", "name", name, "address", mac, "type", "bridge");
    await ipIn(node.ns, "link", "set", name, "up");
  }

  /** A fresh pod namespace on `node` with loopback up and IPv6 DAD off (addresses usable at once). */
  async addPod(options: { node?: string; ifName?: string } = {}): Promise<Pod> {
    const name = podNamespaceName(this.tag, this.pods.length);
    const pod: Pod = {
      name,
      netns: join(NETNS_DIR, name),
      containerId: randomBytes(16).toString("hex"),
      ifName: options.ifName ?? "net1",
      cniArgs: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name}`,
      node: options.node === undefined ? this.nodes[0]! : this.node(options.node),
    };
    this.pods.push(pod);
    await ip("netns", "add", name);
    await ipIn(name, "link", "set", "lo", "up");
    const sysctls = ["all", "default"].flatMap((scope) => [
      `net.ipv6.conf.${scope}.accept_dad=0`,
      `net.ipv6.conf.${scope}.disable_ipv6=0`,
    ]);
    await inNs(name, "sysctl", "-q", "-w", ...sysctls);
    return pod;
  }

  async addPods(count: number, options: { node?: string; ifName?: string } = {}): Promise<Pod[]> {
    const pods: Pod[] = [];
    for (let i = 0; i < count; i++) pods.push(await this.addPod(options));
    return pods;
  }

  /**
   * Runs plugin `plugin` (found along CNI_PATH, or a path) for `pod` inside the pod's node namespace,
   * as a runtime would: CNI_* env, the configuration on stdin, CNI_PATH = our bin/ then /usr/lib/cni.
   */
  cni(
    plugin: string,
    command: "ADD" | "DEL" | "CHECK",
    pod: Pod,
    config: object,
    options: CallOptions = {},
  ): Promise<PluginOutcome> {
    return execPlugin(
      { file: IP, args: ["netns", "exec", pod.node.ns, pluginPath(plugin)] },
      {
        command,
        config: JSON.stringify(config),
        containerId: options.containerId ?? pod.containerId,
        ifName: options.ifName ?? pod.ifName,
        netns: pod.netns,
        cniArgs: options.cniArgs ?? pod.cniArgs,
        env: { CNI_PATH, ...options.env },
      },
    );
  }

  /** ADD that must succeed; returns the parsed result. */
  async add(plugin: string, pod: Pod, config: object, options: CallOptions = {}): Promise<AddResult> {
    const outcome = await this.cni(plugin, "ADD", pod, config, options);
    if (outcome.code !== 0) throw new CniCallError(`${plugin} ADD for ${pod.name}`, outcome);
    return JSON.parse(outcome.stdout) as AddResult;
  }

  /** DEL (or CHECK) that must succeed. */
  async expectOk(
    plugin: string,
    command: "DEL" | "CHECK",
    pod: Pod,
    config: object,
    options: CallOptions = {},
  ): Promise<void> {
    const outcome = await this.cni(plugin, command, pod, config, options);
    if (outcome.code !== 0) throw new CniCallError(`${plugin} ${command} for ${pod.name}`, outcome);
  }

  /** Runs a command in the pod's namespace; rejects when it exits non-zero. */
  exec(pod: Pod, command: string, ...args: string[]): Promise<string> {
    return inNs(pod.name, command, ...args);
  }

  /** Deletes the pod's namespace (as a runtime may before DEL); its links go with it. */
  async removePodNamespace(pod: Pod): Promise<void> {
    await deleteNamespace(pod.name);
  }

  /** What is configured in the pod's namespace (netns-readback.ts). */
  read(pod: Pod): Promise<NamespaceNetwork> {
    return readNamespace(pod.name);
  }

  /** Global-scope addresses on the pod's interface. */
  async addressesIn(pod: Pod, ifName = pod.ifName): Promise<GlobalAddress[]> {
    const link = interfaceIn(await this.read(pod), ifName);
    if (link === undefined) throw new Error(`${pod.name} has no ${ifName}`);
    return link.addresses
      .filter((a: NamespaceAddress) => a.scope === "global")
      .map((a) => ({ family: a.family, local: a.address, prefixlen: a.prefixLength }));
  }

  /** Whether `pod`'s namespace still has a link named `ifName`. */
  async hasLink(pod: Pod, ifName = pod.ifName): Promise<boolean> {
    return interfaceIn(await this.read(pod), ifName) !== undefined;
  }

  /** One echo request from `pod` to `address` (either family); rejects when it is not answered. */
  async ping(pod: Pod, address: string): Promise<void> {
    await this.exec(pod, "ping", "-n", "-c1", "-W2", address);
  }

  /**
   * Starts a daemon inside namespace `ns`, stopped by dispose(). Its command line must name a path in
   * `lab.dir`: that is how a later run finds it if this one crashes (netns-runs.ts).
   */
  async startProcess(
    ns: string,
    what: string,
    file: string,
    args: readonly string[],
    options: StartOptions,
  ): Promise<NsProcess> {
    if (!args.some((a) => a.includes(this.dir))) throw new Error(`${what}: no argument names ${this.dir}`);
    const proc = await startInNamespace(ns, what, file, args, options);
    this.processes.push(proc);
    return proc;
  }

  /** Stops every daemon, deletes every namespace and the scratch directory; reports all failures. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const errors: unknown[] = [];
    const attempt = async (work: () => Promise<void>) => {
      try {
        await work();
      } catch (error) {
        errors.push(error);
      }
    };
    for (const proc of this.processes.toReversed()) await attempt(() => proc.stop());
    for (const pod of this.pods) await attempt(() => deleteNamespace(pod.name));
    for (const ns of this.infrastructure.toReversed()) await attempt(() => deleteNamespace(ns));
    await attempt(() => rm(this.dir, { recursive: true, force: true }));
    if (errors.length > 0) throw new AggregateError(errors, `lab ${this.tag}: cleanup failed`);
  }
}
