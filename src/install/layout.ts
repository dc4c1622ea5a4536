// Where install writes, as Whereabouts' installer lays it out on the host: the executable in the
// CNI bin directory, and whereabouts.d/ (kubeconfig, flat file, nodename) in the CNI configuration
// directory, where the plugin's default flat-file search finds it. With --multus, as Multus' thin
// entrypoint lays it out: multus.d/multus.kubeconfig beside it, and multus' network
// configuration in the configuration directory itself.
import { join } from "node:path";
import type { InstallTargets } from "./settings.ts";

export const CONF_SUBDIR = "whereabouts.d";
export const MULTUS_SUBDIR = "multus.d";

export interface Layout {
  /** CNI_CONF_DIR/whereabouts.d */
  readonly confSubdir: string;
  readonly kubeconfig: string;
  readonly flatFile: string;
  readonly nodeName: string;
  /** CNI_BIN_DIR/<name> for every --names entry, in order (and multus, with --multus). */
  readonly binaries: readonly string[];
  /** CNI_CONF_DIR/multus.d (--multus) */
  readonly multusSubdir: string;
  readonly multusKubeconfig: string;
}

export function layoutOf(targets: InstallTargets): Layout {
  const confSubdir = join(targets.confDir, CONF_SUBDIR);
  return {
    confSubdir,
    kubeconfig: join(confSubdir, "whereabouts.kubeconfig"),
    flatFile: join(confSubdir, "whereabouts.conf"),
    nodeName: join(confSubdir, "nodename"),
    binaries: targets.names.map((name) => join(targets.binDir, name)),
    multusSubdir: join(targets.confDir, MULTUS_SUBDIR),
    multusKubeconfig: join(targets.confDir, MULTUS_SUBDIR, "multus.kubeconfig"),
  };
}

/**
 * A path as the host sees it: the installer runs in a container with the host's directories
 * mounted under /host, and the plugin, run by the runtime on the host, must find the files the
 * flat file names (/host/etc/cni/net.d → /etc/cni/net.d). Other paths are the host's already.
 */
export function onHost(containerPath: string): string {
  if (containerPath === "/host") return "/";
  return containerPath.startsWith("/host/") ? containerPath.slice("/host".length) : containerPath;
}
