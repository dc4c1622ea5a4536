// The agent's Kubernetes view for the meta-plugin's calls (thick mode): one warm connection per way
// to the API that a meta-plugin configuration selects (its `kubeconfig`, or in-cluster from the
// agent's environment), with watch caches of this node's pods and of the NADs (multus-view.ts),
// shared by every call that uses it.
//
// A plugin process reads its kubeconfig anew on every call, so a rotated token (an installer
// rewriting the kubeconfig, a projected ServiceAccount token, a tokenFile) counts at once. The agent
// keeps that promise: every file read to make the connection is read again on each call, and when
// one differs the connection and its caches are replaced (the old one is closed when its calls are
// done). A connection no call used for `idleMs` is closed by closeIdle(), which the agent's idle
// sweep calls; the first call after that opens it again (and is served by GETs until the caches
// are listed). The meta-plugin's modules are loaded on the first call that needs a connection.
import { hostname } from "node:os";
import { readConfigFile } from "../files/config-file.ts";
import type { KubeConnection } from "../kube/kubeconfig.ts";
import type { DaemonLog } from "../log/line.ts";
import type { MultusDeps } from "../multus/flows.ts";
import type { MultusKube } from "../multus/kube.ts";
import type { MultusView, WatchedView } from "./multus-view.ts";

/** Longer than the stores' idle time: a re-opened view costs two LISTs and answers by GETs meanwhile. */
export const MULTUS_IDLE_MS = 10 * 60_000;

/**
 * The node whose pods the agent caches: $NODENAME (the DaemonSet's spec.nodeName), trimmed as the
 * node-slice lookup trims it, else the host name in lower case, as kubelet names its node by default.
 */
export function defaultNodeName(env: NodeJS.ProcessEnv): string {
  const given = env["NODENAME"]?.trim() ?? "";
  return given !== "" ? given : hostname().toLowerCase();
}

interface Entry {
  readonly watched: WatchedView;
  /** Every file read to make the connection, with what it held (null: could not be read). */
  readonly files: ReadonlyMap<string, string | null>;
  users: number;
  lastUsed: number;
  retired: boolean;
}

export interface MultusKubeCacheOptions {
  /** Whose pods are cached (`spec.nodeName`). */
  readonly nodeName: string;
  /** In-cluster settings (KUBERNETES_SERVICE_HOST/PORT) when a configuration names no kubeconfig. */
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: DaemonLog;
  readonly idleMs?: number;
  readonly now?: () => number;
  /** Opens the view of a connection (tests inject one). */
  readonly watch?: (connection: KubeConnection, nodeName: string, log: DaemonLog) => WatchedView;
  /** Reads a file the connection is made of (tests count the reads). */
  readonly read?: (path: string) => string;
}

export class MultusKubeCache {
  readonly #options: MultusKubeCacheOptions;
  readonly #log: DaemonLog;
  readonly #now: () => number;
  readonly #read: (path: string) => string;
  /** By `kubeconfig` ("" for in-cluster). */
  readonly #entries = new Map<string, Entry>();
  readonly #opening = new Map<string, Promise<Entry | undefined>>();
  #closed = false;
  /** Connections opened so far, replaced ones included. */
  opened = 0;

  constructor(options: MultusKubeCacheOptions) {
    this.#options = options;
    this.#log = options.log ?? (() => {});
    this.#now = options.now ?? Date.now;
    this.#read = options.read ?? readConfigFile;
  }

  /** For the flows: the shared view of the call's connection; its close() only ends the call's use. */
  readonly deps: MultusDeps = {
    connect: async (kubeconfig) => {
      const entry = await this.#entry(kubeconfig);
      if (entry === undefined) return undefined;
      entry.users++;
      entry.lastUsed = this.#now();
      return this.#handle(entry);
    },
  };

  /** Connections open now. */
  get size(): number {
    return this.#entries.size;
  }

  /** The view the calls of `kubeconfig` use now (tests, statistics). */
  viewOf(kubeconfig: string): MultusView | undefined {
    return this.#entries.get(kubeconfig)?.watched.view;
  }

