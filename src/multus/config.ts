// Multus' own configuration (the meta-plugin's stdin), decoded once into a frozen value. Keys,
// defaults and texts are Multus': absent keys keep their defaults, keys match case-insensitively
// (Go's decoder), and at least one of `delegates`/`clusterNetwork` must be given.
import { fields } from "../config/decode.ts";
import type { JsonObject } from "../config/json-parse.ts";
import { LOG_LEVELS, type LogLevel } from "../config/types.ts";
import { ConfigError } from "../errors/errors.ts";
import { type DelegateConf, deepFreeze, parseDelegate } from "./delegate.ts";
import { MultusInputError } from "./errors.ts";

export interface MultusConf {
  readonly cniVersion: string;
  readonly name: string;
  /** The runtime's runtimeConfig: the base of every delegate's. */
  readonly runtimeConfig: JsonObject;
  /** Static delegates (`delegates`); ignored when clusterNetwork is set. */
  readonly delegates: readonly DelegateConf[];
  readonly clusterNetwork: string;
  readonly defaultNetworks: readonly string[];
  readonly kubeconfig: string;
  readonly confDir: string;
  readonly cniDir: string;
  readonly binDir: string;
  readonly logFile: string;
  readonly logLevel: LogLevel;
  readonly logToStderr: boolean;
  /** A `logLevel` Multus does not know: reported once on stderr, the level stays `panic`. */
  readonly unknownLogLevel: string | undefined;
  readonly readinessIndicatorFile: string;
  readonly namespaceIsolation: boolean;
  readonly globalNamespaces: readonly string[];
  readonly systemNamespaces: readonly string[];
  readonly multusNamespace: string;
  readonly retryDeleteOnError: boolean;
}

export const DEFAULTS = {
  confDir: "/etc/cni/multus/net.d",
  cniDir: "/var/lib/cni/multus",
  binDir: "/opt/cni/bin",
  logLevel: "panic",
  globalNamespaces: "default",
  systemNamespaces: ["kube-system"],
  multusNamespace: "kube-system",
} as const;

const CONTEXT = "failed to load netconf: ";

/**
 * Decodes and checks Multus' configuration.
 * @throws ConfigError (code 7) for a key of the wrong type or a missing delegate/clusterNetwork,
 * MultusInputError for a static delegate Multus would not load.
 */
export function loadMultusConf(config: JsonObject): MultusConf {
  const f = fields(config, (name) => name);
  const typed = <T>(read: () => T): T => {
    try {
      return read();
    } catch (error) {
      if (error instanceof ConfigError) throw new ConfigError(`${CONTEXT}${error.message}`);
      throw error;
    }
  };
  const clusterNetwork = typed(() => f.string("clusterNetwork")) ?? "";
  const rawDelegates = typed(() => f.array("delegates")) ?? [];
  if (clusterNetwork === "" && rawDelegates.length === 0) {
    throw new ConfigError("LoadNetConf: at least one delegate/clusterNetwork must be specified");
  }
  const delegates = rawDelegates.map((raw, i) => {
    try {
      return parseDelegate(raw);
    } catch (error) {
      if (error instanceof MultusInputError)
        throw new MultusInputError(`LoadNetConf: failed to load delegate ${i} config: ${error.message}`);
      throw error;
    }
  });
  refuseUnbuilt(
    "auxiliaryCNIChainName",
    (typed(() => f.string("auxiliaryCNIChainName")) ?? "") !== "",
    "the auxiliary chain is not run by this meta-plugin; remove the key (or run the chain's plugins in clusterNetwork's conflist)",
  );
  refuseUnbuilt(
    "logOptions",
    typed(() => f.object("logOptions")) !== undefined,
    "logFile is appended to, never rotated, by this meta-plugin; remove the key and rotate the file with logrotate (copytruncate)",
  );
  const level = typed(() => f.string("logLevel")) ?? "";
  const known = (LOG_LEVELS as readonly string[]).includes(level.toLowerCase());
  const globals = typed(() => f.string("globalNamespaces")) ?? DEFAULTS.globalNamespaces;
  return deepFreeze({
    cniVersion: typed(() => f.string("cniVersion")) ?? "",
    name: typed(() => f.string("name")) ?? "",
    runtimeConfig: typed(() => f.object("runtimeConfig")) ?? {},
    delegates,
    clusterNetwork,
    defaultNetworks: typed(() => f.stringArray("defaultNetworks")) ?? [],
    kubeconfig: typed(() => f.string("kubeconfig")) ?? "",
    confDir: nonEmpty(
      typed(() => f.string("confDir")),
      DEFAULTS.confDir,
    ),
    cniDir: nonEmpty(
      typed(() => f.string("cniDir")),
      DEFAULTS.cniDir,
    ),
    binDir: nonEmpty(
      typed(() => f.string("binDir")),
      DEFAULTS.binDir,
    ),
    logFile: typed(() => f.string("logFile")) ?? "",
    logLevel: (known ? level.toLowerCase() : DEFAULTS.logLevel) as LogLevel,
    logToStderr: typed(() => f.boolean("logToStderr")) ?? true,
    unknownLogLevel: known || level === "" ? undefined : level,
    readinessIndicatorFile: typed(() => f.string("readinessindicatorfile")) ?? "",
    namespaceIsolation: typed(() => f.boolean("namespaceIsolation")) ?? false,
    globalNamespaces: globals.split(",").map((ns) => ns.trim()),
    systemNamespaces: typed(() => f.stringArray("systemNamespaces")) ?? DEFAULTS.systemNamespaces,
    multusNamespace: nonEmpty(
      typed(() => f.string("multusNamespace")),
      DEFAULTS.multusNamespace,
    ),
    retryDeleteOnError: typed(() => f.boolean("retryDeleteOnError")) ?? false,
  });
}

/** A Multus key whose behaviour is not built: refused rather than accepted and ignored, so a
 * configuration never seems to do what it does not (code 7, the key named). */
function refuseUnbuilt(key: string, present: boolean, fix: string): void {
  if (present) throw new ConfigError(`${CONTEXT}${key} is not supported: ${fix}`);
}

/** Multus sets defaults before decoding, so an explicit "" replaces them; a path key left "" is
 * useless, and reading it as the default is what the directory lookups then do anyway. */
function nonEmpty(value: string | undefined, fallback: string): string {
  return value === undefined || value === "" ? fallback : value;
}
