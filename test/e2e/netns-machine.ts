// What the machine offers the network-namespace lab: where the plugins are (our build first on
// CNI_PATH, then the distribution's), whether everything the tests need is installed, and which
// link kinds the kernel can make (ipvlan is often not built in; tests say so rather than pretend).
import { existsSync, readFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { hostNamespaceName, newRunTag } from "./netns-runs.ts";
import { deleteNamespace, ip, ipIn, onPath, sh } from "./netns-shell.ts";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/**
 * Holds `thereabouts` and the `whereabouts` symlink; first on CNI_PATH. THEREABOUTS_E2E_BIN_DIR
 * points the tests at another build (e.g. an installed /opt/cni/bin).
 */
export const PLUGIN_BIN = process.env["THEREABOUTS_E2E_BIN_DIR"] || join(REPO_ROOT, "bin");
/** The distribution's CNI plugins (Debian's containernetworking-plugins). */
export const SYSTEM_CNI_DIR = "/usr/lib/cni";
/** Where a runtime looks for plugins, in order: our build first, then the distribution's. */
export const CNI_PATH = `${PLUGIN_BIN}${delimiter}${SYSTEM_CNI_DIR}`;

/** Plugins built from this repository (the rest come from the distribution). */
const OUR_PLUGINS = new Set(["thereabouts", "whereabouts", "multus"]);
/** The Debian package each tool comes in. */
const TOOL_PACKAGES: Record<string, string> = {
  ip: "iproute2",
  ping: "iputils-ping",
  sysctl: "procps",
  dnsmasq: "dnsmasq-base",
};

/** A plugin by name, looked up along CNI_PATH as a runtime does; a path is taken as it is. */
export function pluginPath(plugin: string): string {
  if (plugin.includes("/")) return plugin;
  for (const dir of CNI_PATH.split(delimiter)) {
    const file = join(dir, plugin);
    if (existsSync(file)) return file;
  }
  return join(OUR_PLUGINS.has(plugin) ? PLUGIN_BIN : SYSTEM_CNI_DIR, plugin);
}

export interface Prerequisites {
  /** CNI plugins the test file runs (ours: bin/; the rest: /usr/lib/cni). */
  readonly plugins: readonly string[];
  /** Tools beyond ip, ping and sysctl (e.g. dnsmasq). */
  readonly tools?: readonly string[];
}

/**
 * Throws one message naming everything missing: root, the tools, the plugins. These tests are never
 * skipped; CI (.ci/run) installs what they need.
 */
export function requirePrerequisites(needs: Prerequisites): void {
  const missing: string[] = [];
  if (process.getuid?.() !== 0)
    missing.push(`root (uid is ${process.getuid?.()}; network namespaces need CAP_SYS_ADMIN/CAP_NET_ADMIN)`);
  for (const tool of ["ip", "ping", "sysctl", ...(needs.tools ?? [])]) {
    if (onPath(tool) === undefined)
      missing.push(`\`${tool}\` on PATH (apt-get install ${TOOL_PACKAGES[tool] ?? tool})`);
  }
  for (const plugin of needs.plugins) {
    const file = pluginPath(plugin);
    if (existsSync(file)) continue;
    missing.push(
      OUR_PLUGINS.has(plugin)
        ? `${file} (run: node scripts/build.ts)`
        : `${file} (apt-get install containernetworking-plugins)`,
    );
  }
  if (missing.length > 0) throw new Error(`netns e2e prerequisites missing:\n  - ${missing.join("\n  - ")}`);
}

export interface LinkSupport {
  readonly supported: boolean;
  /** How that was found out, for test names and output. */
  readonly reason: string;
}

const linkSupport = new Map<string, Promise<LinkSupport>>();

function kernelConfigLine(option: string): string | undefined {
  try {
    const config = gunzipSync(readFileSync("/proc/config.gz")).toString("utf8");
    return config.split("\n").find((l) => l === `# ${option} is not set` || l.startsWith(`${option}=`));
  } catch {
    return undefined; // no /proc/config.gz on this kernel
  }
}

async function probeLinkKind(kind: string): Promise<LinkSupport> {
  const notes: string[] = [];
  const modprobe = onPath("modprobe");
  if (modprobe === undefined) notes.push("no modprobe");
  else
    await sh(modprobe, ["-q", kind]).then(
      () => notes.push(`modprobe ${kind} ok`),
      () => notes.push(`modprobe ${kind} failed`),
    );
  const config = kernelConfigLine(`CONFIG_${kind.toUpperCase()}`);
  if (config !== undefined) notes.push(config.replace(/^# /, ""));
  const ns = hostNamespaceName(newRunTag(), "probe");
  try {
    await ip("netns", "add", ns);
  } catch (error) {
    // Not root, most likely: requirePrerequisites() says so in the test file's before hook.
    return { supported: false, reason: `could not probe for ${kind}: ${(error as Error).message}` };
  }
  try {
    await ipIn(ns, "link", "add", "name", "probe0", "type", "veth", "peer", "name", "probe1");
    try {
      await ipIn(ns, "link", "add", "name", "probe2", "link", "probe0", "type", kind);
      return { supported: true, reason: `the kernel made a test ${kind} link` };
    } catch (error) {
      const said = String((error as Error).message).replace(/^.*failed \([^)]*\): /s, "");
      return { supported: false, reason: `no ${kind} in this kernel: ${[said, ...notes].join("; ")}` };
    }
  } finally {
    await deleteNamespace(ns);
  }
}

/** Whether this kernel can make links of `kind` (ipvlan is often not built in); probed once. */
export function kernelLinkSupport(kind: string): Promise<LinkSupport> {
  let probe = linkSupport.get(kind);
  if (probe === undefined) {
    probe = probeLinkKind(kind);
    linkSupport.set(kind, probe);
  }
  return probe;
}
