// `thereabouts install`, the DaemonSet's entrypoint: puts the plugin on the host as Whereabouts'
// installer does (whereabouts.d/ with kubeconfig, flat file and nodename; the executable in the
// CNI bin directory) and, with --multus, Multus as its thin entrypoint does (the executable also
// as `multus`, multus.d/multus.kubeconfig, 00-multus.conf), then, unless --once, keeps the
// kubeconfigs' token and CA and multus' configuration current until SIGTERM. Nothing is ever
// removed here: a DaemonSet rollout or a deleted pod stops the installer, but the runtime still
// needs the plugin, multus and its configuration for the DEL of every pod on the node (without
// them, pods being deleted stay Terminating, or their attachments are never released).
import { mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileReason, readOptionalFile } from "../files/config-file.ts";
import type { Clock } from "../ipam/retry.ts";
import { watchCredentials } from "./credential-watcher.ts";
import { type Credentials, readCredentials } from "./credentials.ts";
import { flatFileText } from "./flat-file-text.ts";
import {
  type KubeconfigOwner,
  kubeconfigText,
  MULTUS_KUBECONFIG,
  WHEREABOUTS_KUBECONFIG,
} from "./kubeconfig-text.ts";
import { type Layout, layoutOf } from "./layout.ts";
import { type ConfSource, type Desired, watchMultusConf } from "./multus-conf-watcher.ts";
import { installMultusConf, multusSource, shadowWarning } from "./multus-files.ts";
import {
  copyFileAtomically,
  type Outcome,
  removeStaleTemporaries,
  writeFileAtomically,
} from "./replace-file.ts";
import type { InstallSettings } from "./settings.ts";

export const EXECUTABLE_MODE = 0o755;
export const FLAT_FILE_MODE = 0o600;
/** Go's installer writes nodename with the default umask. */
export const NODENAME_MODE = 0o644;
/** A temporary copy this old was left by a killed installer, not one still copying. */
const STALE_TEMPORARY_MS = 10 * 60_000;

export interface InstallRun {
  readonly settings: InstallSettings;
  /** The file installed under every name: the running executable. */
  readonly executable: string;
  readonly clock: Clock;
  log(line: string): void;
}

function logOutcome(run: InstallRun, outcome: Outcome, path: string, verb: string): void {
  run.log(outcome === "written" ? `${verb} ${path}` : `${path} up to date`);
}

function requireBinDir(dir: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (error) {
    throw new Error(
      `CNI_BIN_DIR ${dir}: ${fileReason(error)} (mount the host's CNI plugin directory there, e.g. /opt/cni/bin at /host/opt/cni/bin)`,
    );
  }
  if (!isDir) throw new Error(`CNI_BIN_DIR ${dir} is not a directory`);
}

/** The kubeconfigs install keeps: the plugin's, and multus' with --multus. */
function kubeconfigs(run: InstallRun, layout: Layout): { path: string; owner: KubeconfigOwner }[] {
  return [
    { path: layout.kubeconfig, owner: WHEREABOUTS_KUBECONFIG },
    ...(run.settings.multus === undefined
      ? []
      : [{ path: layout.multusKubeconfig, owner: MULTUS_KUBECONFIG }]),
  ];
}

function writeKubeconfig(
  run: InstallRun,
  path: string,
  owner: KubeconfigOwner,
  credentials: Credentials,
): Outcome {
  return writeFileAtomically(
    path,
    kubeconfigText(run.settings.cluster, credentials, owner),
    run.settings.kubeconfigMode,
  );
}

/** A file as it is now, or undefined when it is gone or cannot be read. */
function onDisk(path: string): string | undefined {
  try {
    return readOptionalFile(path);
  } catch {
    return undefined;
  }
}

/** What one installation wrote, which the watchers start from. */
export interface Installed {
  readonly credentials: Credentials;
  /** multus' configuration as installed, or why it is not (yet); undefined without --multus. */
  readonly multus: Desired | undefined;
  /** Where it came from, which the watcher asks again (it remembers the master used). */
  readonly multusSource: ConfSource | undefined;
}

/**
 * multus' configuration as it should be now. Without --once, a master that is not there yet is
 * waited for (the cluster network's installer may run after this one); with --once it is refused.
 */
function desiredMultus(run: InstallRun, source: ConfSource): Desired {
  const desired = source.next();
  if (desired.kind === "keep" && run.settings.once)
    throw new Error(
      `${desired.why} (--once does not wait: install the cluster network first, or drop --once)`,
    );
  return desired;
}

