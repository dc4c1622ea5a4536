// The scene of the meta-plugin benchmark (bench/multus.ts): one simulated node in the host's own
// namespace, the Kubernetes API double holding three NetworkAttachmentDefinitions and the pods,
// one network namespace per pod, and the read-back that checks what the runs left: addresses held
// twice, network-status that disagrees with the namespace, interfaces, store entries, host-local
// files, scratch caches and host-side veths left after the DELs.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { createPod } from "../test/controller/support.ts";
import type { ApiDouble } from "../test/k8s-api/harness.ts";
import { kubeIpam } from "../test/kubernetes/go-runtime.ts";
import { holdings, rawObjects } from "../test/kubernetes/go-view.ts";

const ROOT = join(import.meta.dirname, "..");
/** bin/multus, bin/whereabouts: the executable under the names a node installs it as. */
export const BIN_DIR = join(ROOT, "bin");
const NAMESPACE = "default";
const NAD_PATH = `/apis/k8s.cni.cncf.io/v1/namespaces/${NAMESPACE}/network-attachment-definitions`;
export const NETWORKS = ["bridge-wb", "macvlan-hl", "macvlan-wb"] as const;
/** The simulated node the pods are bound to (spec.nodeName), and the node agent's. */
export const NODE = "bench-node";
const IFNAMES = ["eth0", "net1", "net2", "net3"];

const ip = (...args: string[]) => execFileSync("ip", args, { encoding: "utf8" });

/** `ip -batch` for many commands at once: one process instead of one per namespace. */
function ipBatch(lines: readonly string[]): void {
  if (lines.length > 0) execFileSync("ip", ["-force", "-batch", "-"], { input: `${lines.join("\n")}\n` });
}

export interface BenchPod {
  readonly name: string;
  readonly netns: string;
  readonly containerId: string;
  readonly cniArgs: string;
}

/** The node: its links in the host namespace, its directories, and the API double's objects. */
export class MultusScene {
  readonly api: ApiDouble;
  readonly dir: string;
  private readonly tag: string;
  private readonly parent: string;
  private readonly bridges: readonly string[];
  /** Every pod given a namespace, so that dispose() removes what a failed run left. */
  private readonly created: BenchPod[] = [];

  private constructor(api: ApiDouble, dir: string) {
    this.api = api;
    this.dir = dir;
    // Link names are host-wide (15 characters at most): the pid keeps parallel runs apart.
    this.tag = `mb${process.pid}`;
    this.parent = `${this.tag}p`;
    this.bridges = [`${this.tag}m`, `${this.tag}a`];
  }

  /** Creates the macvlan parent (a veth end: no dummy driver on these kernels) and the NADs. */
  static async create(api: ApiDouble, workdir: string): Promise<MultusScene> {
    const scene = new MultusScene(api, join(workdir, "multus"));
    mkdirSync(scene.dir, { recursive: true });
    ip("link", "add", scene.parent, "type", "veth", "peer", "name", `${scene.tag}q`);
    ip("link", "set", scene.parent, "up");
    const wb = (range: string) => ({
      ...kubeIpam(api.kubeconfigPath(NAMESPACE), { range }),
      type: "whereabouts",
    });
    const configs = {
      "bridge-wb": {
        cniVersion: "1.0.0",
        type: "bridge",
        bridge: scene.bridges[1],
        ipam: wb("10.251.0.0/22"),
      },
      "macvlan-hl": {
        cniVersion: "0.3.1",
        type: "macvlan",
        master: scene.parent,
        mode: "bridge",
        ipam: { type: "host-local", ranges: [[{ subnet: "10.252.0.0/22" }]], dataDir: scene.hostLocalDir },
      },
      "macvlan-wb": {
        cniVersion: "1.0.0",
        type: "macvlan",
        master: scene.parent,
        mode: "bridge",
        ipam: wb("10.253.0.0/22"),
      },
    };
    for (const name of NETWORKS) {
      const res = await api.request("POST", NAD_PATH, {
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: { name },
        spec: { config: JSON.stringify(configs[name]) },
      });
      if (res.status !== 201) throw new Error(`creating NAD ${name}: HTTP ${res.status} ${res.body}`);
    }
    return scene;
  }

  get hostLocalDir(): string {
    return join(this.dir, "host-local");
  }

  get cniDir(): string {
    return join(this.dir, "cni");
  }

  /** The node's 00-multus.conf: master a bridge with host-local (no API), caches in the node's dir. */
  config(): string {
    return JSON.stringify({
      cniVersion: "1.0.0",
      name: "multus-cni-network",
      type: "multus",
      kubeconfig: this.api.kubeconfigPath(NAMESPACE),
      cniDir: this.cniDir,
      confDir: join(this.dir, "net.d"),
      binDir: BIN_DIR,
      delegates: [
        {
          cniVersion: "1.0.0",
          name: "podnet",
          type: "bridge",
          bridge: this.bridges[0],
          ipam: { type: "host-local", ranges: [[{ subnet: "10.250.0.0/22" }]], dataDir: this.hostLocalDir },
        },
      ],
    });
  }

