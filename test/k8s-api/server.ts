// The Kubernetes API double: an HTTP(S) server on 127.0.0.1 serving the resources whereabouts and
// thereabouts use, with real kube-apiserver semantics (see docs/k8s-api-double.md). Start it
// in-process with `startApiDoubleServer(options)`, or as a process:
//   node test/k8s-api/server.ts --port 0 [--tls] [--token T] [--faults JSON] [--latency JSON]
//        [--options JSON] [--exit-with-stdin]
// which prints one JSON line {"url","pid","caData"?} on stdout once it listens.
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { CONFIGMAPS, EVENTS, EVENTS_V1, LEASES, NAMESPACES, NODES, PODS } from "./core-types.ts";
import { CUSTOM_RESOURCE_DEFINITIONS } from "./crd-definition.ts";
import { CrdServing } from "./crd-serving.ts";
import { NAD_CRD, whereaboutsCrds } from "./crds.ts";
import { createDispatcher } from "./dispatch.ts";
import { type FaultRule, Faults, type Latency } from "./faults.ts";
import type { HandlerContext } from "./handlers.ts";
import { Registry } from "./registry.ts";
import { RequestLog } from "./request-log.ts";
import type { ResourceDef } from "./resources.ts";
import { Router } from "./router.ts";
import { STATEFULSETS } from "./statefulsets.ts";
import { Store } from "./store.ts";
import { generateServingCertificate } from "./tls.ts";

export interface ApiDoubleOptions {
  /** 0 (default): a free port. Always bound to 127.0.0.1. */
  readonly port?: number;
  /** Serve HTTPS with a fresh test CA; `caData` is its base64 PEM. */
  readonly tls?: boolean;
  /** Require `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** With a token: requests without one are system:anonymous (403) rather than 401. Default true. */
  readonly anonymousAuth?: boolean;
  readonly faults?: readonly FaultRule[];
  readonly latency?: Latency;
  /** Seed for probabilistic faults. */
  readonly seed?: number;
  /** Bookmark period for watches with allowWatchBookmarks (apiserver: about a minute). Default 60000. */
  readonly bookmarkIntervalMs?: number;
  /** Watch timeout when the client sends no timeoutSeconds (apiserver: random in [1800, 3600) s). */
  readonly watchTimeoutSeconds?: number;
  readonly watchCacheMinEvents?: number;
  readonly watchCacheMaxEvents?: number;
  readonly watchCacheFreshMs?: number;
  readonly compactionIntervalMs?: number;
  /** Memory bound of the event history (watch window + snapshots); the oldest events go first. */
  readonly maxHistoryBytes?: number;
  /** The stand-in kubelet's time to finish a graceful pod deletion (capped by the grace period). -1: never. */
  readonly podTerminationMs?: number;
  readonly maxObjectBytes?: number;
  /** Start with the ≤ v0.7 whereabouts CRD schemas (no `ifname`, ORIP `containerid` required). */
  readonly legacyWhereaboutsCrds?: boolean;
  readonly requestLogSize?: number;
  /** How long a read at a future resourceVersion waits before 504 (apiserver: 3 s). */
  readonly tooLargeResourceVersionWaitMs?: number;
}

export interface ApiDoubleServer {
  readonly url: string;
  readonly port: number;
  readonly caData: string | undefined;
  readonly token: string | undefined;
  readonly store: Store;
  readonly registry: Registry;
  readonly faults: Faults;
  readonly requests: RequestLog;
  close(): Promise<void>;
}

/** The built-in resources; custom resources are served from the stored CRDs (crd-serving.ts). */
export function builtInResources(): ResourceDef[] {
  return [
    PODS,
    NODES,
    CONFIGMAPS,
    EVENTS,
    NAMESPACES,
    EVENTS_V1,
    LEASES,
    STATEFULSETS,
    CUSTOM_RESOURCE_DEFINITIONS,
  ];
}

/** The initial CRDs are as a cluster that has run for a while leaves them: installed this long ago. */
const CRDS_INSTALLED_BEFORE_START_MS = 3_600_000;

