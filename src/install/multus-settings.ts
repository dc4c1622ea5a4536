// The `--multus` options of `thereabouts install`: the flags of Multus' thin entrypoint that change
// what it installs, under a `--multus-` prefix (--cni-version becomes --multus-cni-version,
// --namespace-isolation --multus-namespace-isolation…), decoded once into frozen values. The
// entrypoint's other flags have no counterpart here (docs/install.md says why), and the strict
// flag parser refuses them as unknown.
import { type CniVersion, SUPPORTED_VERSIONS } from "../cni/version.ts";
import { quote } from "../errors/message.ts";
import { GENERATED_NAMES, isRuntimeConfName, LOG_LEVELS, type MultusConfOptions } from "./multus-conf.ts";
import { absolutePath, FILE_NAME, NAMESPACE, NAMESPACE_RULE } from "./setting-values.ts";

/** The name the executable is installed under as well, for the runtime to run as `type: multus`. */
export const MULTUS_BINARY = "multus";

export const MULTUS_FLAGS = {
  multus: { type: "boolean" },
  "multus-conf-file": { type: "string" },
  "multus-autoconfig-dir": { type: "string" },
  "multus-master-cni-file-name": { type: "string" },
  "multus-cni-version": { type: "string" },
  "multus-override-network-name": { type: "boolean" },
  "multus-namespace-isolation": { type: "boolean" },
  "multus-global-namespaces": { type: "string" },
  "multus-log-level": { type: "string" },
  "multus-log-file": { type: "string" },
  "multus-log-to-stderr": { type: "string" },
  "multus-readiness-indicator-file": { type: "string" },
  "multus-additional-bin-dir": { type: "string" },
} as const;

type MultusFlagValues = { readonly [K in keyof typeof MULTUS_FLAGS]?: string | boolean | undefined };

/** What install --multus writes besides the executable, and so what uninstall --multus removes. */
export interface MultusTargets {
  /** --multus-conf-file FILE: installed as it is, under its own name; undefined: generated (auto). */
  readonly confFile: string | undefined;
}

export interface MultusSettings extends MultusTargets {
  /** Where the master is looked for (auto): --multus-autoconfig-dir, else CNI_CONF_DIR. */
  readonly autoconfigDir: string;
  /** --multus-master-cni-file-name: this file is the master, rather than the first one. */
  readonly masterFileName: string | undefined;
  readonly options: MultusConfOptions;
}

const AUTO = "auto";

function text(values: MultusFlagValues, flag: keyof typeof MULTUS_FLAGS): string | undefined {
  return values[flag] as string | undefined;
}

/** --multus-conf-file: "auto" (the default), or the file to install, named as a runtime loads it. */
function confFile(values: MultusFlagValues): string | undefined {
  const given = text(values, "multus-conf-file");
  if (given === undefined || given === AUTO) return undefined;
  const path = absolutePath("--multus-conf-file", given);
  const name = path.slice(path.lastIndexOf("/") + 1);
  if (!isRuntimeConfName(name))
    throw new Error(
      `--multus-conf-file ${quote(given)}: the runtime loads only .conf, .conflist and .json files (rename it, e.g. 00-multus.conf)`,
    );
  return path;
}

function cniVersion(values: MultusFlagValues): CniVersion | undefined {
  const version = text(values, "multus-cni-version");
  if (version === undefined) return undefined;
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(version))
    throw new Error(
      `--multus-cni-version ${quote(version)} is not a CNI version multus speaks (${SUPPORTED_VERSIONS.join(", ")})`,
    );
  return version as CniVersion;
}

/** A comma list of namespace names; written as multus reads it: names joined by commas. */
function globalNamespaces(values: MultusFlagValues): string | undefined {
  const list = text(values, "multus-global-namespaces");
  if (list === undefined) return undefined;
  if (values["multus-namespace-isolation"] !== true)
    throw new Error(
      "--multus-global-namespaces only matters with --multus-namespace-isolation: add it, or drop the list",
    );
  const names = list.split(",").map((name) => name.trim());
  for (const name of names)
    if (!NAMESPACE.test(name))
      throw new Error(
        `--multus-global-namespaces: ${quote(name)} is not a namespace name (${NAMESPACE_RULE}); give a comma list such as default,shared`,
      );
  return names.join(",");
}

