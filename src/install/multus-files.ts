// The files of `install --multus` in the CNI configuration directory, on the real file system:
// the directory the master is chosen from, where multus' configuration comes from (generated or
// given), and how it is put in place (atomically, mode 0600 as Multus writes it, the other
// generated name removed: 00-multus.conf sorts before 00-multus.conflist, so a stale .conf left
// from a master below CNI 1.0.0 would hide a fresh .conflist, and the runtime would use it).
import { readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { fileReason, readConfigFile } from "../files/config-file.ts";
import { onHost } from "./layout.ts";
import {
  GENERATED_NAMES,
  type GeneratedConf,
  generateMultusConf,
  isRuntimeConfName,
  runtimeChoice,
} from "./multus-conf.ts";
import { type ConfDir, type ConfSource, GivenSource, MasterSource } from "./multus-conf-watcher.ts";
import type { MultusSettings } from "./multus-settings.ts";
import { type Outcome, writeFileAtomically } from "./replace-file.ts";

export const MULTUS_CONF_MODE = 0o600;

function errno(error: unknown): string | undefined {
  return (error as { code?: string } | null)?.code;
}

/** The names in a directory that are not directories; none when it is not there (as libcni). */
function fileNames(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => !entry.isDirectory())
      .map((entry) => entry.name);
  } catch (error) {
    if (errno(error) === "ENOENT") return [];
    throw new Error(`cannot list ${dir}: ${fileReason(error)}`);
  }
}

export function confDirAt(path: string): ConfDir {
  return {
    path,
    list: () => fileNames(path),
    read: (name) => readConfigFile(join(path, name)),
  };
}

/**
 * Where multus' configuration comes from: the given file, or the master in the autoconfig
 * directory. `kubeconfig` is the multus kubeconfig's path in the container.
 */
export function multusSource(multus: MultusSettings, kubeconfig: string): ConfSource {
  if (multus.confFile !== undefined)
    return new GivenSource(multus.confFile, (path) => {
      try {
        return readConfigFile(path);
      } catch (error) {
        throw new Error(`cannot read --multus-conf-file ${path}: ${fileReason(error)}`);
      }
    });
  return new MasterSource(confDirAt(multus.autoconfigDir), multus.masterFileName, (master) =>
    generateMultusConf(master, multus.options, onHost(kubeconfig)),
  );
}

/** Writes the configuration into `confDir`; removes the other generated name if it is there. */
export function installMultusConf(
  confDir: string,
  conf: GeneratedConf,
  log: (line: string) => void,
): Outcome {
  const outcome = writeFileAtomically(join(confDir, conf.fileName), conf.text, MULTUS_CONF_MODE);
  if (GENERATED_NAMES.includes(conf.fileName))
    for (const other of GENERATED_NAMES.filter((name) => name !== conf.fileName)) {
      const path = join(confDir, other);
      try {
        unlinkSync(path);
        log(`removed ${path} (${conf.fileName} replaces it)`);
      } catch (error) {
        if (errno(error) !== "ENOENT") throw new Error(`cannot remove ${path}: ${fileReason(error)}`);
      }
    }
  return outcome;
}

/**
 * A warning when another configuration sorts before multus' own: the runtime uses the first, so
 * pods would not get multus (a 0-… or 00-a… file, or another installer's).
 */
export function shadowWarning(confDir: string, fileName: string): string | undefined {
  const first = runtimeChoice([...fileNames(confDir).filter(isRuntimeConfName), fileName]);
  if (first === undefined || first === fileName) return undefined;
  return `warning: ${join(confDir, first)} sorts before ${fileName}: the runtime uses it for pods, not multus (rename or remove it)`;
}