export async function startApiDoubleServer(options: ApiDoubleOptions = {}): Promise<ApiDoubleServer> {
  const store = new Store({
    ...(options.watchCacheMinEvents !== undefined
      ? { watchCacheMinEvents: options.watchCacheMinEvents }
      : {}),
    ...(options.watchCacheMaxEvents !== undefined
      ? { watchCacheMaxEvents: options.watchCacheMaxEvents }
      : {}),
    ...(options.watchCacheFreshMs !== undefined ? { watchCacheFreshMs: options.watchCacheFreshMs } : {}),
    ...(options.compactionIntervalMs !== undefined
      ? { compactionIntervalMs: options.compactionIntervalMs }
      : {}),
    ...(options.maxHistoryBytes !== undefined ? { maxHistoryBytes: options.maxHistoryBytes } : {}),
  });
  const registry = new Registry(store, {
    ...(options.podTerminationMs !== undefined ? { podTerminationMs: options.podTerminationMs } : {}),
    ...(options.maxObjectBytes !== undefined ? { maxObjectBytes: options.maxObjectBytes } : {}),
    ...(options.tooLargeResourceVersionWaitMs !== undefined
      ? { tooLargeResourceVersionWaitMs: options.tooLargeResourceVersionWaitMs }
      : {}),
  });
  const faults = new Faults(options.seed);
  faults.set(options.faults ?? []);
  faults.latency = options.latency ?? {};
  const requests = new RequestLog(options.requestLogSize);
  const router = new Router(builtInResources());
  const watches = new Map<() => void, { readonly storage: string; readonly since: number }>();
  const auth = { token: options.token, anonymousAuth: options.anonymousAuth ?? true };
  let serverAddress = "127.0.0.1:0";

  const ctx: HandlerContext = {
    registry,
    store,
    watch: { bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000, maxBufferedBytes: 64 * 1024 * 1024 },
    defaultWatchTimeoutSeconds: () => options.watchTimeoutSeconds ?? Math.floor(1800 * (1 + Math.random())),
    writeDelay: async () => {
      const ms = faults.writeDelayMs();
      if (ms > 0) await sleep(ms);
    },
    trackWatch: (stop, storage) => {
      watches.set(stop, { storage, since: Date.now() });
      return () => watches.delete(stop);
    },
  };
  const crds = new CrdServing({
    store,
    registry,
    router,
    stopWatches(storage, before) {
      for (const [stop, w] of [...watches]) if (w.storage === storage && w.since <= before) stop();
    },
  });
  crds.install(
    [...whereaboutsCrds(options.legacyWhereaboutsCrds ?? false), NAD_CRD],
    `${new Date(Date.now() - CRDS_INSTALLED_BEFORE_START_MS).toISOString().slice(0, 19)}Z`,
  );

  const handle = createDispatcher({
    router,
    handlers: ctx,
    store,
    faults,
    requests,
    auth,
    serverAddress: () => serverAddress,
  });

  const tls = options.tls ? generateServingCertificate() : undefined;
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e) => {
      process.stderr.write(`api-double: ${(e as Error).stack ?? String(e)}\n`);
      if (!res.headersSent) res.destroy();
    });
  };
  const server: Server = tls
    ? createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, listener)
    : createHttpServer(listener);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  serverAddress = `127.0.0.1:${port}`;
  const url = `${tls ? "https" : "http"}://127.0.0.1:${port}`;

  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    caData: tls ? Buffer.from(tls.caPem).toString("base64") : undefined,
    token: options.token,
    store,
    registry,
    faults,
    requests,
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const stop of [...watches.keys()]) stop();
        crds.close();
        registry.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

// --- command line ---

function parseArgs(argv: readonly string[]): ApiDoubleOptions & { exitWithStdin: boolean } {
  const opts: Record<string, unknown> = {};
  let exitWithStdin = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes("=")
      ? (arg.split(/=(.*)/s, 2) as [string, string])
      : [arg, undefined];
    const value = () => inline ?? argv[++i] ?? "";
    switch (flag) {
      case "--port":
        opts["port"] = Number(value());
        break;
      case "--tls":
        opts["tls"] = inline === undefined ? true : inline !== "false";
        break;
      case "--token":
        opts["token"] = value();
        break;
      case "--anonymous-auth":
        opts["anonymousAuth"] = value() !== "false";
        break;
      case "--faults": {
        const f = JSON.parse(value()) as FaultRule[] | { rules: FaultRule[] };
        opts["faults"] = Array.isArray(f) ? f : f.rules;
        break;
      }
      case "--latency":
        opts["latency"] = JSON.parse(value());
        break;
      case "--seed":
        opts["seed"] = Number(value());
        break;
      case "--bookmark-interval-ms":
        opts["bookmarkIntervalMs"] = Number(value());
        break;
      case "--pod-termination-ms":
        opts["podTerminationMs"] = Number(value());
        break;
      case "--legacy-crds":
        opts["legacyWhereaboutsCrds"] = true;
        break;
      case "--options":
        Object.assign(opts, JSON.parse(value()));
        break;
      case "--exit-with-stdin":
        exitWithStdin = true;
        break;
      default:
        throw new Error(`unknown argument ${arg}`);
    }
  }
  return { ...(opts as ApiDoubleOptions), exitWithStdin };
}

async function main(): Promise<void> {
  const { exitWithStdin, ...options } = parseArgs(process.argv.slice(2));
  const double = await startApiDoubleServer(options);
  const shutdown = () => {
    double.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  if (exitWithStdin) {
    process.stdin.on("end", shutdown);
    process.stdin.on("error", shutdown);
    process.stdin.resume();
  }
  process.stdout.write(
    `${JSON.stringify({ url: double.url, pid: process.pid, ...(double.caData ? { caData: double.caData } : {}) })}\n`,
  );
}

if (import.meta.main) {
  main().catch((e) => {
    process.stderr.write(`api-double: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(2);
  });
}
