// `thereabouts install`, the DaemonSet's entrypoint: puts the plugin on the host as Whereabouts'
// installer does (whereabouts.d/ with kubeconfig, flat file and nodename; the executable in the
// CNI bin directory), then, unless --once, keeps the kubeconfig's token and CA current until
// SIGTERM. Nothing is ever removed here: a DaemonSet rollout or a deleted pod stops the installer,
// but the runtime still needs the plugin for the DEL of every pod on the node.
import { mkdirSync, statSync } from "node:fs";
import { fileReason, readOptionalFile } from "../files/config-file.ts";
import type { Clock } from "../ipam/retry.ts";
import { watchCredentials } from "./credential-watcher.ts";
import { type Credentials, readCredentials } from "./credentials.ts";
import { flatFileText } from "./flat-file-text.ts";
import { kubeconfigText } from "./kubeconfig-text.ts";
import { type Layout, layoutOf } from "./layout.ts";
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

function writeKubeconfig(run: InstallRun, layout: Layout, credentials: Credentials): Outcome {
  return writeFileAtomically(
    layout.kubeconfig,
    kubeconfigText(run.settings.cluster, credentials),
    run.settings.kubeconfigMode,
  );
}

/** The kubeconfig as it is now, or undefined when it is gone or cannot be read. */
function kubeconfigOnDisk(layout: Layout): string | undefined {
  try {
    return readOptionalFile(layout.kubeconfig);
  } catch {
    return undefined;
  }
}

/**
 * One installation: whereabouts.d/ first, then the executable, so that a runtime calling the new
 * plugin already finds its flat file (without one, a network configuration that names no
 * datastore would fall to the embedded local store). Returns the credentials written.
 */
export function installOnce(run: InstallRun): Credentials {
  const { settings } = run;
  const layout = layoutOf(settings);
  requireBinDir(settings.binDir);
  // Everything that can be refused is checked before anything is written.
  const credentials = readCredentials(settings.cluster);
  mkdirSync(layout.confSubdir, { recursive: true, mode: 0o755 });
  logOutcome(run, writeKubeconfig(run, layout, credentials), layout.kubeconfig, "wrote");
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
  return credentials;
}

/** Installs, then (without --once) keeps the kubeconfig current until `stopped`. */
export async function runInstall(run: InstallRun, stopped: Promise<unknown>): Promise<void> {
  const written = installOnce(run);
  if (run.settings.once) return;
  const { cluster } = run.settings;
  const layout = layoutOf(run.settings);
  run.log(
    `watching ${[cluster.tokenFile, cluster.caFile].filter((f) => f !== undefined).join(" and ")} for changes`,
  );
  await watchCredentials(written, {
    clock: run.clock,
    read: () => readCredentials(cluster),
    rewrite: (credentials) => {
      writeKubeconfig(run, layout, credentials);
    },
    drifted: (credentials) => kubeconfigOnDisk(layout) !== kubeconfigText(cluster, credentials),
    log: (line) => run.log(line),
    stopped,
  });
}