/** Multus' levels, case-insensitive, in Multus' words when refused. */
function logLevel(values: MultusFlagValues): MultusConfOptions["logLevel"] {
  const level = text(values, "multus-log-level");
  if (level === undefined) return undefined;
  const lower = level.toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(lower))
    throw new Error(
      `--multus-log-level: Log levels should be one of: debug/verbose/error/panic, did not understand: ${quote(level)}`,
    );
  return lower as MultusConfOptions["logLevel"];
}

function logToStderr(values: MultusFlagValues): boolean {
  const value = text(values, "multus-log-to-stderr") ?? "true";
  if (value !== "true" && value !== "false")
    throw new Error(`--multus-log-to-stderr ${quote(value)}: expected true (the default) or false`);
  return value === "true";
}

/**
 * An absolute path. Those multus uses (log file, readiness file, bin dir) are the host's, since
 * multus runs on the host: written into the configuration as they are given.
 */
function pathFlag(values: MultusFlagValues, flag: keyof typeof MULTUS_FLAGS): string | undefined {
  const value = text(values, flag);
  return value === undefined ? undefined : absolutePath(`--${flag}`, value);
}

function masterFileName(values: MultusFlagValues): string | undefined {
  const name = text(values, "multus-master-cni-file-name");
  if (name === undefined) return undefined;
  if (!FILE_NAME.test(name))
    throw new Error(
      `--multus-master-cni-file-name ${quote(name)} is not a file name in the configuration directory (no "/"; e.g. 10-flannel.conflist)`,
    );
  if (GENERATED_NAMES.includes(name))
    throw new Error(`--multus-master-cni-file-name ${quote(name)} is the file install --multus generates`);
  return name;
}

/** The flags that only matter when multus' configuration is generated, not given. */
const AUTO_ONLY = [
  "multus-autoconfig-dir",
  "multus-master-cni-file-name",
  "multus-cni-version",
  "multus-override-network-name",
  "multus-namespace-isolation",
  "multus-global-namespaces",
  "multus-log-level",
  "multus-log-file",
  "multus-log-to-stderr",
  "multus-readiness-indicator-file",
  "multus-additional-bin-dir",
] as const;

/** The `--multus-*` flags given without `--multus`, which would do nothing: refused. */
function requireMultus(values: MultusFlagValues): void {
  const stray = (Object.keys(MULTUS_FLAGS) as (keyof typeof MULTUS_FLAGS)[]).find(
    (flag) => flag !== "multus" && values[flag] !== undefined,
  );
  if (stray !== undefined) throw new Error(`--${stray} is a --multus option: add --multus, or drop it`);
}

/** What uninstall --multus needs to know: only where the configuration went. */
export function multusTargets(values: MultusFlagValues): MultusTargets | undefined {
  if (values.multus !== true) return undefined;
  return Object.freeze({ confFile: confFile(values) });
}

/** The --multus options of install; undefined without --multus. `confDir` is CNI_CONF_DIR. */
export function multusSettings(values: MultusFlagValues, confDir: string): MultusSettings | undefined {
  if (values.multus !== true) {
    requireMultus(values);
    return undefined;
  }
  const targets = multusTargets(values)!;
  if (targets.confFile !== undefined) {
    const generating = AUTO_ONLY.find((flag) => values[flag] !== undefined);
    if (generating !== undefined)
      throw new Error(
        `--${generating} shapes the generated configuration, and --multus-conf-file installs a given one: drop one of them`,
      );
  }
  const options: MultusConfOptions = {
    cniVersion: cniVersion(values),
    overrideNetworkName: values["multus-override-network-name"] === true,
    namespaceIsolation: values["multus-namespace-isolation"] === true,
    globalNamespaces: globalNamespaces(values),
    logLevel: logLevel(values),
    logFile: pathFlag(values, "multus-log-file"),
    logToStderr: logToStderr(values),
    readinessIndicatorFile: pathFlag(values, "multus-readiness-indicator-file"),
    binDir: pathFlag(values, "multus-additional-bin-dir"),
  };
  return Object.freeze({
    ...targets,
    autoconfigDir: pathFlag(values, "multus-autoconfig-dir") ?? confDir,
    masterFileName: masterFileName(values),
    options: Object.freeze(options),
  });
}
