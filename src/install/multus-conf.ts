// The multus network configuration `install --multus` generates, as Multus' thin entrypoint does
// in its auto mode: the master (the cluster network's configuration, the first one a runtime
// would otherwise use) is wrapped as multus' only delegate, under a name that sorts before it
// (00-multus.conf), so the runtime calls multus for every pod, and multus calls the master for
// the pod's first interface and the NetworkAttachmentDefinitions for the others. Pure: the
// directory listing and the master's text come in, the file's name and text go out.
import { type CniVersion, SUPPORTED_VERSIONS, versionAtLeast } from "../cni/version.ts";
import {
  isJsonObject,
  type Json,
  type JsonObject,
  JsonSyntaxError,
  parseJson,
} from "../config/json-parse.ts";
import { quote } from "../errors/message.ts";

/** Below CNI 1.0.0 Multus' installer writes a single-plugin configuration… */
export const MULTUS_CONF = "00-multus.conf";
/** …from 1.0.0 a list holding multus as its only plugin (the spec dropped single-plugin files). */
export const MULTUS_CONFLIST = "00-multus.conflist";
export const GENERATED_NAMES: readonly string[] = Object.freeze([MULTUS_CONF, MULTUS_CONFLIST]);

/** The network name Multus gives its configuration, unless told to take the master's. */
export const MULTUS_NETWORK_NAME = "multus-cni-network";

/** The extensions container runtimes load from the CNI configuration directory. */
export const RUNTIME_EXTENSIONS: readonly string[] = Object.freeze([".conf", ".conflist", ".json"]);
/** The ones Multus looks at for the master: not .json, although runtimes load it. */
const MASTER_EXTENSIONS: readonly string[] = Object.freeze([".conf", ".conflist"]);

export const LOG_LEVELS = ["debug", "verbose", "error", "panic"] as const;
export type MultusLogLevel = (typeof LOG_LEVELS)[number];

/** What the flags put into the generated configuration (each absent key keeps multus' default). */
export interface MultusConfOptions {
  /** --multus-cni-version: the master must have this version. */
  readonly cniVersion: CniVersion | undefined;
  /** --multus-override-network-name: the master's name instead of multus-cni-network. */
  readonly overrideNetworkName: boolean;
  readonly namespaceIsolation: boolean;
  readonly globalNamespaces: string | undefined;
  readonly logLevel: MultusLogLevel | undefined;
  readonly logFile: string | undefined;
  readonly logToStderr: boolean;
  readonly readinessIndicatorFile: string | undefined;
  /** --multus-additional-bin-dir: where multus looks for delegates before CNI_PATH. */
  readonly binDir: string | undefined;
}

/** A network configuration file as read: the master, or the file --multus-conf-file gives. */
export interface ConfFile {
  /** For messages: the file the text was read from. */
  readonly path: string;
  readonly text: string;
}

export const MASTER = "master CNI configuration";

export interface GeneratedConf {
  /** The file name in the CNI configuration directory. */
  readonly fileName: string;
  readonly text: string;
}

/** Go's filepath.Ext: from the last dot of the name, "" without one (".conf" is all extension). */
function extensionOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot);
}

/** Whether the runtime loads a file of this name as a network configuration. */
export function isRuntimeConfName(name: string): boolean {
  return RUNTIME_EXTENSIONS.includes(extensionOf(name));
}

/** Byte order, as Go sorts a directory: the order a runtime reads the configurations in. */
export function byName(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The configuration a runtime uses for pods: the first file it loads, in byte order. */
export function runtimeChoice(names: readonly string[]): string | undefined {
  return names.filter(isRuntimeConfName).sort(byName)[0];
}

/**
 * The master Multus' installer picks among the non-directory entries of the configuration
 * directory: the first .conf or .conflist in byte order whose name does not start with
 * 00-multus.conf (its own file); undefined when there is none.
 */
export function firstMaster(names: readonly string[]): string | undefined {
  return names
    .filter((name) => MASTER_EXTENSIONS.includes(extensionOf(name)) && !name.startsWith(MULTUS_CONF))
    .sort(byName)[0];
}

function masterFault(master: ConfFile, what: string, label = MASTER): Error {
  return new Error(`${label} ${master.path}: ${what}`);
}

/**
 * A network configuration's JSON object, `label` naming the file in messages (never a word of
 * its text: it may hold credentials).
 */
export function parseNetworkConf(file: ConfFile, label = MASTER): JsonObject {
  let value: Json;
  try {
    value = parseJson(file.text);
  } catch (error) {
    if (error instanceof JsonSyntaxError)
      throw masterFault(file, `not valid JSON (${error.message} at ${error.position})`, label);
    throw error;
  }
  if (!isJsonObject(value)) throw masterFault(file, "not a JSON object", label);
  if (typeof value["type"] !== "string" && !Array.isArray(value["plugins"]))
    throw masterFault(file, 'neither "type" nor "plugins": not a CNI network configuration', label);
  return value;
}

/** The master's cniVersion, checked against what multus speaks and --multus-cni-version. */
function versionOf(master: ConfFile, conf: JsonObject, required: CniVersion | undefined): CniVersion {
  const version = conf["cniVersion"];
  if (version === undefined)
    throw masterFault(master, "no cniVersion (multus takes its version from the master: set one in it)");
  if (typeof version !== "string") throw masterFault(master, 'cniVersion is not a string such as "0.4.0"');
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(version))
    throw masterFault(
      master,
      `cniVersion ${quote(version)} is not one multus speaks (${SUPPORTED_VERSIONS.join(", ")})`,
    );
  if (required !== undefined && version !== required)
    throw masterFault(
      master,
      `Multus cni version is ${quote(required)} while master plugin cni version is ${quote(version)} (drop --multus-cni-version, or give the master's)`,
    );
  return version as CniVersion;
}

