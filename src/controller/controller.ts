// `thereabouts controller`: the cluster's garbage collector of addresses (docs/controller.md).
// One process per cluster, any number of replicas: the holder of the Lease `thereabouts-controller`
// watches every pod and frees a gone pod's addresses within seconds (the fast path), resyncs
// everything once it starts leading (what leaked while no controller ran), and sweeps on the
// reconciler's cron schedule. Every replica serves /healthz, /readyz and /metrics; only the leader
// writes (pools, reservations, Events).
import { createServer, type Server } from "node:http";
import { hostname } from "node:os";
import { parseListen } from "../net/listen-address.ts";
import { createTransport } from "../store/http/transport.ts";
import { KubeClient } from "../store/kubernetes/api-client.ts";
import { KubernetesStore } from "../store/kubernetes/kubernetes-store.ts";
import { ClusterView } from "./cluster-view.ts";
import { CONFIGMAP_NAME, type CronSetting, type Schedule, schedule } from "./cron.ts";
import { CronConfig, DEFAULT_CRON_FILE, readReconcilerConfigMap } from "./cron-config.ts";
import { EventRecorder } from "./events.ts";
import { controllerConnection, Kube } from "./kube.ts";
import { DEFAULT_LEADER_OPTIONS, LeaderElector } from "./leader.ts";
import { type PodState, podState, splitPodRef } from "./liveness.ts";
import { createMetrics, type Trigger } from "./metrics.ts";
import { type PodReader, type Release, reclaim } from "./reconcile.ts";

export interface ControllerOptions {
  readonly kubeconfig?: string;
  /** Where pools, reservations, the Lease and the ConfigMap live; default: the connection's. */
  readonly namespace?: string;
  /** `host:port` of the HTTP listener (/healthz, /readyz, /metrics). */
  readonly listen: string;
  readonly identity?: string;
  readonly leaseName: string;
  readonly leaseDurationMs: number;
  readonly renewIntervalMs: number;
  readonly renewDeadlineMs: number;
  readonly retryIntervalMs: number;
  readonly cronFile: string;
  readonly flatFilePaths: readonly string[];
  readonly configPollMs: number;
  /** How long the fast path gathers gone pods before one reconcile. */
  readonly batchMs: number;
}

export const DEFAULT_CONTROLLER_OPTIONS: ControllerOptions = {
  listen: "0.0.0.0:8080",
  leaseName: DEFAULT_LEADER_OPTIONS.name,
  leaseDurationMs: DEFAULT_LEADER_OPTIONS.leaseDurationMs,
  renewIntervalMs: DEFAULT_LEADER_OPTIONS.renewIntervalMs,
  renewDeadlineMs: DEFAULT_LEADER_OPTIONS.renewDeadlineMs,
  retryIntervalMs: DEFAULT_LEADER_OPTIONS.retryIntervalMs,
  cronFile: DEFAULT_CRON_FILE,
  flatFilePaths: [],
  configPollMs: 30_000,
  batchMs: 200,
};

interface Pending {
  /** The pod's last state seen (its uid for the Event), if it was seen at all. */
  readonly state: PodState | undefined;
  readonly attempt: number;
}

/** A fast-path pod whose reconcile failed is retried this many times, with growing pauses. */
const FAST_ATTEMPTS = 6;
export const RELEASE_REASON = "IPAddressGarbageCollected";
export const RELEASE_FAILED_REASON = "IPAddressGarbageCollectionFailed";
export const INVALID_CRON_REASON = "InvalidCronExpression";

type Level = "info" | "error";