  async #entry(kubeconfig: string): Promise<Entry | undefined> {
    const current = this.#entries.get(kubeconfig);
    if (current !== undefined) {
      if (this.#unchanged(current.files)) return current;
      this.#retire(kubeconfig, current, "the kubeconfig or a file it names changed");
    }
    let opening = this.#opening.get(kubeconfig);
    if (opening === undefined) {
      // Calls arriving together for a new connection share one opening (and its error, if any).
      opening = this.#open(kubeconfig).finally(() => this.#opening.delete(kubeconfig));
      this.#opening.set(kubeconfig, opening);
    }
    return opening;
  }

  async #open(kubeconfig: string): Promise<Entry | undefined> {
    const files = new Map<string, string | null>();
    const recorded = (path: string): string => {
      try {
        const text = this.#read(path);
        files.set(path, text);
        return text;
      } catch (error) {
        files.set(path, null);
        throw error;
      }
    };
    const [{ multusConnection }, { watchView }] = await Promise.all([
      import("../multus/kube.ts"),
      import("./multus-view.ts"),
    ]);
    const connection = await multusConnection(kubeconfig, this.#options.env ?? process.env, recorded);
    if (connection === undefined) return undefined;
    const watch = this.#options.watch ?? watchView;
    const entry: Entry = {
      watched: watch(connection, this.#options.nodeName, this.#log),
      files,
      users: 0,
      lastUsed: this.#now(),
      retired: false,
    };
    this.opened++;
    if (this.#closed) {
      // A call that raced the agent's shutdown: served by requests alone, closed after it.
      entry.retired = true;
      entry.watched.stopWatching();
      return entry;
    }
    this.#entries.set(kubeconfig, entry);
    this.#log("info", "multus cache: watching pods and network-attachment-definitions", {
      server: connection.server,
      kubeconfig: connection.kubeconfig,
      node: this.#options.nodeName,
    });
    return entry;
  }

  /** Whether every file read to make the connection still holds what it held. */
  #unchanged(files: ReadonlyMap<string, string | null>): boolean {
    for (const [path, was] of files) {
      let now: string | null;
      try {
        now = this.#read(path);
      } catch {
        now = null;
      }
      if (now !== was) return false;
    }
    return true;
  }

  #handle(entry: Entry): MultusKube {
    const { view } = entry.watched;
    let open = true;
    return {
      getPod: (namespace, name, uid) => view.getPod(namespace, name, uid),
      getNad: (namespace, name) => view.getNad(namespace, name),
      setStatusAnnotation: (pod, key, value) => view.setStatusAnnotation(pod, key, value),
      get requests() {
        return view.requests;
      },
      close: () => {
        if (!open) return;
        open = false;
        entry.users--;
        entry.lastUsed = this.#now();
        if (entry.retired && entry.users === 0) view.close();
      },
    };
  }

  #retire(kubeconfig: string, entry: Entry, why: string): void {
    if (this.#entries.get(kubeconfig) === entry) this.#entries.delete(kubeconfig);
    entry.retired = true;
    entry.watched.stopWatching();
    if (entry.users === 0) entry.watched.view.close();
    this.#log("info", `multus cache: closed (${why})`, { kubeconfig: kubeconfig || "in-cluster" });
  }

  /** Closes every connection no call used for idleMs; returns how many. */
  closeIdle(): number {
    const idleMs = this.#options.idleMs ?? MULTUS_IDLE_MS;
    const now = this.#now();
    let closed = 0;
    for (const [kubeconfig, entry] of this.#entries) {
      if (entry.users === 0 && now - entry.lastUsed >= idleMs) {
        this.#retire(kubeconfig, entry, "idle");
        closed++;
      }
    }
    return closed;
  }

  /** Agent shutdown: every watch ends (calls in flight finish on their requests). */
  close(): void {
    this.#closed = true;
    for (const [kubeconfig, entry] of this.#entries) this.#retire(kubeconfig, entry, "agent stopping");
  }
}
