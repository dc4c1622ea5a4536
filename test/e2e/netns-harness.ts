// A throwaway network lab for end-to-end runs of real CNI main plugins (macvlan, ipvlan, bridge from
// /usr/lib/cni) with thereabouts as their IPAM. Every namespace it makes is named `ta-host-<pid>-…`
// or `ta-pod-<pid>-…`: a "host" namespace standing in for the node (it holds the parent link and is
// where every plugin runs, exactly as a runtime runs them in the node's namespace) and one namespace
// per pod. Nothing is created in, or changed about, the machine's own namespace. Needs root and
// iproute2 (`ip`), ping and sysctl.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { execPlugin, type PluginOutcome } from "../../src/cli/exec-plugin.ts";

const execFileAsync = promisify(execFile);

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/**
 * Holds `thereabouts` and the `whereabouts` symlink; first on CNI_PATH. THEREABOUTS_E2E_BIN_DIR
 * points the tests at another build (e.g. an installed /opt/cni/bin).
 */
export const PLUGIN_BIN = process.env["THEREABOUTS_E2E_BIN_DIR"] || join(REPO_ROOT, "bin");
/** The distribution's CNI plugins (Debian's containernetworking-plugins). */
export const SYSTEM_CNI_DIR = "/usr/lib/cni";
export const NETNS_DIR = "/var/run/netns";
export const CNI_VERSION = "1.0.0";

const NAME_PREFIX = "ta-";

function onPath(name: string): string | undefined {
  const dirs = (process.env["PATH"] ?? "")
    .split(delimiter)
    .concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
  for (const dir of dirs) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

let ipBinary = "ip";

/**
 * Throws one message naming everything missing: root, `ip`, `ping`, `sysctl`, the system plugins
 * and the built thereabouts binary. These tests are never skipped; CI installs what they need.
 */
export function requirePrerequisites(mainPlugins: readonly string[]): void {
  const missing: string[] = [];
  if (process.getuid?.() !== 0)
    missing.push(`root (uid is ${process.getuid?.()}; network namespaces need CAP_SYS_ADMIN/CAP_NET_ADMIN)`);
  for (const tool of ["ip", "ping", "sysctl"]) {
    const found = onPath(tool);
    if (found === undefined)
      missing.push(`\`${tool}\` on PATH (apt-get install iproute2 iputils-ping procps)`);
    else if (tool === "ip") ipBinary = found;
  }
  for (const plugin of mainPlugins) {
    const file = join(SYSTEM_CNI_DIR, plugin);
    if (!existsSync(file)) missing.push(`${file} (apt-get install containernetworking-plugins)`);
  }
  for (const name of ["thereabouts", "whereabouts"]) {
    const file = join(PLUGIN_BIN, name);
    if (!existsSync(file)) missing.push(`${file} (run: node scripts/build.ts)`);
  }
  if (missing.length > 0) throw new Error(`netns e2e prerequisites missing:\n  - ${missing.join("\n  - ")}`);
}

/** Runs a command; rejects with its stderr when it exits non-zero. */
export async function sh(file: string, args: readonly string[], timeoutMs = 10_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync(file, [...args], { timeout: timeoutMs, encoding: "utf8" });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string; code?: unknown };
    throw new Error(`${file} ${args.join(" ")} failed (${e.code}): ${(e.stderr ?? "").trim() || e.message}`);
  }
}

export function ip(...args: string[]): Promise<string> {
  return sh(ipBinary, args);
}

/** Runs `command` inside namespace `ns`. */
export function inNs(ns: string, command: string, ...args: string[]): Promise<string> {
  return sh(ipBinary, ["netns", "exec", ns, command, ...args]);
}

