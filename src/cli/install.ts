// `thereabouts install` and `thereabouts uninstall` (src/install/). Loaded only for these commands
// (the CLI imports it dynamically), so nothing of the installer is evaluated when the binary runs
// as a CNI plugin.

import { runInstall } from "../install/install.ts";
import { installSettings, uninstallTargets } from "../install/settings.ts";
import { runUninstall } from "../install/uninstall.ts";
import { systemClock } from "../ipam/retry.ts";

const ENVIRONMENT = `Environment (as Whereabouts' install-cni.sh):
  CNI_BIN_DIR                  where the executable goes (default
                               /host/opt/cni/bin)
  CNI_CONF_DIR                 where whereabouts.d/ goes (default
                               /host/etc/cni/net.d)`;

export const INSTALL_USAGE = `Usage: thereabouts install [--once] [--names LIST] [--service-account-dir DIR]
                           [--multus [--multus-… options]]

The DaemonSet's entrypoint (docs/install.md): installs this executable into
CNI_BIN_DIR under every name of --names (each a regular file, replaced
atomically), and writes whereabouts.kubeconfig, whereabouts.conf and nodename
into CNI_CONF_DIR/whereabouts.d/. Then, unless --once, keeps running and
rewrites the kubeconfig within 2 s of a ServiceAccount token or CA change;
SIGTERM or SIGINT end it with exit 0 and every file left in place.

  --once                       install, then exit
  --names LIST                 the names installed (default
                               thereabouts,whereabouts)
  --service-account-dir DIR    token and ca.crt (default
                               /var/run/secrets/kubernetes.io/serviceaccount)

Multus, as its thin entrypoint installs it: the executable also as multus,
CNI_CONF_DIR/multus.d/multus.kubeconfig, and multus' configuration
00-multus.conf (.conflist from CNI 1.0.0) made from the master, the first
.conf/.conflist in CNI_CONF_DIR, and made again within 2 s of its change.
  --multus                     install Multus too
  --multus-conf-file FILE      install FILE instead of generating one
                               (default auto)
  --multus-autoconfig-dir DIR  where the master is (default CNI_CONF_DIR)
  --multus-master-cni-file-name NAME
                               the master's file name, not the first one
  --multus-cni-version V       the master must have this cniVersion
  --multus-override-network-name
                               the master's name, not multus-cni-network
  --multus-namespace-isolation pods reference NADs of their namespace only
  --multus-global-namespaces LIST
                               namespaces exempt from isolation
  --multus-log-level LEVEL     debug, verbose, error or panic
  --multus-log-file PATH       multus' log file on the host
  --multus-log-to-stderr BOOL  true (default) or false
  --multus-readiness-indicator-file PATH
                               multus waits for this host file on ADD
  --multus-additional-bin-dir DIR
                               host directory searched for delegates first

${ENVIRONMENT}
  KUBERNETES_SERVICE_HOST/PORT the API server (set by kubelet; an IPv6 address
                               is put in brackets)
  KUBERNETES_SERVICE_PROTOCOL  https (default) or http
  KUBE_CA_FILE                 the CA to trust (default
                               <service-account-dir>/ca.crt)
  SKIP_TLS_VERIFY              true: write insecure-skip-tls-verify instead of
                               the CA
  KUBECONFIG_MODE              the kubeconfig's mode, octal (default 600)
  WHEREABOUTS_NAMESPACE        the kubeconfig context's namespace (pools,
                               reservations)
  NODENAME                     written to whereabouts.d/nodename (from
                               spec.nodeName)
  WHEREABOUTS_RECONCILER_CRON  the flat file's reconciler_cron_expression
                               (default "30 4 * * *")
`;

export const UNINSTALL_USAGE = `Usage: thereabouts uninstall [--names LIST] [--multus [--multus-conf-file FILE]]

Removes what install writes: the executable under every name of --names
(default thereabouts,whereabouts) when the file there is this executable, then
whereabouts.kubeconfig, whereabouts.conf and nodename in whereabouts.d/, and
whereabouts.d/ itself when it is then empty. With --multus, first multus'
configuration, then multus with the other names, then multus.d/ as
whereabouts.d/. Other files are left alone. Takes install's flags and
environment; only these matter:

${ENVIRONMENT}
`;

/**
 * The file to install: this executable, as the built binary. Run from source, process.execPath is
 * the Node or Bun runtime, which must not land in the CNI bin directory as a plugin.
 */
function runningExecutable(): string {
  const main = (globalThis as { Bun?: { main?: string } }).Bun?.main;
  if (main === undefined || !main.startsWith("/$bunfs/"))
    throw new Error(
      "install copies the running executable: run the built binary (npm run build → bin/thereabouts), not the sources",
    );
  return process.execPath;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

export async function runInstallCommand(args: readonly string[]): Promise<number> {
  const settings = installSettings(args, process.env);
  if (settings === "help") {
    process.stdout.write(INSTALL_USAGE);
    return 0;
  }
  // Listening from the start: a SIGTERM during the first installation lets it finish, then ends.
  const stopped = new Promise<string>((resolve) => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => resolve(signal));
  });
  await runInstall({ settings, executable: runningExecutable(), clock: systemClock, log }, stopped);
  if (!settings.once) log(`${await stopped}: exiting, every installed file stays`);
  return 0;
}

export async function runUninstallCommand(args: readonly string[]): Promise<number> {
  const targets = uninstallTargets(args, process.env);
  if (targets === "help") {
    process.stdout.write(UNINSTALL_USAGE);
    return 0;
  }
  runUninstall({ targets, executable: runningExecutable(), log });
  return 0;
}