/**
 * One installation: whereabouts.d/ first, then the executable, so that a runtime calling the new
 * plugin already finds its flat file (without one, a network configuration that names no
 * datastore would fall to the embedded local store). multus' configuration comes last, once
 * multus and its kubeconfig are in place: from that moment the runtime calls multus for every pod.
 */
export function installOnce(run: InstallRun): Installed {
  const { settings } = run;
  const layout = layoutOf(settings);
  requireBinDir(settings.binDir);
  // Everything that can be refused is checked before anything is written.
  const credentials = readCredentials(settings.cluster);
  const source =
    settings.multus === undefined ? undefined : multusSource(settings.multus, layout.multusKubeconfig);
  const multus = source === undefined ? undefined : desiredMultus(run, source);
  mkdirSync(layout.confSubdir, { recursive: true, mode: 0o755 });
  if (multus !== undefined) mkdirSync(layout.multusSubdir, { recursive: true, mode: 0o755 });
  for (const { path, owner } of kubeconfigs(run, layout))
    logOutcome(run, writeKubeconfig(run, path, owner, credentials), path, "wrote");
  logOutcome(
    run,
    writeFileAtomically(layout.flatFile, flatFileText(layout, settings.cron), FLAT_FILE_MODE),
    layout.flatFile,
    "wrote",
  );
  if (settings.nodeName !== undefined)
    logOutcome(
      run,
      writeFileAtomically(layout.nodeName, settings.nodeName, NODENAME_MODE),
      layout.nodeName,
      "wrote",
    );
  for (const stale of removeStaleTemporaries(
    settings.binDir,
    layout.binaries,
    run.clock.now(),
    STALE_TEMPORARY_MS,
  ))
    run.log(`removed ${stale} (left by an interrupted install)`);
  for (const binary of layout.binaries)
    logOutcome(run, copyFileAtomically(run.executable, binary, EXECUTABLE_MODE), binary, "installed");
  if (multus !== undefined) placeMultusConf(run, multus);
  return { credentials, multus, multusSource: source };
}

/** multus' configuration into CNI_CONF_DIR, or why not yet; a warning if the runtime would not use it. */
function placeMultusConf(run: InstallRun, multus: Desired): void {
  const { confDir } = run.settings;
  if (multus.kind === "keep") {
    run.log(multus.why);
    return;
  }
  const path = join(confDir, multus.conf.fileName);
  const outcome = installMultusConf(confDir, multus.conf, run.log);
  run.log(outcome === "written" ? `wrote ${path} from ${multus.from}` : `${path} up to date`);
  const shadowed = shadowWarning(confDir, multus.conf.fileName);
  if (shadowed !== undefined) run.log(shadowed);
}

/** Installs, then (without --once) keeps the kubeconfigs and multus' configuration current until `stopped`. */
export async function runInstall(run: InstallRun, stopped: Promise<unknown>): Promise<void> {
  const installed = installOnce(run);
  if (run.settings.once) return;
  const { cluster, multus } = run.settings;
  const layout = layoutOf(run.settings);
  const files = kubeconfigs(run, layout);
  run.log(
    `watching ${[cluster.tokenFile, cluster.caFile].filter((f) => f !== undefined).join(" and ")} for changes`,
  );
  const credentialWatch = watchCredentials(installed.credentials, {
    clock: run.clock,
    read: () => readCredentials(cluster),
    rewrite: (credentials) => {
      for (const { path, owner } of files) writeKubeconfig(run, path, owner, credentials);
    },
    drifted: (credentials) =>
      files.some(({ path, owner }) => onDisk(path) !== kubeconfigText(cluster, credentials, owner)),
    log: (line) => run.log(line),
    stopped,
  });
  if (multus === undefined || installed.multusSource === undefined) return await credentialWatch;
  run.log(
    multus.confFile === undefined
      ? `watching ${multus.masterFileName === undefined ? multus.autoconfigDir : join(multus.autoconfigDir, multus.masterFileName)} for the master CNI configuration`
      : `watching ${multus.confFile} for changes`,
  );
  await Promise.all([
    credentialWatch,
    watchMultusConf(installed.multus, {
      clock: run.clock,
      confDir: run.settings.confDir,
      source: installed.multusSource,
      install: (conf) => installMultusConf(run.settings.confDir, conf, run.log),
      log: (line) => run.log(line),
      stopped,
    }),
  ]);
}
