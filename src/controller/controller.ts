// `thereabouts controller`: the cluster's garbage collector of addresses (docs/controller.md).
// One process per cluster, any number of replicas: the holder of the Lease `thereabouts-controller`
// watches every pod and frees a gone pod's addresses within seconds (the fast path), resyncs
// everything once it starts leading (what leaked while no controller ran), and sweeps on the
// reconciler's cron schedule; it also keeps the NodeSlicePools of node-slice networks
// (node-slice-watch.ts). Every replica serves /healthz, /readyz and /metrics; only the leader
// writes (pools, reservations, Events).
//
// This file only wires the parts together: the work queue (reconcile-queue.ts), one reconcile
// (gc-run.ts), the schedule (cron-schedule.ts), leadership (leader.ts), the pod view
// (cluster-view.ts) and the probe server (src/net/health-server.ts). The process environment is
// read once, by the command line (src/cli/controller.ts), into ControllerOptions.

import { VERSION } from "../about.ts";
import { ADD_TIMEOUT_MS } from "../cni/plugin.ts";
import type { LogFormat } from "../config/types.ts";
import { systemClock } from "../ipam/retry.ts";
import { KubeClient } from "../kube/client.ts";
import type { KubeConnection } from "../kube/kubeconfig.ts";
import { daemonLog } from "../log/line.ts";
import { type HealthServer, type Readiness, startHealthServer } from "../net/health-server.ts";
import { createTransport } from "../net/http-transport.ts";
import { parseListen } from "../net/listen-address.ts";
import { KubernetesStore } from "../store/kubernetes/kubernetes-store.ts";
import { errorFields } from "./advice.ts";
import { ClusterView } from "./cluster-view.ts";
import { DEFAULT_CRON_FILE } from "./cron-config.ts";
import { CronSchedule } from "./cron-schedule.ts";
import { EventRecorder } from "./events.ts";
import { gcRun, type Log, reportGaveUp } from "./gc-run.ts";
import { controllerConnection, Kube } from "./kube.ts";
import { DEFAULT_LEADER_OPTIONS, LeaderElector } from "./leader.ts";
import { podState } from "./liveness.ts";
import { createMetrics } from "./metrics.ts";
import { NodeSliceWatch } from "./node-slice-watch.ts";
import type { PodReader } from "./reconcile.ts";
import { DEFAULT_QUEUE_OPTIONS, ReconcileQueue } from "./reconcile-queue.ts";
import { stickyOwnerReader, stickyRun } from "./sticky-gc.ts";
import { StickyWatch } from "./sticky-watch.ts";

export interface ControllerOptions {
  /** A kubeconfig (--kubeconfig, else $KUBECONFIG); in-cluster credentials when undefined. */
  readonly kubeconfig?: string;
  /** Where pools, reservations, the Lease and the ConfigMap live; default: the connection's. */
  readonly namespace?: string;
  /** `host:port` of the HTTP listener (/healthz, /readyz, /metrics). */
  readonly listen: string;
  readonly identity: string;
  /** The controller's own pod, when it runs in one (for Events without a ConfigMap). */
  readonly pod?: { readonly namespace: string; readonly name: string };
  /** The process environment as read at start-up (in-cluster connection settings). */
  readonly env: NodeJS.ProcessEnv;
  readonly leaseName: string;
  readonly leaseDurationMs: number;
  readonly renewIntervalMs: number;
  readonly renewDeadlineMs: number;
  readonly retryIntervalMs: number;
  readonly cronFile: string;
  /** WHEREABOUTS_RECONCILER_CRON, read at start-up. */
  readonly cronEnv?: string;
  readonly flatFilePaths: readonly string[];
  readonly configPollMs: number;
  /** How long the fast path gathers gone pods before one reconcile. */
  readonly batchMs: number;
  /** How the controller's log lines on stderr are written. */
  readonly logFormat: LogFormat;
  /** --sticky-release-after: how long a sticky address's owner must stay gone before it is freed. */
  readonly stickyReleaseAfterMs: number;
  /**
   * --reslice-grace: how long, after a re-slice of a network without overlapping-range
   * reservations, the slices it replaced stay out of the offer (an ADD that read them may still be
   * writing into them until its deadline).
   */
  readonly resliceGraceMs: number;
}

export const DEFAULT_CONTROLLER_OPTIONS = {
  listen: "0.0.0.0:8080",
  leaseName: DEFAULT_LEADER_OPTIONS.name,
  leaseDurationMs: DEFAULT_LEADER_OPTIONS.leaseDurationMs,
  renewIntervalMs: DEFAULT_LEADER_OPTIONS.renewIntervalMs,
  renewDeadlineMs: DEFAULT_LEADER_OPTIONS.renewDeadlineMs,
  retryIntervalMs: DEFAULT_LEADER_OPTIONS.retryIntervalMs,
  cronFile: DEFAULT_CRON_FILE,
  flatFilePaths: [],
  configPollMs: 30_000,
  batchMs: DEFAULT_QUEUE_OPTIONS.batchMs,
  logFormat: "json",
  stickyReleaseAfterMs: 300_000,
  resliceGraceMs: ADD_TIMEOUT_MS,
} as const satisfies Partial<ControllerOptions>;

/** How long a shutdown waits for the reconcile in progress. */
const SHUTDOWN_GRACE_MS = 5_000;

