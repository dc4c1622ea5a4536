// `thereabouts uninstall`: removes what install writes and nothing else. With --multus, multus'
// network configuration goes first, so the runtime stops calling multus before multus goes (a
// configuration naming a plugin that is not there fails every call, DELs included). Then the
// executable, so no plugin runs on without its flat file (it would fall to the embedded store); a
// file under one of the names that is not this executable (Go's whereabouts or multus put back,
// another version) is kept and said so. Then the three files of whereabouts.d/, and the directory
// when nothing else is left in it — unless another installer has rewritten them since (Go's
// install-cni.sh on the way back writes all three, its kubeconfig without our first line): then
// they are its plugin's, which needs them, and they stay. multus.d/ likewise, after its kubeconfig.
import { lstatSync, rmdirSync, statSync, unlinkSync } from "node:fs";
import { basename, join } from "node:path";
import { isJsonObject, type Json, parseJson } from "../config/json-parse.ts";
import { FileRefusedError, fileReason, readConfigFile, readOptionalFile } from "../files/config-file.ts";
import {
  type KubeconfigOwner,
  MULTUS_KUBECONFIG,
  WHEREABOUTS_KUBECONFIG,
  writtenFor,
} from "./kubeconfig-text.ts";
import { type Layout, layoutOf, onHost } from "./layout.ts";
import { GENERATED_NAMES } from "./multus-conf.ts";
import type { MultusTargets } from "./multus-settings.ts";
import { sameContent } from "./replace-file.ts";
import type { InstallTargets } from "./settings.ts";

export interface UninstallRun {
  readonly targets: InstallTargets;
  /** The running executable: a file under one of the names is removed only when it is this one. */
  readonly executable: string;
  log(line: string): void;
}

function errno(error: unknown): string | undefined {
  return (error as { code?: string } | null)?.code;
}

function remove(run: UninstallRun, path: string): void {
  try {
    unlinkSync(path);
    run.log(`removed ${path}`);
  } catch (error) {
    if (errno(error) !== "ENOENT") throw new Error(`cannot remove ${path}: ${fileReason(error)}`);
  }
}

/** Removes a directory install made, when nothing else is left in it. */
function removeEmptyDirectory(run: UninstallRun, dir: string): void {
  try {
    rmdirSync(dir);
    run.log(`removed ${dir}`);
  } catch (error) {
    const code = errno(error);
    if (code === "ENOTEMPTY" || code === "EEXIST") run.log(`kept ${dir}: it holds other files`);
    else if (code !== "ENOENT") throw new Error(`cannot remove ${dir}: ${fileReason(error)}`);
  }
}

export function runUninstall(run: UninstallRun): void {
  const layout = layoutOf(run.targets);
  const { multus } = run.targets;
  const multusOurs = multus !== undefined && writtenByInstall(layout.multusKubeconfig, MULTUS_KUBECONFIG);
  if (multus !== undefined) {
    if (multusOurs) removeMultusConf(run, layout, multus);
    else
      run.log(
        `kept multus' configuration and ${layout.multusSubdir}/: its kubeconfig was written by another installer`,
      );
  }
  const self = statSync(run.executable);
  for (const binary of layout.binaries) {
    const stats = lstatSync(binary, { throwIfNoEntry: false });
    if (stats === undefined) continue;
    if (stats.isFile() && sameContent(self, run.executable, stats, binary)) remove(run, binary);
    else run.log(`kept ${binary}: not this executable (another program or version)`);
  }
  if (writtenByInstall(layout.kubeconfig, WHEREABOUTS_KUBECONFIG)) {
    remove(run, layout.kubeconfig);
    remove(run, layout.flatFile);
    remove(run, layout.nodeName);
    removeEmptyDirectory(run, layout.confSubdir);
  } else run.log(`kept ${layout.confSubdir}/: its kubeconfig was written by another installer`);
  if (multusOurs) {
    remove(run, layout.multusKubeconfig);
    removeEmptyDirectory(run, layout.multusSubdir);
  }
}

/** Whether the kubeconfig is install's own (or gone); one another installer wrote is not. */
function writtenByInstall(kubeconfig: string, owner: KubeconfigOwner): boolean {
  try {
    return writtenFor(owner, readConfigFile(kubeconfig));
  } catch (error) {
    if (error instanceof FileRefusedError && error.code === "ENOENT") return true;
    throw new Error(`cannot read ${kubeconfig}: ${fileReason(error)}`);
  }
}

/**
 * multus' configuration, while the kubeconfig beside it is still install's. A given one
 * (--multus-conf-file) goes when it is still that file byte for byte; a generated one when it is
 * a multus configuration naming install's kubeconfig (another file under that name is not ours).
 */
function removeMultusConf(run: UninstallRun, layout: Layout, multus: MultusTargets): void {
  const given = multus.confFile;
  const names = given === undefined ? GENERATED_NAMES : [basename(given)];
  for (const name of names) {
    const path = join(run.targets.confDir, name);
    let text: string | undefined;
    try {
      text = readOptionalFile(path);
    } catch (error) {
      run.log(`kept ${path}: cannot read it: ${fileReason(error)}`);
      continue;
    }
    if (text === undefined) continue;
    if (given === undefined) {
      if (namesKubeconfig(text, onHost(layout.multusKubeconfig))) remove(run, path);
      else run.log(`kept ${path}: not a multus configuration install --multus wrote`);
      continue;
    }
    let source: string;
    try {
      source = readConfigFile(given);
    } catch (error) {
      run.log(`kept ${path}: cannot compare it with --multus-conf-file ${given}: ${fileReason(error)}`);
      continue;
    }
    if (source === text) remove(run, path);
    else run.log(`kept ${path}: not --multus-conf-file ${given} as it is now`);
  }
}

/** Whether the text is a multus configuration (or a list with multus in it) naming `kubeconfig`. */
function namesKubeconfig(text: string, kubeconfig: string): boolean {
  let conf: Json;
  try {
    conf = parseJson(text);
  } catch {
    return false;
  }
  if (!isJsonObject(conf)) return false;
  const plugins = Array.isArray(conf["plugins"]) ? (conf["plugins"] as readonly Json[]) : [conf];
  return plugins.some((p) => isJsonObject(p) && p["type"] === "multus" && p["kubeconfig"] === kubeconfig);
}
