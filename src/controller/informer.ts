// A minimal informer: LIST in pages, then WATCH from the list's resourceVersion (with bookmarks),
// keeping a cache of decoded objects and calling back on every change. A watch that ends is
// resumed from the last resourceVersion seen; one that is too old (410) leads to a fresh LIST,
// and the differences between the two lists are reported as changes. The first LIST fills the
// cache, reporting each object as `initial`. An optional resource (KubeVirt's, whose CRDs a
// cluster may not have) that is not served (404 on LIST) counts as one with no objects: the
// informer is synced and empty, says so once, and lists again every `recheckMs` until it is served.
import { type Backoff, backoffDelay } from "../retry/backoff.ts";
import { errorFields } from "./advice.ts";
import { type Kube, WatchError, type WatchEvent } from "./kube.ts";

const PAGE = 500;
const WATCH_TIMEOUT_SECONDS = 300;
/** After the n-th failed watch or list in a row: up to 250 ms · 2^n, at most 30 s. */
const FAILURE_BACKOFF: Backoff = { baseMs: 250, capMs: 30_000 };

export interface InformerSpec<T> {
  /** Collection path without query, e.g. `/api/v1/pods`. */
  readonly path: string;
  /** Extra query parameters of the LIST and the WATCH, e.g. `fieldSelector=spec.nodeName%3Dn1`. */
  readonly query?: string;
  /** For logs and errors: "pods", "ippools". */
  readonly what: string;
  readonly key: (object: unknown) => string;
  readonly decode: (object: unknown) => T;
  /** How long the server keeps one watch open (default 300 s). */
  readonly watchTimeoutSeconds?: number;
  /** A resource the cluster may not serve: a 404 means "none" (see above), checked again this often. */
  readonly optional?: { readonly recheckMs: number };
}

export interface InformerHandlers<T> {
  /** An object appeared or changed (`previous` is the cached one, if any); `initial` for the first LIST. */
  upsert?(key: string, next: T, previous: T | undefined, initial: boolean): void;
  /** An object was deleted; `last` is the deleted object as the server sent it (or as cached). */
  remove?(key: string, last: T): void;
  log(level: "info" | "error", message: string, fields?: Record<string, unknown>): void;
}

