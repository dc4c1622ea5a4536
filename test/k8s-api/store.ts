// The double's etcd + watch cache: one global, monotonically increasing resourceVersion for every
// write across all collections; immutable object versions (serialised once); per-collection event
// history that serves (a) snapshot reads at an older resourceVersion until "etcd compaction" and
// (b) the watch-cache window a watch can resume from (k8s.io/apiserver/pkg/storage/cacher/watch_cache.go:
// at least `watchCacheMinEvents`, events younger than `watchCacheFreshMs` kept up to
// `watchCacheMaxEvents`). Every mutation is synchronous, so a read-modify-write is atomic.

/** One stored version of one object. `json` is the serialised object as the apiserver returns it. */
export interface Version {
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly rv: number;
  readonly json: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly fields: Readonly<Record<string, string>>;
}

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  readonly type: EventType;
  readonly rv: number;
  readonly key: string;
  /** For DELETED: the last state, re-stamped with the deletion's resourceVersion (as etcd3 watch does). */
  readonly object: Version;
  readonly prev: Version | undefined;
  readonly at: number;
}

export interface StoreOptions {
  readonly watchCacheMinEvents?: number;
  readonly watchCacheMaxEvents?: number;
  readonly watchCacheFreshMs?: number;
  /** kube-apiserver --etcd-compaction-interval (default 5 min): snapshots older than this expire. */
  readonly compactionIntervalMs?: number;
  /** Hard cap on retained history per collection, to bound memory in long benchmarks. */
  readonly maxHistoryEvents?: number;
  /** Hard cap on the bytes of retained history (all collections); the oldest events go first. */
  readonly maxHistoryBytes?: number;
  /** The resourceVersion the empty store starts at. */
  readonly initialResourceVersion?: number;
}

export type Listener = (event: StoreEvent) => void;

interface Collection {
  readonly objects: Map<string, Version>;
  sortedKeys: string[] | undefined;
  history: StoreEvent[];
  windowStart: number;
  windowEvicted: boolean;
  readonly listeners: Set<Listener>;
}

/** Thrown by `snapshot` when the requested revision has been compacted away. */
export class CompactedError extends Error {
  constructor() {
    super("required revision has been compacted");
  }
}

export type WatchStart =
  | { readonly ok: true; readonly events: readonly StoreEvent[] }
  | { readonly ok: false; readonly oldest: number };

export class Store {
  readonly #collections = new Map<string, Collection>();
  readonly #opts: Required<StoreOptions>;
  readonly #startRv: number;
  #rv: number;
  #compactedRv = 0;
  #lastCompaction = Date.now();
  #rvAtLastCompaction: number;
  #historyBytes = 0;

  constructor(options: StoreOptions = {}) {
    this.#opts = {
      watchCacheMinEvents: options.watchCacheMinEvents ?? 100,
      watchCacheMaxEvents: options.watchCacheMaxEvents ?? 100 * 1024,
      watchCacheFreshMs: options.watchCacheFreshMs ?? 75_000,
      compactionIntervalMs: options.compactionIntervalMs ?? 300_000,
      maxHistoryEvents: options.maxHistoryEvents ?? 200_000,
      maxHistoryBytes: options.maxHistoryBytes ?? 256 * 1024 * 1024,
      initialResourceVersion: options.initialResourceVersion ?? 100,
    };
    this.#rv = this.#opts.initialResourceVersion;
    this.#startRv = this.#rv;
    this.#rvAtLastCompaction = this.#rv;
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  get compactedResourceVersion(): number {
    return this.#compactedRv;
  }

