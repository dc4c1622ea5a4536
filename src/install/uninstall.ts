// `thereabouts uninstall`: removes what install writes and nothing else. The executable goes
// first, so no plugin runs on without its flat file (it would fall to the embedded store); a
// file under one of the names that is not this executable (Go's whereabouts put back, another
// version) is kept and said so. Then the three files of whereabouts.d/, and the directory when
// nothing else is left in it — unless another installer has rewritten them since (Go's
// install-cni.sh on the way back writes all three, its kubeconfig without our first line): then
// they are its plugin's, which needs them, and they stay.
import { lstatSync, rmdirSync, statSync, unlinkSync } from "node:fs";
import { FileRefusedError, fileReason, readConfigFile } from "../files/config-file.ts";
import { KUBECONFIG_MARK } from "./kubeconfig-text.ts";
import { layoutOf } from "./layout.ts";
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

export function runUninstall(run: UninstallRun): void {
  const layout = layoutOf(run.targets);
  const self = statSync(run.executable);
  for (const binary of layout.binaries) {
    const stats = lstatSync(binary, { throwIfNoEntry: false });
    if (stats === undefined) continue;
    if (stats.isFile() && sameContent(self, run.executable, stats, binary)) remove(run, binary);
    else run.log(`kept ${binary}: not this executable (another program or version)`);
  }
  if (!writtenByInstall(layout.kubeconfig)) {
    run.log(`kept ${layout.confSubdir}/: its kubeconfig was written by another installer`);
    return;
  }
  remove(run, layout.kubeconfig);
  remove(run, layout.flatFile);
  remove(run, layout.nodeName);
  try {
    rmdirSync(layout.confSubdir);
    run.log(`removed ${layout.confSubdir}`);
  } catch (error) {
    const code = errno(error);
    if (code === "ENOTEMPTY" || code === "EEXIST") run.log(`kept ${layout.confSubdir}: it holds other files`);
    else if (code !== "ENOENT") throw new Error(`cannot remove ${layout.confSubdir}: ${fileReason(error)}`);
  }
}

/** Whether the kubeconfig is install's own (or gone); one another installer wrote is not. */
function writtenByInstall(kubeconfig: string): boolean {
  try {
    return readConfigFile(kubeconfig).startsWith(`${KUBECONFIG_MARK}\n`);
  } catch (error) {
    if (error instanceof FileRefusedError && error.code === "ENOENT") return true;
    throw new Error(`cannot read ${kubeconfig}: ${fileReason(error)}`);
  }
}