function resourceVersionOf(object: unknown): string {
  return (object as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion ?? "";
}

export class Informer<T> {
  readonly #kube: Kube;
  readonly #spec: InformerSpec<T>;
  readonly #handlers: InformerHandlers<T>;
  #cache = new Map<string, { value: T; resourceVersion: string }>();
  #synced = false;
  /** An optional resource that the last LIST found not served. */
  #absent = false;
  /** Synced, and no watch or list has failed since the last one that worked. */
  #live = false;
  #syncWaiters: (() => void)[] = [];
  readonly #abort = new AbortController();

  constructor(kube: Kube, spec: InformerSpec<T>, handlers: InformerHandlers<T>) {
    this.#kube = kube;
    this.#spec = spec;
    this.#handlers = handlers;
  }

  get synced(): boolean {
    return this.#synced;
  }

  /**
   * The cache follows the server now: listed, and its watch open or being reopened after an orderly
   * end. False from a failed watch or list until a list or a watch works again (an API server that
   * went away: the cache holds what it last knew).
   */
  get live(): boolean {
    return this.#live;
  }

  get size(): number {
    return this.#cache.size;
  }

  get(key: string): T | undefined {
    return this.#cache.get(key)?.value;
  }

  *values(): IterableIterator<T> {
    for (const { value } of this.#cache.values()) yield value;
  }

  /** Resolves once the first LIST has filled the cache. */
  waitSynced(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  stop(): void {
    this.#abort.abort();
    this.#live = false;
  }

  /** The spec's extra query, ready to precede the other parameters. */
  get #extra(): string {
    return this.#spec.query === undefined || this.#spec.query === "" ? "" : `${this.#spec.query}&`;
  }

  async run(): Promise<void> {
    const signal = this.#abort.signal;
    let resourceVersion: string | undefined;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (resourceVersion === undefined) resourceVersion = await this.#list();
        if (resourceVersion === undefined) {
          await sleep(this.#spec.optional?.recheckMs ?? 0, signal);
          continue;
        }
        let expired = false;
        await this.#kube.watch(
          `${this.#spec.path}?${this.#extra}allowWatchBookmarks=true&timeoutSeconds=${this.#spec.watchTimeoutSeconds ?? WATCH_TIMEOUT_SECONDS}&resourceVersion=${encodeURIComponent(resourceVersion)}`,
          (event) => {
            const rv = this.#apply(event);
            if (rv === "expired") expired = true;
            else if (rv !== "") resourceVersion = rv;
          },
          signal,
          undefined,
          () => {
            this.#live = true;
          },
        );
        if (expired) resourceVersion = undefined;
        failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        this.#live = false;
        if (
          error instanceof WatchError &&
          (error.status === 410 || (error.status === 404 && this.#spec.optional !== undefined))
        )
          resourceVersion = undefined;
        failures++;
        this.#handlers.log("error", `${this.#spec.what} watch failed`, {
          ...errorFields(error),
          relist: resourceVersion === undefined,
        });
        await sleep(backoffDelay(failures, Math.random(), FAILURE_BACKOFF), signal);
      }
    }
  }

  /** LIST everything; returns the list's resourceVersion, undefined for an optional resource not served. */
  async #list(): Promise<string | undefined> {
    const fresh = new Map<string, { value: T; resourceVersion: string }>();
    let token = "";
    let resourceVersion = "";
    for (let restarts = 0; ; ) {
      const query = `${this.#extra}limit=${PAGE}${token === "" ? "" : `&continue=${encodeURIComponent(token)}`}`;
      const reply = await this.#kube.send(
        {
          method: "GET",
          path: `${this.#spec.path}?${query}`,
          expect: this.#spec.optional === undefined ? [410] : [410, 404],
        },
        `list ${this.#spec.what} at`,
        60_000,
      );
      if (reply.status === 404 && this.#spec.optional !== undefined) {
        if (!this.#absent)
          this.#handlers.log("info", `${this.#spec.what} are not served (404): taken as none`, {
            recheckSeconds: this.#spec.optional.recheckMs / 1000,
          });
        this.#absent = true;
        this.#replace(new Map());
        return undefined;
      }
      if (reply.status === 410) {
        // The first page's snapshot was compacted: start over.
        if (++restarts > 3)
          throw new Error(`listing ${this.#spec.what}: the list snapshot keeps expiring (410)`);
        fresh.clear();
        token = "";
        continue;
      }
      const body = reply.body as {
        items?: unknown[];
        metadata?: { continue?: string; resourceVersion?: string };
      };
      for (const item of body.items ?? [])
        fresh.set(this.#spec.key(item), {
          value: this.#spec.decode(item),
          resourceVersion: resourceVersionOf(item),
        });
      if (token === "") resourceVersion = body.metadata?.resourceVersion ?? "";
      token = body.metadata?.continue ?? "";
      if (token === "") break;
    }
    if (this.#absent) this.#handlers.log("info", `${this.#spec.what} are served again`);
    this.#absent = false;
    this.#replace(fresh);
    this.#handlers.log("info", `listed ${this.#spec.what}`, { count: fresh.size, resourceVersion });
    return resourceVersion;
  }

  /** Makes `fresh` the cache: reports the differences (a relist) or fills it (the first list). */
  #replace(fresh: Map<string, { value: T; resourceVersion: string }>): void {
    const previous = this.#cache;
    this.#cache = fresh;
    if (this.#synced) {
      // A relist: report what changed while nobody watched.
      for (const [key, old] of previous) if (!fresh.has(key)) this.#handlers.remove?.(key, old.value);
      for (const [key, now] of fresh) {
        const old = previous.get(key);
        if (old?.resourceVersion !== now.resourceVersion)
          this.#handlers.upsert?.(key, now.value, old?.value, false);
      }
    } else {
      for (const [key, now] of fresh) this.#handlers.upsert?.(key, now.value, undefined, true);
      this.#synced = true;
      for (const wake of this.#syncWaiters.splice(0)) wake();
    }
    this.#live = true;
  }

  /** Applies one event; returns its resourceVersion ("" if none), or "expired" for a 410 ERROR. */
  #apply(event: WatchEvent): string {
    const object = event.object;
    const rv = resourceVersionOf(object);
    switch (event.type) {
      case "ERROR": {
        const code = (object as { code?: number }).code;
        this.#handlers.log("info", `${this.#spec.what} watch ended by the server`, {
          code,
          message: object["message"],
        });
        return code === 410 ? "expired" : "";
      }
      case "ADDED":
      case "MODIFIED": {
        const key = this.#spec.key(object);
        const value = this.#spec.decode(object);
        const previous = this.#cache.get(key)?.value;
        this.#cache.set(key, { value, resourceVersion: rv });
        this.#handlers.upsert?.(key, value, previous, false);
        return rv;
      }
      case "DELETED": {
        const key = this.#spec.key(object);
        this.#cache.delete(key);
        this.#handlers.remove?.(key, this.#spec.decode(object));
        return rv;
      }
      default:
        return rv; // BOOKMARK
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