  #collection(id: string): Collection {
    let c = this.#collections.get(id);
    if (!c) {
      c = {
        objects: new Map(),
        sortedKeys: undefined,
        history: [],
        windowStart: 0,
        windowEvicted: false,
        listeners: new Set(),
      };
      this.#collections.set(id, c);
    }
    return c;
  }

  get(id: string, key: string): Version | undefined {
    return this.#collection(id).objects.get(key);
  }

  /** Current objects sorted by key (etcd key order), optionally under a key prefix. */
  list(id: string, prefix = ""): Version[] {
    const c = this.#collection(id);
    if (!c.sortedKeys) c.sortedKeys = [...c.objects.keys()].sort(byteOrder);
    const out: Version[] = [];
    for (const k of c.sortedKeys) if (k.startsWith(prefix)) out.push(c.objects.get(k)!);
    return out;
  }

  /** The collection as it was at `rv` (etcd range read at a revision); throws CompactedError. */
  snapshot(id: string, rv: number, prefix = ""): Version[] {
    if (rv >= this.#rv) return this.list(id, prefix);
    if (rv < this.#compactedRv) throw new CompactedError();
    const c = this.#collection(id);
    const objects = new Map(c.objects);
    for (let i = c.history.length - 1; i >= 0; i--) {
      const e = c.history[i]!;
      if (e.rv <= rv) break;
      if (e.type === "ADDED") objects.delete(e.key);
      else objects.set(e.key, e.prev!);
    }
    return [...objects.keys()]
      .filter((k) => k.startsWith(prefix))
      .sort(byteOrder)
      .map((k) => objects.get(k)!);
  }

  /** Allocates the next resourceVersion and stores the version `build` makes with it. */
  put(id: string, key: string, build: (rv: number) => Version): StoreEvent {
    const c = this.#collection(id);
    const prev = c.objects.get(key);
    const rv = ++this.#rv;
    const object = build(rv);
    if (!prev) c.sortedKeys = undefined;
    c.objects.set(key, object);
    return this.#emit(c, { type: prev ? "MODIFIED" : "ADDED", rv, key, object, prev, at: Date.now() });
  }

  /** Deletes `key`; `restamp` re-serialises the last state with the deletion's resourceVersion. */
  remove(id: string, key: string, restamp: (last: Version, rv: number) => Version): StoreEvent | undefined {
    const c = this.#collection(id);
    const prev = c.objects.get(key);
    if (!prev) return undefined;
    const rv = ++this.#rv;
    c.objects.delete(key);
    c.sortedKeys = undefined;
    return this.#emit(c, { type: "DELETED", rv, key, object: restamp(prev, rv), prev, at: Date.now() });
  }

  #emit(c: Collection, event: StoreEvent): StoreEvent {
    c.history.push(event);
    this.#historyBytes += event.object.json.length;
    const o = this.#opts;
    const now = event.at;
    while (
      c.history.length - c.windowStart > o.watchCacheMaxEvents ||
      (c.history.length - c.windowStart > o.watchCacheMinEvents &&
        now - c.history[c.windowStart]!.at > o.watchCacheFreshMs)
    ) {
      c.windowStart++;
      c.windowEvicted = true;
    }
    if (now - this.#lastCompaction >= o.compactionIntervalMs) {
      this.#compactedRv = this.#rvAtLastCompaction;
      this.#rvAtLastCompaction = this.#rv;
      this.#lastCompaction = now;
    }
    if (c.history.length > o.maxHistoryEvents)
      this.#compactedRv = Math.max(this.#compactedRv, c.history[c.history.length - o.maxHistoryEvents]!.rv);
    this.#prune(c);
    if (this.#historyBytes > o.maxHistoryBytes) this.#shed(c, o.maxHistoryBytes * 0.9);
    for (const listener of [...c.listeners]) listener(event);
    return event;
  }

  #drop(c: Collection, n: number): void {
    for (let i = 0; i < n; i++) this.#historyBytes -= c.history[i]!.object.json.length;
    c.history.splice(0, n);
    c.windowStart = Math.max(0, c.windowStart - n);
  }

  #prune(c: Collection): void {
    let n = 0;
    while (n < c.windowStart && n < c.history.length && c.history[n]!.rv <= this.#compactedRv) n++;
    if (n > 256 || (n > 0 && n * 2 > c.history.length)) this.#drop(c, n);
  }

  /** Over the byte budget: forget this collection's oldest events (compacted and out of the window). */
  #shed(c: Collection, target: number): void {
    let n = 0;
    let bytes = this.#historyBytes;
    while (bytes > target && n < c.history.length - 1) bytes -= c.history[n++]!.object.json.length;
    if (n === 0) return;
    if (n > c.windowStart) c.windowEvicted = true;
    this.#compactedRv = Math.max(this.#compactedRv, c.history[n - 1]!.rv);
    this.#drop(c, n);
  }

  /**
   * Events a watch starting after `rv` must replay, or the oldest deliverable version when `rv` is
   * outside the watch-cache window (the apiserver then sends "too old resource version").
   */
  eventsSince(id: string, rv: number): WatchStart {
    const c = this.#collection(id);
    const oldest = c.windowEvicted ? (c.history[c.windowStart]?.rv ?? this.#rv + 1) : this.#startRv + 1;
    if (rv < oldest - 1) return { ok: false, oldest };
    const events: StoreEvent[] = [];
    for (let i = c.windowStart; i < c.history.length; i++) {
      const e = c.history[i]!;
      if (e.rv > rv) events.push(e);
    }
    return { ok: true, events };
  }

  subscribe(id: string, listener: Listener): () => void {
    const c = this.#collection(id);
    c.listeners.add(listener);
    return () => c.listeners.delete(listener);
  }

  /** Drops all history now: every older resourceVersion becomes too old for watches and snapshots. */
  compact(): void {
    this.#compactedRv = this.#rv;
    this.#rvAtLastCompaction = this.#rv;
    for (const c of this.#collections.values()) {
      c.windowEvicted = true;
      c.history = [];
      c.windowStart = 0;
    }
    this.#historyBytes = 0;
  }

  /** Namespaces that hold at least one object (they exist implicitly). */
  namespacesInUse(): Set<string> {
    const out = new Set<string>();
    for (const c of this.#collections.values())
      for (const v of c.objects.values()) if (v.namespace) out.add(v.namespace);
    return out;
  }

  collectionIds(): string[] {
    return [...this.#collections.keys()].filter((id) => this.#collections.get(id)!.objects.size > 0).sort();
  }
}

/** etcd orders keys by bytes; for the ASCII keys Kubernetes allows, that is UTF-16 code unit order. */
export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