export function log(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function defaultIdentity(env: NodeJS.ProcessEnv = process.env): string {
  const pod = env["POD_NAME"];
  const ns = env["POD_NAMESPACE"];
  if (pod) return ns ? `${ns}/${pod}` : pod;
  return `${hostname()}_${process.pid}_${Math.random().toString(16).slice(2, 10)}`;
}

export async function runController(options: ControllerOptions): Promise<number> {
  const connection = await controllerConnection(options.kubeconfig);
  const namespace = options.namespace || process.env["WHEREABOUTS_NAMESPACE"] || connection.namespace;
  const identity = options.identity || defaultIdentity();
  const kube = new Kube(connection);
  const store = new KubernetesStore(
    new KubeClient({ connection, transport: createTransport(connection.tls), attemptTimeoutMs: 5_000 }),
    namespace,
    30_000,
  );
  const metrics = createMetrics(namespace, () => store.listPools());
  const events = new EventRecorder(kube, identity, (error) =>
    log("error", "could not record an event", { error: errorText(error) }),
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

  // ---- reconcile work: one at a time ------------------------------------------------------------
  const pending = new Map<string, Pending>();
  const sweeps: Trigger[] = [];
  let wake: (() => void) | undefined;
  const poke = () => {
    wake?.();
    wake = undefined;
  };
  const enqueuePod = (ref: string, state: PodState | undefined, attempt = 0) => {
    if (!elector.leading || splitPodRef(ref) === undefined) return;
    const held = pending.get(ref);
    if (held === undefined || held.attempt > attempt) pending.set(ref, { state, attempt });
    poke();
  };
  const enqueueSweep = (trigger: Trigger) => {
    if (!elector.leading) return;
    if (!sweeps.includes(trigger)) sweeps.push(trigger);
    poke();
  };

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

  const released = (trigger: Trigger) => (r: Release) => {
    const parts = splitPodRef(r.podRef)!;
    const what =
      r.addresses.length > 0
        ? `IP address [${r.addresses.join(" ")}] from pool ${r.pool}${r.networkName === "" ? "" : ` (network ${r.networkName})`}`
        : `overlapping-range reservation [${r.reservations.join(" ")}]`;
    log("info", "released", { trigger, ...r });
    void events.record(
      { apiVersion: "v1", kind: "Pod", namespace: parts.namespace, name: parts.name, uid: r.uid },
      "Normal",
      RELEASE_REASON,
      `successful cleanup of ${what}: pod ${r.why}`,
    );
  };

  const runOnce = async (trigger: Trigger, refs?: ReadonlyMap<string, Pending>) => {
    const started = Date.now();
    const failedPods = new Set<string>();
    const cluster = view;
    const result = await reclaim(
      store,
      pods,
      {
        ...(refs === undefined ? {} : { refs: new Set(refs.keys()) }),
        ...(refs === undefined && cluster?.pods.synced ? { alive: (ref: string) => cluster.alive(ref) } : {}),
        lastSeen: (ref) => refs?.get(ref)?.state ?? cluster?.pods.get(ref),
      },
      {
        released: released(trigger),
        failed: (what, error, podRef) => {
          if (podRef !== undefined) failedPods.add(podRef);
          log("error", `reconcile: cannot ${what}`, { trigger, error: errorText(error) });
        },
        kept: (podRef, pod) =>
          log("info", "kept: the pod exists and is not gone", { trigger, pod: podRef, uid: pod.uid }),
      },
    );
    metrics.reclaimed(trigger, result.addresses, result.reservations);
    metrics.run(trigger, result.errors, (Date.now() - started) / 1000);
    log("info", "reconciled", {
      trigger,
      pods: refs?.size,
      addresses: result.addresses,
      reservations: result.reservations,
      errors: result.errors,
      ms: Date.now() - started,
    });
    return { result, failedPods };
  };

  const retryLater = (batch: ReadonlyMap<string, Pending>) => {
    for (const [ref, { state, attempt }] of batch) {
      if (attempt + 1 >= FAST_ATTEMPTS) {
        log("error", "giving up on a pod's addresses until the next sweep", { pod: ref });
        const parts = splitPodRef(ref)!;
        void events.record(
          {
            apiVersion: "v1",
            kind: "Pod",
            namespace: parts.namespace,
            name: parts.name,
            uid: state?.uid ?? "",
          },
          "Warning",
          RELEASE_FAILED_REASON,
          `failed to garbage collect addresses for pod ${ref} (retried ${FAST_ATTEMPTS} times; the next sweep tries again)`,
        );
        continue;
      }
      setTimeout(() => enqueuePod(ref, state, attempt + 1), 500 * 2 ** attempt).unref();
    }
  };

  let stopping = false;
  /** The reconcile in progress (shutdown lets it finish, for a while). */
  let current: Promise<unknown> = Promise.resolve();
  const worker = async () => {
    while (!stopping) {
      if (sweeps.length === 0 && pending.size === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      const trigger = sweeps.shift();
      if (trigger !== undefined) {
        pending.clear(); // a sweep covers every pod known gone so far
        try {
          current = runOnce(trigger);
          await current;
        } catch (error) {
          metrics.failedRun(trigger);
          log("error", "reconcile failed", { trigger, error: errorText(error) });
          if (trigger === "startup") setTimeout(() => enqueueSweep("startup"), 5_000).unref();
        }
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, options.batchMs));
      const batch = new Map(pending);
      pending.clear();
      try {
        const run = runOnce("fast", batch);
        current = run;
        const { result, failedPods } = await run;
        if (result.errors > 0)
          retryLater(
            failedPods.size > 0 ? new Map([...batch].filter(([ref]) => failedPods.has(ref))) : batch,
          );
      } catch (error) {
        metrics.failedRun("fast");
        log("error", "reconcile failed", { trigger: "fast", error: errorText(error) });
        retryLater(batch);
      }
    }
  };

  // ---- cron -----------------------------------------------------------------------------------------
  let job: Schedule | undefined;
  const startSchedule = (setting: CronSetting, pattern: string) => {
    job = schedule(pattern, () => enqueueSweep("cron"));
    log("info", "reconciler schedule", {
      expression: setting.expression,
      source: setting.source,
      where: setting.where,
      next: job.next()?.toISOString(),
    });
  };
  let invalidCron: { setting: CronSetting; error: string } | undefined;
  const reportInvalidCron = async () => {
    if (invalidCron === undefined || !elector.leading) return;
    const { setting, error } = invalidCron;
    const object = await cronEventObject();
    if (object !== undefined)
      await events.record(
        object,
        "Warning",
        INVALID_CRON_REASON,
        `${error} (from the ${setting.source} ${setting.where}); keeping the schedule "${cronConfig.inForce.setting.expression}"`,
      );
  };
  const cronEventObject = async () => {
    try {
      const reply = await readReconcilerConfigMap(kube, namespace);
      const uid = (reply.body as { metadata?: { uid?: string } } | undefined)?.metadata?.uid;
      if (reply.status === 200)
        return {
          apiVersion: "v1",
          kind: "ConfigMap",
          namespace,
          name: CONFIGMAP_NAME,
          ...(uid ? { uid } : {}),
        };
    } catch {}
    const pod = process.env["POD_NAME"];
    const podNamespace = process.env["POD_NAMESPACE"];
    return pod && podNamespace
      ? { apiVersion: "v1", kind: "Pod", namespace: podNamespace, name: pod }
      : undefined;
  };
  const cronConfig = new CronConfig(
    {
      file: options.cronFile,
      flatFilePaths: options.flatFilePaths,
      pollMs: options.configPollMs,
      kube,
      namespace,
      env: process.env,
    },
    {
      onChange(setting, pattern) {
        invalidCron = undefined;
        if (job?.pattern === pattern) return;
        job?.stop();
        startSchedule(setting, pattern);
      },
      onInvalid(setting, error) {
        invalidCron = { setting, error };
        log("error", "invalid cron expression: keeping the schedule in force", {
          expression: setting.expression,
          source: setting.source,
          where: setting.where,
          error,
          keeping: cronConfig.inForce.setting.expression,
        });
        void reportInvalidCron();
      },
      log: (level, msg, fields) => log(level, msg, fields),
    },
  );

  // ---- HTTP: health, readiness, metrics ---------------------------------------------------------
  const readiness = (): { ready: boolean; text: string } => {
    if (elector.leading)
      return view?.synced
        ? { ready: true, text: `leader ${identity}` }
        : { ready: false, text: "leader, pods not listed yet" };
    if (elector.inContact) return { ready: true, text: `standby (leader: ${elector.holder || "none"})` };
    return { ready: false, text: "no contact with the API server's Lease" };
  };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz" || path === "/livez") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/readyz") {
      const { ready, text } = readiness();
      res.writeHead(ready ? 200 : 503, { "content-type": "text/plain" }).end(`${text}\n`);
    } else if (path === "/metrics") {
      metrics.registry.metrics().then(
        (body) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(body),
        (error: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(`${errorText(error)}\n`),
      );
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  const { host, port } = parseListen(options.listen);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  const address =
    typeof bound === "object" && bound !== null
      ? `${bound.family === "IPv6" ? `[${bound.address}]` : bound.address}:${bound.port}`
      : String(bound);
  process.stdout.write(`${JSON.stringify({ listening: `http://${address}` })}\n`);
  log("info", "controller started", {
    listening: `http://${address}`,
    server: connection.server,
    namespace,
    identity,
    lease: `${namespace}/${options.leaseName}`,
  });

  await cronConfig.start();
  if (job === undefined) startSchedule(cronConfig.inForce.setting, cronConfig.inForce.pattern);

  // ---- leadership -------------------------------------------------------------------------------
  let exitCode = 0;
  let finish: (() => void) | undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    poke();
    view?.stop();
    job?.stop();
    cronConfig.stop();
    await Promise.race([current.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 5_000))]);
    await elector.stop();
    metrics.setLeader(false);
    server.close();
    server.closeAllConnections();
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
          enqueuePod(ref, state);
        },
        log: (level, msg, fields) => log(level, msg, fields),
      });
      view = cluster;
      cluster.start();
      void worker();
      void cluster.waitSynced().then(() => enqueueSweep("startup"));
      void reportInvalidCron();
    },
    onStoppedLeading(reason) {
      log("error", "lost the lease: exiting so that no deposed leader writes", { reason });
      void shutdown(1);
    },
    log: (level, msg, fields) => log(level, msg, fields),
  });

  await finished;
  log("info", "controller stopped", { code: exitCode });
  return exitCode;
}