  /** `count` pods in the API double annotated with the three NADs, each with its namespace. */
  async pods(run: number, count: number): Promise<BenchPod[]> {
    const pods: BenchPod[] = [];
    for (let i = 0; i < count; i++) {
      const name = `r${run}-pod-${i}`;
      const uid = await createPod(this.api, NAMESPACE, name, {
        annotations: { "k8s.v1.cni.cncf.io/networks": NETWORKS.join(",") },
        nodeName: NODE,
      });
      const containerId = `r${run}c${i.toString(16).padStart(6, "0")}`;
      pods.push({
        name,
        netns: `${this.tag}-${run}-${i}`,
        containerId,
        cniArgs: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${NAMESPACE};K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${containerId};K8S_POD_UID=${uid}`,
      });
    }
    this.created.push(...pods);
    ipBatch(pods.map((p) => `netns add ${p.netns}`));
    return pods;
  }

  /** Removes those of the pods' namespaces that exist; how many of them are still listed afterwards. */
  removeNamespaces(pods: readonly BenchPod[]): number {
    const listed = () =>
      new Set(
        ip("netns", "list")
          .split("\n")
          .map((l) => l.split(" ")[0]),
      );
    const present = listed();
    ipBatch(pods.filter((p) => present.has(p.netns)).map((p) => `netns del ${p.netns}`));
    const still = listed();
    return pods.filter((p) => still.has(p.netns)).length;
  }

  /** After the ADDs: addresses held twice (namespaces and store) and network-status disagreements. */
  async checkAdded(
    pods: readonly BenchPod[],
  ): Promise<{ duplicates: number; mismatches: number; missing: number }> {
    const holder = new Map<string, string>();
    let duplicates = 0;
    let mismatches = 0;
    let missing = 0;
    for (const pod of pods) {
      const inNs = addressesIn(pod.netns);
      for (const ifName of IFNAMES) {
        const held = inNs.get(ifName) ?? [];
        if (held.length === 0) missing++;
        for (const a of held) {
          if (holder.has(a)) duplicates++;
          holder.set(a, `${NAMESPACE}/${pod.name}`);
        }
      }
      const status = await this.networkStatus(pod.name);
      const fromStatus = new Map(status.map((s) => [s.interface ?? "", [...(s.ips ?? [])].sort()]));
      const agree =
        status.length === IFNAMES.length &&
        IFNAMES.every(
          (n) => JSON.stringify(fromStatus.get(n)) === JSON.stringify([...(inNs.get(n) ?? [])].sort()),
        );
      if (!agree) mismatches++;
    }
    // Every entry the IPAM store holds is for the pod whose namespace has that address.
    const stored = holdings(await rawObjects(this.api, NAMESPACE));
    for (const h of stored) if (holder.get(h.address) !== h.allocation.podRef) duplicates++;
    if (stored.length !== 2 * pods.length) mismatches += Math.abs(stored.length - 2 * pods.length);
    return { duplicates, mismatches, missing };
  }

  /**
   * After the DELs: interfaces left in the pods' namespaces, store entries and reservations,
   * host-local address files, scratch and result caches, host-side veths on the bridges, and
   * network-status annotations not cleared.
   */
  async leftovers(pods: readonly BenchPod[]): Promise<number> {
    let left = 0;
    for (const pod of pods) {
      left += [...addressesIn(pod.netns).keys()].filter((n) => n !== "lo").length;
      if ((await this.networkStatus(pod.name)).length > 0) left++;
    }
    const objects = await rawObjects(this.api, NAMESPACE);
    left += holdings(objects).length + objects.reservations.length;
    // host-local keeps one file per address (plus its lock and last-reserved files).
    left += filesUnder(this.hostLocalDir).filter((f) => /^[0-9.]+$/.test(f)).length;
    left += filesUnder(this.cniDir).length;
    for (const bridge of this.bridges) {
      try {
        left += (JSON.parse(ip("-j", "link", "show", "master", bridge)) as unknown[]).length;
      } catch {
        // no bridge: nothing attached to it
      }
    }
    return left;
  }

  private async networkStatus(pod: string): Promise<{ interface?: string; ips?: string[] }[]> {
    const res = await this.api.request("GET", `/api/v1/namespaces/${NAMESPACE}/pods/${pod}`);
    const annotations = (JSON.parse(res.body) as { metadata: { annotations?: Record<string, string> } })
      .metadata.annotations;
    const text = annotations?.["k8s.v1.cni.cncf.io/network-status"];
    return text === undefined ? [] : (JSON.parse(text) as { interface?: string; ips?: string[] }[]);
  }

  /** Removes the namespaces still there and the links in the host namespace. */
  dispose(): void {
    this.removeNamespaces(this.created);
    for (const link of [this.parent, ...this.bridges]) {
      try {
        ip("link", "del", link);
      } catch {
        // not created (a bridge appears with the first ADD)
      }
    }
  }
}

/** Interface → IPv4 addresses in a namespace. */
function addressesIn(netns: string): Map<string, string[]> {
  const links = JSON.parse(ip("-n", netns, "-j", "addr", "show")) as {
    ifname: string;
    addr_info: { family: string; local: string }[];
  }[];
  return new Map(
    links.map((l) => [l.ifname, l.addr_info.filter((a) => a.family === "inet").map((a) => a.local)]),
  );
}

function filesUnder(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((e) => (statSync(join(dir, e)).isDirectory() ? filesUnder(join(dir, e)) : [e]));
}