/** A capabilities map's entries, each true or false (Go's installer dies on any other value). */
function capabilityEntries(master: ConfFile, value: Json | undefined, where: string): [string, boolean][] {
  if (value === undefined) return [];
  if (!isJsonObject(value)) throw masterFault(master, `capabilities${where} is not an object`);
  return Object.entries(value).map(([name, enabled]) => {
    if (typeof enabled !== "boolean")
      throw masterFault(master, `capability ${quote(name)}${where} is not true or false`);
    return [name, enabled];
  });
}

/**
 * The capabilities multus declares, so the runtime hands it the runtimeConfig the master's plugins
 * want: a conflist's plugins' maps merged in order (a later plugin's value wins), a single-plugin
 * file's own map; `false` entries included, as Multus copies them; keys sorted, as Go writes a map.
 */
function mergedCapabilities(master: ConfFile, conf: JsonObject): Record<string, boolean> {
  const entries: [string, boolean][] = [];
  const plugins = conf["plugins"];
  if (plugins === undefined) entries.push(...capabilityEntries(master, conf["capabilities"], ""));
  else {
    if (!Array.isArray(plugins)) throw masterFault(master, '"plugins" is not a list');
    for (const [i, plugin] of (plugins as readonly Json[]).entries()) {
      if (!isJsonObject(plugin)) throw masterFault(master, `plugin ${i} is not an object`);
      entries.push(...capabilityEntries(master, plugin["capabilities"], ` of plugin ${i}`));
    }
  }
  const merged = new Map(entries);
  return Object.fromEntries([...merged.keys()].sort(byName).map((name) => [name, merged.get(name)!]));
}

/** A multus configuration as the master would be multus inside multus: every call twice. */
function isMultus(conf: JsonObject): boolean {
  const types = Array.isArray(conf["plugins"])
    ? (conf["plugins"] as readonly Json[]).map((p) => (isJsonObject(p) ? p["type"] : undefined))
    : [conf["type"]];
  return types.some((type) => type === "multus" || type === "multus-shim");
}

function networkName(master: ConfFile, conf: JsonObject, override: boolean): string {
  if (!override) return MULTUS_NETWORK_NAME;
  const name = conf["name"];
  if (typeof name !== "string" || name === "")
    throw masterFault(master, "no name, which --multus-override-network-name takes");
  return name;
}

/**
 * 00-multus.conf (or .conflist from CNI 1.0.0) for this master: its cniVersion, the network name,
 * type multus, the merged capabilities, the flags' keys, the kubeconfig (a host path) and the
 * master itself, as it is, as the only delegate. Throws, naming the master file and what to fix,
 * when the master cannot be used.
 */
export function generateMultusConf(
  master: ConfFile,
  options: MultusConfOptions,
  kubeconfig: string,
): GeneratedConf {
  const conf = parseNetworkConf(master);
  const cniVersion = versionOf(master, conf, options.cniVersion);
  const name = networkName(master, conf, options.overrideNetworkName);
  if (isMultus(conf))
    throw masterFault(
      master,
      "is itself a multus configuration (remove it, or name the cluster network's file with --multus-master-cni-file-name)",
    );
  const capabilities = mergedCapabilities(master, conf);
  const plugin: Record<string, Json> = {
    type: "multus",
    ...(Object.keys(capabilities).length > 0 ? { capabilities } : {}),
    ...(options.namespaceIsolation ? { namespaceIsolation: true } : {}),
    ...(options.globalNamespaces === undefined ? {} : { globalNamespaces: options.globalNamespaces }),
    ...(options.logToStderr ? {} : { logToStderr: false }),
    ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel }),
    ...(options.logFile === undefined ? {} : { logFile: options.logFile }),
    ...(options.binDir === undefined ? {} : { binDir: options.binDir }),
    ...(options.readinessIndicatorFile === undefined
      ? {}
      : { readinessindicatorfile: options.readinessIndicatorFile }),
    kubeconfig,
    delegates: [conf],
  };
  const list = versionAtLeast(cniVersion, "1.0.0");
  const generated = list ? { cniVersion, name, plugins: [plugin] } : { cniVersion, name, ...plugin };
  return {
    fileName: list ? MULTUS_CONFLIST : MULTUS_CONF,
    text: `${JSON.stringify(generated, null, 2)}\n`,
  };
}