export async function listNamespaces(): Promise<string[]> {
  const out = await sh(ipBinary, ["-j", "netns", "list"]);
  if (out.trim() === "") return [];
  return (JSON.parse(out) as { name: string }[]).map((n) => n.name);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Deletes `ta-*` namespaces left by a crashed earlier run: those whose creating process (the pid in
 * the name) is gone, and any `ta-*` name without a pid. Namespaces of a live concurrent run stay.
 */
export async function removeStaleNamespaces(): Promise<string[]> {
  const stale = (await listNamespaces()).filter((name) => {
    if (!name.startsWith(NAME_PREFIX)) return false;
    const pid = /^ta-(?:host|pod)-(\d+)-/.exec(name)?.[1];
    return pid === undefined || (Number(pid) !== process.pid && !processAlive(Number(pid)));
  });
  for (const name of stale) await deleteNamespace(name);
  return stale;
}

async function deleteNamespace(name: string): Promise<void> {
  try {
    await ip("netns", "delete", name);
  } catch (error) {
    if (!existsSync(join(NETNS_DIR, name))) return; // already gone
    throw error;
  }
}

export interface Pod {
  /** Namespace name; also the pod name in CNI_ARGS. */
  readonly name: string;
  readonly netns: string;
  readonly containerId: string;
  readonly ifName: string;
  readonly cniArgs: string;
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

/**
 * One lab: a host namespace with a parent link, pod namespaces on demand, and a scratch directory
 * for the store. `dispose()` removes all of it and never throws before trying everything.
 */
export class Lab {
  readonly tag: string;
  readonly host: string;
  readonly dir: string;
  readonly storePath: string;
  /** The link macvlan/ipvlan attach to: a dummy, or a veth end on kernels without dummy. */
  parent = "ta-parent0";
  parentKind: "dummy" | "veth" = "dummy";
  readonly pods: Pod[] = [];

  private constructor() {
    this.tag = `${process.pid}-${randomBytes(3).toString("hex")}`;
    this.host = `ta-host-${this.tag}`;
    this.dir = mkdtempSync(join(tmpdir(), "ta-e2e-"));
    this.storePath = join(this.dir, "store.db");
  }

  static async create(): Promise<Lab> {
    const lab = new Lab();
    try {
      await ip("netns", "add", lab.host);
      await inNs(lab.host, ipBinary, "link", "set", "lo", "up");
      await lab.addParent();
    } catch (error) {
      await lab.dispose();
      throw error;
    }
    return lab;
  }

  private async addParent(): Promise<void> {
    try {
      await inNs(this.host, ipBinary, "link", "add", this.parent, "type", "dummy");
    } catch (error) {
      // Some kernels (e.g. minimal VM kernels) are built without CONFIG_DUMMY; a veth pair whose
      // other end is up serves macvlan/ipvlan just as well (pod-to-pod traffic never leaves it).
      if (!/Unknown device type|not supported/i.test(String(error))) throw error;
      this.parentKind = "veth";
      await inNs(
        this.host,
        ipBinary,
        "link",
        "add",
        this.parent,
        "type",
        "veth",
        "peer",
        "name",
        "ta-parent1",
      );
      await inNs(this.host, ipBinary, "link", "set", "ta-parent1", "up");
    }
    await inNs(this.host, ipBinary, "link", "set", this.parent, "up");
  }

  /** A bridge in the host namespace with a fixed MAC (so it does not follow its ports'), up. */
  async addBridge(name: string, mac: string): Promise<void> {
    await inNs(this.host, ipBinary, "link", "add", name, "address", mac, "type", "bridge");
    await inNs(this.host, ipBinary, "link", "set", name, "up");
  }

  /** Whether the kernel can make a link of `kind` on the parent (ipvlan is often not built in). */
  async supportsLinkKind(kind: string, ...args: string[]): Promise<boolean> {
    const probe = "ta-probe0";
    try {
      await inNs(this.host, ipBinary, "link", "add", probe, "link", this.parent, "type", kind, ...args);
    } catch {
      return false;
    }
    await inNs(this.host, ipBinary, "link", "delete", probe);
    return true;
  }

  /** A fresh pod namespace with loopback up and IPv6 DAD off (addresses usable at once). */
  async addPod(ifName = "net1"): Promise<Pod> {
    const name = `ta-pod-${this.tag}-${this.pods.length}`;
    const pod: Pod = {
      name,
      netns: join(NETNS_DIR, name),
      containerId: randomBytes(16).toString("hex"),
      ifName,
      cniArgs: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name}`,
    };
    this.pods.push(pod);
    await ip("netns", "add", name);
    await inNs(name, ipBinary, "link", "set", "lo", "up");
    for (const scope of ["all", "default"]) {
      await inNs(name, "sysctl", "-q", "-w", `net.ipv6.conf.${scope}.accept_dad=0`);
      await inNs(name, "sysctl", "-q", "-w", `net.ipv6.conf.${scope}.disable_ipv6=0`);
    }
    return pod;
  }

  async addPods(count: number): Promise<Pod[]> {
    const pods: Pod[] = [];
    for (let i = 0; i < count; i++) pods.push(await this.addPod());
    return pods;
  }

  /**
   * Runs the system plugin `plugin` inside the host namespace, as a runtime would: CNI_* env, the
   * request configuration on stdin, CNI_PATH = our bin/ then /usr/lib/cni.
   */
  cni(plugin: string, command: "ADD" | "DEL" | "CHECK", pod: Pod, config: object): Promise<PluginOutcome> {
    return execPlugin(
      { file: ipBinary, args: ["netns", "exec", this.host, join(SYSTEM_CNI_DIR, plugin)] },
      {
        command,
        config: JSON.stringify(config),
        containerId: pod.containerId,
        ifName: pod.ifName,
        netns: pod.netns,
        cniArgs: pod.cniArgs,
        env: { CNI_PATH: `${PLUGIN_BIN}${delimiter}${SYSTEM_CNI_DIR}` },
      },
    );
  }

  /** ADD that must succeed; returns the parsed result. */
  async add(plugin: string, pod: Pod, config: object): Promise<AddResult> {
    const outcome = await this.cni(plugin, "ADD", pod, config);
    if (outcome.code !== 0) throw new CniCallError(`${plugin} ADD for ${pod.name}`, outcome);
    return JSON.parse(outcome.stdout) as AddResult;
  }

  /** DEL (or CHECK) that must succeed. */
  async expectOk(plugin: string, command: "DEL" | "CHECK", pod: Pod, config: object): Promise<void> {
    const outcome = await this.cni(plugin, command, pod, config);
    if (outcome.code !== 0) throw new CniCallError(`${plugin} ${command} for ${pod.name}`, outcome);
  }

  /** Deletes the pod's namespace (as a runtime may before DEL); its links go with it. */
  async removePodNamespace(pod: Pod): Promise<void> {
    await deleteNamespace(pod.name);
  }

  /** Global-scope addresses on the pod's interface, read with `ip -j addr show`. */
  async addressesIn(pod: Pod): Promise<GlobalAddress[]> {
    const out = await inNs(pod.name, ipBinary, "-j", "addr", "show", "dev", pod.ifName);
    const links = JSON.parse(out) as { addr_info: (GlobalAddress & { scope: string })[] }[];
    return links
      .flatMap((l) => l.addr_info)
      .filter((a) => a.scope === "global")
      .map(({ family, local, prefixlen }) => ({ family, local, prefixlen }));
  }

  /** Whether `pod`'s namespace still has a link named `ifName`. */
  async hasLink(pod: Pod, ifName = pod.ifName): Promise<boolean> {
    const out = await inNs(pod.name, ipBinary, "-j", "link", "show");
    return (JSON.parse(out) as { ifname: string }[]).some((l) => l.ifname === ifName);
  }

  /** One echo request from `pod` to `address` (either family); rejects when it is not answered. */
  async ping(pod: Pod, address: string): Promise<void> {
    await inNs(pod.name, "ping", "-n", "-c1", "-W1", address);
  }

  /** Deletes every namespace and the scratch directory; reports all failures together. */
  async dispose(): Promise<void> {
    const errors: unknown[] = [];
    for (const name of [...this.pods.map((p) => p.name), this.host]) {
      try {
        await deleteNamespace(name);
      } catch (error) {
        errors.push(error);
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    if (errors.length > 0) throw new AggregateError(errors, `lab ${this.tag}: cleanup failed`);
  }
}

/** The thereabouts ipam section on the embedded (sqlite) store. */
export function localIpam(storePath: string, type: "thereabouts" | "whereabouts", range: object): object {
  return { type, ...range, datastore: "local", local: { path: storePath } };
}

export interface StoreRows {
  readonly allocations: number;
  readonly reservations: number;
  readonly pools: number;
}

/** Row counts of the local store (src/store/local/schema.ts); all zero when the file was never made. */
export function storeRows(path: string): StoreRows {
  if (!existsSync(path)) return { allocations: 0, reservations: 0, pools: 0 };
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const count = (table: string) =>
      Number((db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number | bigint }).n);
    return { allocations: count("allocations"), reservations: count("reservations"), pools: count("pools") };
  } finally {
    db.close();
  }
}

/** The allocations of the local store, for messages. */
export function storeAllocations(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare("SELECT * FROM allocations ORDER BY pool, key").all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

/** `192.0.2.1/24` → `192.0.2.1`. */
export function bare(cidr: string): string {
  return cidr.split("/")[0]!;
}
