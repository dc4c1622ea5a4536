// What `thereabouts install` and `uninstall` are told: the environment of Whereabouts' installer
// (install-cni.sh), so its DaemonSet's env carries over unchanged, and our three flags. Decoded
// once, without I/O, into frozen values; every refusal names the variable or flag and what a good
// value looks like. Empty variables count as unset, as the script's `${VAR:-default}` does.
import { parseArgs } from "node:util";
import { CRON_ENV, DEFAULT_CRON, parseCron } from "../controller/cron.ts";
import { quote } from "../errors/message.ts";
import { parseIP } from "../ip/index.ts";
import { SERVICE_ACCOUNT_DIR, serviceUrl } from "../kube/service-account.ts";
import {
  MULTUS_BINARY,
  MULTUS_FLAGS,
  type MultusSettings,
  type MultusTargets,
  multusSettings,
  multusTargets,
} from "./multus-settings.ts";
import { absolutePath, FILE_NAME, NAMESPACE, NAMESPACE_RULE } from "./setting-values.ts";

export const DEFAULT_BIN_DIR = "/host/opt/cni/bin";
export const DEFAULT_CONF_DIR = "/host/etc/cni/net.d";
export const DEFAULT_NAMES: readonly string[] = Object.freeze(["thereabouts", "whereabouts"]);
export const DEFAULT_KUBECONFIG_MODE = 0o600;

/** Where install writes, and so what uninstall removes. */
export interface InstallTargets {
  /** CNI_BIN_DIR: the executable goes here under every name. */
  readonly binDir: string;
  /** CNI_CONF_DIR: whereabouts.d/ goes here. */
  readonly confDir: string;
  /** --names, plus `multus` with --multus. */
  readonly names: readonly string[];
  /** --multus: what is written for Multus besides the executable; undefined without it. */
  readonly multus: MultusTargets | undefined;
}

/** How the plugin reaches the API server: what the kubeconfig says, and where its secrets come from. */
export interface ClusterAccess {
  readonly server: string;
  /** The context's namespace; undefined: none written, and the plugin uses kube-system. */
  readonly namespace: string | undefined;
  readonly tokenFile: string;
  /** The CA to trust; undefined with SKIP_TLS_VERIFY=true or plain http. */
  readonly caFile: string | undefined;
  readonly skipTlsVerify: boolean;
}

export interface InstallSettings extends InstallTargets {
  /** Install and exit, rather than keep the kubeconfig current. */
  readonly once: boolean;
  readonly cluster: ClusterAccess;
  readonly kubeconfigMode: number;
  /** reconciler_cron_expression of the flat file. */
  readonly cron: string;
  /** NODENAME, written to whereabouts.d/nodename when set. */
  readonly nodeName: string | undefined;
  readonly multus: MultusSettings | undefined;
}

export const INSTALL_FLAGS = {
  "service-account-dir": { type: "string" },
  once: { type: "boolean" },
  names: { type: "string" },
  help: { type: "boolean", short: "h" },
  ...MULTUS_FLAGS,
} as const;

type Env = Readonly<Record<string, string | undefined>>;

/** A variable's value, undefined when unset or empty. */
function variable(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === "" ? undefined : value;
}

export function decodeNames(text: string | undefined): readonly string[] {
  if (text === undefined) return DEFAULT_NAMES;
  const names = text.split(",").map((name) => name.trim());
  for (const name of names) {
    if (name === "")
      throw new Error(
        `--names ${quote(text)} has an empty name: expected names such as thereabouts,whereabouts`,
      );
    if (!FILE_NAME.test(name))
      throw new Error(
        `--names: ${quote(name)} is not a plain file name (letters, digits, ".", "_", "+", "-"; no "/")`,
      );
  }
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) throw new Error(`--names lists ${quote(twice)} twice`);
  return Object.freeze(names);
}

/** RFC 1123 subdomain: what Kubernetes accepts as a node name. */
const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A DNS name or IPv4 address (IPv6 is recognised by parseIP). */
const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;

/** KUBERNETES_SERVICE_HOST, without the brackets an IPv6 address may come in. */
function serviceHost(env: Env): string {
  const given = variable(env, "KUBERNETES_SERVICE_HOST");
  if (given === undefined)
    throw new Error(
      "KUBERNETES_SERVICE_HOST is not set: run install in a pod (kubelet sets it), or set it to the API server's address",
    );
  const host = /^\[(.*)\]$/.exec(given)?.[1] ?? given;
  if (host.includes(":") ? parseIP(host)?.family !== 6 : !HOST_NAME.test(host) || host.length > 253)
    throw new Error(
      `KUBERNETES_SERVICE_HOST ${quote(given)} is not an IP address or DNS name of the API server`,
    );
  return host;
}

