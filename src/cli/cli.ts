// The command-line face of the executable (no CNI_COMMAND): help, version and operator tools.
import { aboutText } from "../about.ts";
import { describe } from "../errors/errors.ts";
import { isUsageError, parseCommandArgs } from "../tools/usage-error.ts";

/** How the executable was started. */
export interface CliContext {
  /** Run by kubectl as `kubectl thereabouts …` (installed as kubectl-thereabouts). */
  readonly kubectlPlugin: boolean;
}

const USAGE = `thereabouts: cluster-wide IPAM for Kubernetes secondary networks
(Whereabouts-compatible)

As a CNI plugin it is run by the container runtime or Multus with CNI_COMMAND
set (ADD, DEL, CHECK, GC, STATUS, VERSION) and the network configuration on
stdin.

Usage: thereabouts <command> [options]

Commands:
  demo     Attach simulated pods on simulated nodes through the real plugin
           (embedded store), print who got which address, then detach them
           all. No root needed.
           --pods N (default 12)  --nodes N (default 4)
           --range CIDR (default 192.0.2.0/28)  --store PATH
  status   Check the datastore of a network configuration and show pool usage.
           --config FILE (a CNI network config or conflist)
  show     Pools, their usage and who holds which address: show [pools],
           show pool NAME, show pod NS/NAME, show ip ADDRESS;
           -o table|json|yaml. \`thereabouts show --help\`.
           Also \`kubectl thereabouts show …\` when installed as
           kubectl-thereabouts on PATH.
  check    Scan every pool of a store for duplicates, leaks, broken pools and
           (Kubernetes) gone pods; --fix repairs what is safe.
           \`thereabouts check --help\` lists its options.
  release  Free an address (release ADDRESS) or a pod's addresses
           (release --pod NS/NAME); refuses while the owner pod lives unless
           --force. \`thereabouts release --help\` lists its options.
  agent    Serve this node's plugin calls with warm datastore connections,
           cached pools and grouped commits (one per node; plugins work alone
           without it). \`thereabouts agent --help\` lists its options.
  controller
           Run the cluster's address garbage collector (leader-elected;
           health, readiness and Prometheus metrics on --listen).
           \`thereabouts controller --help\` lists its options.
  install  Install this executable and whereabouts.d/ (kubeconfig, flat file,
           nodename) on the host, as the DaemonSet's entrypoint; keeps the
           kubeconfig's token current unless --once.
           \`thereabouts install --help\` lists its options and environment.
  uninstall
           Remove what install wrote. \`thereabouts uninstall --help\` says
           what exactly.
  migrate  Copy Go Whereabouts v0.5.4's etcd allocations into a thereabouts
           datastore (IPPools and reservations); idempotent.
           --from FILE --to FILE [--dry-run]; \`thereabouts migrate --help\`.
  version  Print the version and the CNI versions the plugin supports.
  help     Show this text.
`;

export async function runCli(
  argv: readonly string[],
  context: CliContext = { kubectlPlugin: false },
): Promise<number> {
  const [command = "help", ...rest] = argv;
  const program = context.kubectlPlugin ? "kubectl thereabouts" : "thereabouts";
  try {
    switch (command) {
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(usageOf(program));
        return 0;
      case "version":
      case "--version":
        process.stdout.write(aboutText());
        return 0;
      case "demo": {
        const { values } = parseCommandArgs({ args: [...rest], options: DEMO_OPTIONS });
        if (values.help === true) return printUsage(DEMO_USAGE);
        const { runDemo } = await import("./demo.ts");
        return await runDemo(values);
      }
      case "status": {
        const { values } = parseCommandArgs({ args: [...rest], options: STATUS_OPTIONS });
        if (values.help === true) return printUsage(STATUS_USAGE);
        const { runStatus } = await import("./status.ts");
        return await runStatus(values);
      }
      case "show": {
        const { runShow } = await import("./show.ts");
        return await runShow(rest, { ...context, env: process.env });
      }
      case "check": {
        const { runCheck } = await import("./check.ts");
        return await runCheck(rest, { ...context, env: process.env });
      }
      case "release": {
        const { runRelease } = await import("./release.ts");
        return await runRelease(rest, { ...context, env: process.env });
      }
      case "agent": {
        const { runAgentCommand } = await import("./agent.ts");
        return await runAgentCommand(rest);
      }
      case "controller": {
        const { runControllerCommand } = await import("./controller.ts");
        return await runControllerCommand(rest);
      }
      case "install": {
        const { runInstallCommand } = await import("./install.ts");
        return await runInstallCommand(rest);
      }
      case "uninstall": {
        const { runUninstallCommand } = await import("./install.ts");
        return await runUninstallCommand(rest);
      }
      case "migrate": {
        const { runMigrateCommand } = await import("./migrate.ts");
        return await runMigrateCommand(rest);
      }
      default:
        process.stderr.write(`${program}: unknown command "${command}"\n\n${usageOf(program)}`);
        return 2;
    }
  } catch (error) {
    process.stderr.write(`${program} ${command}: ${describe(error)}\n`);
    if (!isUsageError(error)) return 1;
    process.stderr.write(`Run '${program} ${command} --help' for usage.\n`);
    return 2;
  }
}

/** The usage, naming the program as it was run (kubectl users type `kubectl thereabouts`). */
function usageOf(program: string): string {
  return program === "thereabouts" ? USAGE : USAGE.replace("Usage: thereabouts", `Usage: ${program}`);
}

const DEMO_OPTIONS = {
  pods: { type: "string" },
  nodes: { type: "string" },
  range: { type: "string" },
  store: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const DEMO_USAGE = `Usage: thereabouts demo [--pods N] [--nodes N] [--range CIDR] [--store PATH]

Attaches simulated pods on simulated nodes through the real plugin (one plugin
process per attachment, embedded store), prints who got which address, then
detaches them all and shows that nothing is left. No root needed.

  --pods N        pods to attach (default 12)
  --nodes N       simulated nodes they are spread over (default 4)
  --range CIDR    the network's range (default 192.0.2.0/28)
  --store PATH    the store file (default: one in a temporary directory)
`;

const STATUS_OPTIONS = {
  config: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const STATUS_USAGE = `Usage: thereabouts status --config FILE

Checks that the datastore of a network configuration answers, shows how full
each of its pools is, and whether a node agent serves this node's plugins.

  --config FILE   a CNI network configuration or conflist
`;

function printUsage(text: string): number {
  process.stdout.write(text);
  return 0;
}
