// `thereabouts controller [options]`: flags → ControllerOptions. Loaded only for this command (the
// CLI imports it dynamically), so nothing of the controller is evaluated when the binary runs as a
// CNI plugin.
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import {
  type ControllerOptions,
  DEFAULT_CONTROLLER_OPTIONS,
  runController,
} from "../controller/controller.ts";
import { CRON_ENV } from "../controller/cron.ts";
import { logFormatFlag } from "../log/line.ts";

export const CONTROLLER_USAGE = `Usage: thereabouts controller [options]

Frees the addresses of deleted, terminated and evicted pods cluster-wide
(docs/controller.md). Run one Deployment per cluster; replicas elect a leader
on the Lease thereabouts-controller.

  --kubeconfig PATH         kubeconfig (default: $KUBECONFIG, else the pod's
                            ServiceAccount)
  --namespace NS            namespace of pools, reservations, Lease and
                            ConfigMap (default: $WHEREABOUTS_NAMESPACE, else
                            the kubeconfig context's, else kube-system)
  --listen HOST:PORT        /healthz, /readyz and /metrics (default
                            0.0.0.0:8080; port 0 picks one)
  --identity ID             Lease holder identity (default:
                            $POD_NAMESPACE/$POD_NAME, else host_pid_random)
  --lease-name NAME         (default thereabouts-controller)
  --lease-duration D        (default 15s)   --renew-interval D (default 5s)
  --renew-deadline D        (default 10s)   --retry-interval D (default 2s)
  --cron-file PATH          mounted cron expression (default
                            /cron-schedule/config)
  --flat-file PATH          extra whereabouts.conf to search for
                            reconciler_cron_expression (repeatable)
  --config-poll-interval D  how often the cron sources are re-read (default
                            30s)
  --fast-path-batch D       how long gone pods are gathered before one release
                            (default 200ms)
  --log-format json|text    log lines on stderr: one JSON object per line
                            (default), or text
  --sticky-release-after D  how long the owner of a sticky address (a
                            StatefulSet slot, a KubeVirt VM) must stay gone
                            before the address is freed (default 5m)
  --reslice-grace D         after a re-slice of a network without
                            overlapping-range reservations, how long the
                            slices it replaced are not offered (default 60s,
                            the plugin's ADD deadline)
Durations: 1500ms, 15s, 2m, 1h.
`;

const OPTIONS = {
  kubeconfig: { type: "string" },
  namespace: { type: "string" },
  listen: { type: "string" },
  identity: { type: "string" },
  "lease-name": { type: "string" },
  "lease-duration": { type: "string" },
  "renew-interval": { type: "string" },
  "renew-deadline": { type: "string" },
  "retry-interval": { type: "string" },
  "cron-file": { type: "string" },
  "flat-file": { type: "string", multiple: true },
  "config-poll-interval": { type: "string" },
  "fast-path-batch": { type: "string" },
  "log-format": { type: "string" },
  "sticky-release-after": { type: "string" },
  "reslice-grace": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** `15s`, `1500ms`, `2m`, `1h` → milliseconds. */
export function parseDuration(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (match === null)
    throw new Error(`invalid --${flag} "${text}": expected a duration such as 1500ms, 15s, 2m`);
  return Math.round(Number(match[1]) * UNITS[match[2]!]!);
}

/** The Lease identity: the pod (POD_NAMESPACE/POD_NAME, from the downward API), else unique. */
export function defaultIdentity(env: NodeJS.ProcessEnv): string {
  const pod = env["POD_NAME"];
  const ns = env["POD_NAMESPACE"];
  if (pod) return ns ? `${ns}/${pod}` : pod;
  return `${hostname()}_${process.pid}_${Math.random().toString(16).slice(2, 10)}`;
}

/** Flags first, then the environment (read here, once), then the defaults. */
export function controllerOptions(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): ControllerOptions | "help" {
  const { values } = parseArgs({ args: [...args], options: OPTIONS, strict: true });
  if (values.help) return "help";
  const d = DEFAULT_CONTROLLER_OPTIONS;
  const kubeconfig = values.kubeconfig ?? (env["KUBECONFIG"] || undefined);
  const namespace = values.namespace ?? (env["WHEREABOUTS_NAMESPACE"] || undefined);
  const podName = env["POD_NAME"];
  const podNamespace = env["POD_NAMESPACE"];
  const cronEnv = env[CRON_ENV];
  const options: ControllerOptions = {
    ...(kubeconfig === undefined ? {} : { kubeconfig }),
    ...(namespace === undefined ? {} : { namespace }),
    identity: values.identity || defaultIdentity(env),
    ...(podName && podNamespace ? { pod: { namespace: podNamespace, name: podName } } : {}),
    ...(cronEnv === undefined ? {} : { cronEnv }),
    env: {
      KUBERNETES_SERVICE_HOST: env["KUBERNETES_SERVICE_HOST"],
      KUBERNETES_SERVICE_PORT: env["KUBERNETES_SERVICE_PORT"],
    },
    listen: values.listen ?? d.listen,
    leaseName: values["lease-name"] ?? d.leaseName,
    leaseDurationMs: parseDuration("lease-duration", values["lease-duration"], d.leaseDurationMs),
    renewIntervalMs: parseDuration("renew-interval", values["renew-interval"], d.renewIntervalMs),
    renewDeadlineMs: parseDuration("renew-deadline", values["renew-deadline"], d.renewDeadlineMs),
    retryIntervalMs: parseDuration("retry-interval", values["retry-interval"], d.retryIntervalMs),
    cronFile: values["cron-file"] ?? d.cronFile,
    flatFilePaths: values["flat-file"] ?? d.flatFilePaths,
    configPollMs: parseDuration("config-poll-interval", values["config-poll-interval"], d.configPollMs),
    batchMs: parseDuration("fast-path-batch", values["fast-path-batch"], d.batchMs),
    logFormat: logFormatFlag(values["log-format"], d.logFormat),
    stickyReleaseAfterMs: parseDuration(
      "sticky-release-after",
      values["sticky-release-after"],
      d.stickyReleaseAfterMs,
    ),
    resliceGraceMs: parseDuration("reslice-grace", values["reslice-grace"], d.resliceGraceMs),
  };
  // client-go's rule: LeaseDuration > RenewDeadline > RetryPeriod, all positive.
  if (
    !(options.leaseDurationMs > options.renewDeadlineMs && options.renewDeadlineMs > options.retryIntervalMs)
  )
    throw new Error("--lease-duration must exceed --renew-deadline, which must exceed --retry-interval");
  if (options.renewIntervalMs <= 0 || options.renewIntervalMs >= options.renewDeadlineMs)
    throw new Error("--renew-interval must be positive and shorter than --renew-deadline");
  if (options.configPollMs < 100) throw new Error("--config-poll-interval must be at least 100ms");
  if (options.stickyReleaseAfterMs < 1_000)
    throw new Error(
      "--sticky-release-after must be at least 1s (a StatefulSet pod's restart or a VM's live migration must fit in it)",
    );
  return options;
}

export async function runControllerCommand(args: readonly string[]): Promise<number> {
  const options = controllerOptions(args);
  if (options === "help") {
    process.stdout.write(CONTROLLER_USAGE);
    return 0;
  }
  return runController(options);
}
