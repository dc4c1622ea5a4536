// The node agent's NodeSlicePools (docs/node-slices.md, "The agent's view"): a watch cache of the
// NodeSlicePools in the store's namespace, each decoded once per change, answering the calls'
// getNodeSlicePool instead of a GET of an object that lists every slice of the network (428 KiB of
// JSON at 8,192 slices) per call. A plugin alone keeps its GET.
//
// The cache answers only while it follows the server (listed, its watch open); before its first
// LIST, after a failed watch or list (an API server gone, RBAC without list/watch: HTTP 403) a call
// GETs, as a plugin does. A pool the cache does not hold is confirmed by a GET (created a moment
// ago). What this agent's own requests saw is newer than the cache can be: a successful claim's
// answer, and the pool a GET read (after a lost claim, or while the cache was behind), are answered
// until the watch brings that version, so a node that just claimed a slice never claims a second
// one for want of seeing its first, and answers never go back in time.
//
// A view behind the API by a watch's delay is as safe as a GET's answer a moment old: the slice
// pools' entries are written with their own preconditions, the overlapping-range reservations are
// per address, and a claim is a tested patch. The watch starts on the first read, so an agent that
// serves no node-slice network never lists NodeSlicePools.
import { Informer } from "../controller/informer.ts";
import { Kube } from "../controller/kube.ts";
import { reached } from "../kube/resource-version.ts";
import type { DaemonLog } from "../log/line.ts";
import { decodeNodeSlicePool, type NodeSlicePool } from "../pool/node-slices.ts";
import { KubernetesStore } from "../store/kubernetes/kubernetes-store.ts";
import type { KubernetesNodeSlices } from "../store/kubernetes/node-slice-access.ts";
import type { CallOptions, NodeSliceStore, Store } from "../store/store.ts";
import { cacheLog } from "./cache-log.ts";
import type { CacheSource } from "./multus-view.ts";

/** A started watch cache of NodeSlicePools, by name. */
export interface NodeSliceCache extends CacheSource<NodeSlicePool> {
  stop(): void;
}

/** The view's way to the API: the store's own requests. */
export type NodeSliceRequests = Pick<KubernetesNodeSlices, "getNodeSlicePool" | "claim">;

export class NodeSliceView implements NodeSliceStore {
  readonly #requests: NodeSliceRequests;
  readonly #watch: (forget: (name: string) => void) => NodeSliceCache;
  #cache: NodeSliceCache | undefined;
  #closed = false;
  /** Pools as this agent's own requests last saw them, newer than the cache's (see above). */
  readonly #own = new Map<string, NodeSlicePool>();
  readonly #reads = new Map<string, Promise<NodeSlicePool | undefined>>();
  /** Reads answered from the cache (for tests and statistics). */
  hits = 0;

  /** `watch` starts the cache (on the first read); it calls `forget` for a pool deleted. */
  constructor(requests: NodeSliceRequests, watch: (forget: (name: string) => void) => NodeSliceCache) {
    this.#requests = requests;
    this.#watch = watch;
  }

  async getNodeSlicePool(name: string, options?: CallOptions): Promise<NodeSlicePool | undefined> {
    if (!this.#closed) this.#cache ??= this.#watch((gone) => this.#own.delete(gone));
    if (this.#cache?.live === true) {
      const pool = this.#current(name, this.#cache);
      if (pool !== undefined) {
        this.hits++;
        return pool;
      }
    }
    return this.#read(name, options);
  }

  /** Whether reads are answered from the watch now. */
  get watching(): boolean {
    return this.#cache?.live === true;
  }

  /** One GET per pool at a time: the calls of a cold agent share it (each is the whole pool). */
  #read(name: string, options: CallOptions | undefined): Promise<NodeSlicePool | undefined> {
    const pending = this.#reads.get(name);
    if (pending !== undefined) return pending;
    const read = this.#requests
      .getNodeSlicePool(name, options)
      .then((pool) => {
        this.#note(name, pool);
        return pool;
      })
      .finally(() => this.#reads.delete(name));
    this.#reads.set(name, read);
    return read;
  }

  async claimNodeSlice(
    name: string,
    index: number,
    sliceRange: string,
    nodeName: string,
    options?: CallOptions,
  ): Promise<boolean> {
    const claimed = await this.#requests.claim(name, index, sliceRange, nodeName, options);
    if (claimed !== undefined) {
      this.#note(name, claimed);
      return true;
    }
    // Taken meanwhile, re-sliced or gone: the view was behind, and the caller's next read must not
    // offer the same slice again (a GET of its own: one already under way may predate the change).
    this.#note(name, await this.#requests.getNodeSlicePool(name, options));
    return false;
  }

  /** The cached pool, or what this agent's requests saw of it while the watch has not brought that. */
  #current(name: string, cache: NodeSliceCache): NodeSlicePool | undefined {
    const cached = cache.get(name);
    const own = this.#own.get(name);
    if (own === undefined) return cached;
    if (cached !== undefined && reached(cached.resourceVersion, own.resourceVersion)) {
      this.#own.delete(name);
      return cached;
    }
    return own;
  }

  #note(name: string, pool: NodeSlicePool | undefined): void {
    if (pool === undefined) {
      this.#own.delete(name);
      return;
    }
    const had = this.#own.get(name);
    if (had === undefined || reached(pool.resourceVersion, had.resourceVersion)) this.#own.set(name, pool);
  }

  /** Ends the watch; reads from now on GET. */
  close(): void {
    this.#closed = true;
    this.#cache?.stop();
    this.#cache = undefined;
  }
}

/** The watch cache of the NodeSlicePools `requests` reads, on a connection of its own beside the store's. */
function watchCache(store: KubernetesStore, log: DaemonLog, forget: (name: string) => void): NodeSliceCache {
  const kube = new Kube(store.connection);
  const what = `nodeslicepools of namespace ${store.namespace}`;
  const informer = new Informer<NodeSlicePool>(
    kube,
    {
      path: store.nodeSlices.collection,
      what,
      key: (object) => (object as { metadata?: { name?: string } }).metadata?.name ?? "",
      decode: decodeNodeSlicePool,
    },
    {
      log: cacheLog(
        log,
        "node-slice cache",
        store.connection.server,
      )(
        what,
        "grant list and watch on nodeslicepools.whereabouts.cni.cncf.io to the node's ServiceAccount (deploy/base/rbac-node.yaml)",
      ),
      remove: forget,
    },
  );
  void informer.run();
  return {
    get live() {
      return informer.live;
    },
    get: (name) => informer.get(name),
    stop() {
      informer.stop();
      kube.close();
    },
  };
}

/** The agent's NodeSlicePool view of a Kubernetes store; undefined for the other datastores. */
export function watchedNodeSlices(store: Store, log: DaemonLog): NodeSliceView | undefined {
  if (!(store instanceof KubernetesStore)) return undefined;
  return new NodeSliceView(store.nodeSlices, (forget) => watchCache(store, log, forget));
}