function servicePort(env: Env): string {
  const port = variable(env, "KUBERNETES_SERVICE_PORT");
  if (port === undefined)
    throw new Error(
      "KUBERNETES_SERVICE_PORT is not set: run install in a pod (kubelet sets it), or set it to the API server's port",
    );
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)
    throw new Error(`KUBERNETES_SERVICE_PORT ${quote(port)} is not a port number (1-65535)`);
  return String(Number(port));
}

function protocol(env: Env): "https" | "http" {
  const value = variable(env, "KUBERNETES_SERVICE_PROTOCOL") ?? "https";
  if (value !== "https" && value !== "http")
    throw new Error(`KUBERNETES_SERVICE_PROTOCOL ${quote(value)}: expected https (the default) or http`);
  return value;
}

function skipTlsVerify(env: Env): boolean {
  const value = variable(env, "SKIP_TLS_VERIFY") ?? "false";
  if (value !== "true" && value !== "false")
    throw new Error(`SKIP_TLS_VERIFY ${quote(value)}: expected true or false`);
  return value === "true";
}

/** KUBECONFIG_MODE as chmod takes it: 600, 0640… (permission bits only). */
export function decodeMode(text: string | undefined): number {
  if (text === undefined) return DEFAULT_KUBECONFIG_MODE;
  if (!/^0?[0-7]{3}$/.test(text))
    throw new Error(`KUBECONFIG_MODE ${quote(text)} is not an octal file mode such as 600 or 640`);
  return Number.parseInt(text, 8);
}

function namespace(env: Env): string | undefined {
  const value = variable(env, "WHEREABOUTS_NAMESPACE");
  if (value !== undefined && !NAMESPACE.test(value))
    throw new Error(`WHEREABOUTS_NAMESPACE ${quote(value)} is not a namespace name (${NAMESPACE_RULE})`);
  return value;
}

function nodeName(env: Env): string | undefined {
  const value = variable(env, "NODENAME");
  if (value !== undefined && (!NODE_NAME.test(value) || value.length > 253))
    throw new Error(
      `NODENAME ${quote(value)} is not a node name (lowercase letters, digits, "-" and "."); set it from spec.nodeName`,
    );
  return value;
}

function cron(env: Env): string {
  const value = variable(env, CRON_ENV)?.trim() || DEFAULT_CRON;
  const parsed = parseCron(value);
  if (!parsed.ok) throw new Error(`${CRON_ENV}: ${parsed.error}`);
  return value;
}

type FlagValues = { readonly [K in keyof typeof INSTALL_FLAGS]?: string | boolean | undefined };

function flags(args: readonly string[]): FlagValues {
  return parseArgs({ args: [...args], options: INSTALL_FLAGS, strict: true }).values;
}

function targets(values: FlagValues, env: Env): InstallTargets {
  const names = decodeNames(values.names as string | undefined);
  const multus = multusTargets(values);
  return {
    binDir: absolutePath("CNI_BIN_DIR", variable(env, "CNI_BIN_DIR") ?? DEFAULT_BIN_DIR),
    confDir: absolutePath("CNI_CONF_DIR", variable(env, "CNI_CONF_DIR") ?? DEFAULT_CONF_DIR),
    names:
      multus === undefined || names.includes(MULTUS_BINARY)
        ? names
        : Object.freeze([...names, MULTUS_BINARY]),
    multus,
  };
}

/** `thereabouts install [flags]` with its environment; "help" for --help. */
export function installSettings(args: readonly string[], env: Env): InstallSettings | "help" {
  const values = flags(args);
  if (values.help === true) return "help";
  const saDir = absolutePath(
    "--service-account-dir",
    (values["service-account-dir"] as string | undefined) ?? SERVICE_ACCOUNT_DIR,
  );
  const scheme = protocol(env);
  const skip = skipTlsVerify(env);
  const caFile = absolutePath("KUBE_CA_FILE", variable(env, "KUBE_CA_FILE") ?? `${saDir}/ca.crt`);
  const cluster: ClusterAccess = {
    server: serviceUrl(serviceHost(env), servicePort(env), scheme),
    namespace: namespace(env),
    tokenFile: `${saDir}/token`,
    // Plain http has nothing to verify; the insecure flag and a CA cannot go together.
    caFile: skip || scheme === "http" ? undefined : caFile,
    skipTlsVerify: skip && scheme === "https",
  };
  const where = targets(values, env);
  return Object.freeze({
    ...where,
    once: values.once === true,
    cluster: Object.freeze(cluster),
    kubeconfigMode: decodeMode(variable(env, "KUBECONFIG_MODE")),
    cron: cron(env),
    nodeName: nodeName(env),
    multus: multusSettings(values, where.confDir),
  });
}

/**
 * `thereabouts uninstall [flags]`: the same flags and environment as install (a DaemonSet's args
 * can be switched from one to the other), of which only the targets matter.
 */
export function uninstallTargets(args: readonly string[], env: Env): InstallTargets | "help" {
  const values = flags(args);
  if (values.help === true) return "help";
  return Object.freeze(targets(values, env));
}
