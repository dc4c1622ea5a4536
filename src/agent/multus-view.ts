// One API connection's view of pods and NetworkAttachmentDefinitions for the meta-plugin's calls
// served by the agent: two watch caches (this node's pods, every NAD) in front of the very requests
// a plugin process sends (src/multus/kube.ts). A cache answers only what it can answer as the API
// would at that moment; everything else is asked of the API, so no answer depends on how far
// behind a watch is:
// - pods: the cached pod when the cache follows the server and holds it under the runtime's UID;
//   otherwise (a pod created a moment ago, re-created under the same name, a cache that lost its
//   watch) the GET with Multus' retries, exactly as a plugin alone;
// - NADs: the cached one; a miss is confirmed by one GET (a NAD created a moment ago), so "not
//   found" keeps the API's text;
// - the network-status write goes to the API; the pod it returns is remembered until the watch
//   brings that version, so a DEL right after an ADD sees the annotation the ADD wrote.
// Until the first LIST is done every call uses the requests: a call never waits for a sync.
import { Informer } from "../controller/informer.ts";
import { Kube } from "../controller/kube.ts";
import type { KubeConnection } from "../kube/kubeconfig.ts";
import { reached } from "../kube/resource-version.ts";
import type { DaemonLog } from "../log/line.ts";
import { kubeRequests, type MultusKube, type Nad, nadView, type Pod, podView } from "../multus/kube.ts";
import { cacheLog } from "./cache-log.ts";

/** What the view needs of a cache (an Informer): whether it follows the server, and its objects. */
export interface CacheSource<T> {
  readonly live: boolean;
  get(key: string): T | undefined;
}

export interface CachedPod {
  readonly pod: Pod;
  readonly resourceVersion: string;
}

/** Own status writes not yet seen in the cache are kept at most this long, and this many. */
const WRITTEN_MS = 60_000;
const WRITTEN_MAX = 1_024;

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

function metaKey(object: unknown): string {
  const meta = (object as { metadata?: { namespace?: string; name?: string } }).metadata;
  return keyOf(meta?.namespace ?? "", meta?.name ?? "");
}

export function cachedPod(object: unknown): CachedPod {
  const rv = (object as { metadata?: { resourceVersion?: unknown } } | undefined)?.metadata?.resourceVersion;
  return { pod: podView(object), resourceVersion: typeof rv === "string" ? rv : "" };
}

/** The calls' questions answered from the caches where they can be, else by `requests`. */
export class MultusView implements MultusKube {
  readonly #requests: MultusKube;
  readonly #pods: CacheSource<CachedPod>;
  readonly #nads: CacheSource<Nad>;
  readonly #now: () => number;
  /** Pods as this agent's status writes left them, by key, oldest first. */
  readonly #written = new Map<string, { readonly cached: CachedPod; readonly at: number }>();
  /** Answers from the caches (for the statistics and tests). */
  hits = 0;

  constructor(parts: {
    requests: MultusKube;
    pods: CacheSource<CachedPod>;
    nads: CacheSource<Nad>;
    now?: () => number;
  }) {
    this.#requests = parts.requests;
    this.#pods = parts.pods;
    this.#nads = parts.nads;
    this.#now = parts.now ?? Date.now;
  }

  get requests(): number {
    return this.#requests.requests;
  }

  async getPod(namespace: string, name: string, uid = ""): Promise<Pod | undefined> {
    const cached = this.#pods.live ? this.#current(keyOf(namespace, name)) : undefined;
    if (cached === undefined || (uid !== "" && cached.pod.metadata.uid !== uid))
      return this.#requests.getPod(namespace, name, uid);
    this.hits++;
    return cached.pod;
  }

  async getNad(namespace: string, name: string): Promise<{ nad: Nad } | { missing: string }> {
    const nad = this.#nads.live ? this.#nads.get(keyOf(namespace, name)) : undefined;
    if (nad === undefined) return this.#requests.getNad(namespace, name);
    this.hits++;
    return { nad };
  }

  setStatusAnnotation(pod: Pod, key: string, value: string | undefined): Promise<"done" | "gone"> {
    return this.#requests.setStatusAnnotation(pod, key, value);
  }

  /** The pod a status write returned (kubeRequests' `written`). */
  noteWritten(object: unknown): void {
    const key = metaKey(object);
    const now = this.#now();
    this.#written.delete(key);
    this.#written.set(key, { cached: cachedPod(object), at: now });
    for (const [k, w] of this.#written) {
      if (this.#written.size <= WRITTEN_MAX && now - w.at < WRITTEN_MS) break;
      this.#written.delete(k);
    }
  }

  /** The pod left the cache (deleted, or no longer on this node). */
  forget(key: string): void {
    this.#written.delete(key);
  }

  /**
   * The cached pod, or this agent's own later write of it while the watch has not brought it. Only
   * a pod the cache holds: one it does not (not seen yet, deleted, of another node) is asked of
   * the API whatever was written.
   */
  #current(key: string): CachedPod | undefined {
    const cached = this.#pods.get(key);
    const own = this.#written.get(key);
    if (own === undefined || cached === undefined) return cached;
    if (reached(cached.resourceVersion, own.cached.resourceVersion)) {
      this.#written.delete(key);
      return cached;
    }
    return own.cached;
  }

  close(): void {
    this.#requests.close();
  }
}

export interface WatchedView {
  readonly view: MultusView;
  /** Ends the watches; calls still using the view fall back to the requests. */
  stopWatching(): void;
}

/** The view of `connection`: its requests on one keep-alive transport, and the two watch caches. */
export function watchView(connection: KubeConnection, nodeName: string, log: DaemonLog): WatchedView {
  const kube = new Kube(connection);
  let view: MultusView | undefined;
  const requests = kubeRequests(connection, (pod) => view?.noteWritten(pod));
  const cacheLine = cacheLog(log, "multus cache", connection.server);
  // RBAC without list/watch (an older ClusterRole): every call asks the API, as a plugin does.
  const handlers = (what: string, grant: string) => ({
    log: cacheLine(
      what,
      `grant list and watch on ${grant} to the meta-plugin's account (deploy/overlays/multus)`,
    ),
  });
  const pods = new Informer<CachedPod>(
    kube,
    {
      path: "/api/v1/pods",
      query: `fieldSelector=${encodeURIComponent(`spec.nodeName=${nodeName}`)}`,
      what: `pods of node ${nodeName}`,
      key: metaKey,
      decode: cachedPod,
    },
    { ...handlers(`pods of node ${nodeName}`, "pods"), remove: (key) => view?.forget(key) },
  );
  const nads = new Informer<Nad>(
    kube,
    {
      path: "/apis/k8s.cni.cncf.io/v1/network-attachment-definitions",
      what: "network-attachment-definitions",
      key: metaKey,
      decode: nadView,
    },
    handlers("network-attachment-definitions", "network-attachment-definitions.k8s.cni.cncf.io"),
  );
  view = new MultusView({ requests, pods, nads });
  void pods.run();
  void nads.run();
  return {
    view,
    stopWatching() {
      pods.stop();
      nads.stop();
      kube.close();
    },
  };
}