export async function runController(options: ControllerOptions): Promise<number> {
  // One JSON object per line on stderr (or text lines, --log-format text).
  const log: Log = daemonLog(options.logFormat, (line) => process.stderr.write(line));
  let connection: KubeConnection;
  try {
    connection = await controllerConnection(options.kubeconfig, options.env);
  } catch (error) {
    log("error", "cannot use the connection settings", errorFields(error));
    return 1;
  }
  const namespace = options.namespace || connection.namespace;
  const identity = options.identity;
  const kube = new Kube(connection);
  const store = new KubernetesStore(
    new KubeClient({ connection, transport: createTransport(connection.tls), attemptTimeoutMs: 5_000 }),
    namespace,
    30_000,
  );
  const metrics = createMetrics(namespace, () => store.listPools());
  const events = new EventRecorder(kube, identity, (error) =>
    log("error", "could not record an event", errorFields(error)),
  );
  const elector = new LeaderElector(kube, {
    namespace,
    name: options.leaseName,
    identity,
    leaseDurationMs: options.leaseDurationMs,
    renewIntervalMs: options.renewIntervalMs,
    renewDeadlineMs: options.renewDeadlineMs,
    retryIntervalMs: options.retryIntervalMs,
  });
  let view: ClusterView | undefined;
  let sticky: StickyWatch | undefined;
  let slices: NodeSliceWatch | undefined;
  const pods: PodReader = {
    async get(ns, name) {
      const reply = await kube.send(
        {
          method: "GET",
          path: `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}`,
          expect: [404],
        },
        "read a pod at",
      );
      return reply.status === 404 ? undefined : podState(reply.body);
    },
  };

  const queue = new ReconcileQueue(
    systemClock,
    {
      reconcile: gcRun({ store, pods, view: () => view, events, metrics, log }),
      failed(trigger, error) {
        metrics.failedRun(trigger);
        log("error", "reconcile failed", { trigger, ...errorFields(error) });
      },
      gaveUp: (ref, state, attempts) => reportGaveUp(events, log, ref, state, attempts),
    },
    { ...DEFAULT_QUEUE_OPTIONS, batchMs: options.batchMs, admits: () => elector.leading },
  );
  const cron = new CronSchedule({
    kube,
    namespace,
    file: options.cronFile,
    flatFilePaths: options.flatFilePaths,
    pollMs: options.configPollMs,
    envExpression: options.cronEnv,
    pod: options.pod,
    events,
    leading: () => elector.leading,
    fire: () => queue.enqueueSweep("cron"),
    log,
  });

  const readiness = (): Readiness => {
    if (elector.leading)
      return view?.synced
        ? { ready: true, text: `leader ${identity}` }
        : { ready: false, text: "leader, pods not listed yet" };
    if (elector.inContact) return { ready: true, text: `standby (leader: ${elector.holder || "none"})` };
    return { ready: false, text: "no contact with the API server's Lease" };
  };
  const server: HealthServer = await startHealthServer({
    listen: parseListen(options.listen),
    readiness,
    metrics: async () => ({
      contentType: metrics.registry.contentType,
      body: await metrics.registry.metrics(),
    }),
  });
  process.stdout.write(`${JSON.stringify({ listening: server.url })}\n`);
  log("info", "controller started", {
    version: VERSION,
    listening: server.url,
    server: connection.server,
    namespace,
    identity,
    lease: `${namespace}/${options.leaseName}`,
  });
  await cron.start();

  let stopping = false;
  let exitCode = 0;
  let finish: (() => void) | undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    view?.stop();
    cron.stop();
    await sticky?.stop();
    await slices?.stop();
    await queue.stop(SHUTDOWN_GRACE_MS);
    await elector.stop();
    metrics.setLeader(false);
    await server.close();
    kube.close();
    await store.close();
    finish?.();
  };
  process.once("SIGTERM", () => void shutdown(0));
  process.once("SIGINT", () => void shutdown(0));

  void elector.run({
    onStartedLeading() {
      metrics.setLeader(true);
      const cluster = new ClusterView(kube, namespace, {
        candidate: (ref, state, how) => {
          log("info", `pod ${how}`, { pod: ref, uid: state?.uid, why: state?.gone });
          queue.enqueuePod(ref, state);
        },
        poolChanged: () => slices?.schedule(),
        log,
      });
      view = cluster;
      slices = new NodeSliceWatch(kube, cluster, {
        namespace,
        flatFilePaths: options.flatFilePaths,
        resliceGraceMs: options.resliceGraceMs,
        log,
      });
      cluster.start();
      slices.start();
      const watch = new StickyWatch(
        kube,
        cluster,
        systemClock,
        {
          graceMs: options.stickyReleaseAfterMs,
          passMs: Math.min(10_000, Math.max(250, options.stickyReleaseAfterMs / 4)),
        },
        { release: stickyRun({ store, pods, owners: stickyOwnerReader(kube), metrics, log }), log },
      );
      sticky = watch;
      metrics.stickyWaiting(() => watch.clock.counts());
      watch.start();
      void queue.run();
      void cluster.waitSynced().then(() => queue.enqueueSweep("startup"));
      void cron.reportInvalid();
    },
    onStoppedLeading(reason) {
      log("error", "lost the lease: exiting so that no deposed leader writes", { reason });
      void shutdown(1);
    },
    log,
  });

  await finished;
  log("info", "controller stopped", { code: exitCode });
  return exitCode;
}
