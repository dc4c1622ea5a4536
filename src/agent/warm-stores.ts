// The agent's store handles, one per datastore identity (kind + connection settings), opened on
// first use and kept for later calls: no connection, TLS or auth set-up per attachment.
//
// A plugin process reads its kubeconfig and TLS files anew on every call, so rotated credentials
// (an installer rewriting the kubeconfig with a new ServiceAccount token, renewed certificates)
// take effect at once. The agent keeps that promise: a handle is replaced when one of the files it
// was opened from changes, and in any case after MAX_HANDLE_AGE_MS (a tokenFile named inside a
// kubeconfig is not watched). A replaced handle is closed once the calls using it are done.
//
// Handles are not kept for ever either: one not used for `idleMs` is closed by closeIdle() (the
// agent calls it periodically), and no more than `maxOpen` are kept, the least recently used idle
// ones closed first, so a node that sees many distinct stores (each a sqlite file, a connection
// pool) does not accumulate file descriptors. A handle in use is never closed under its calls.
import { statSync } from "node:fs";
import type { StoreAccess } from "../cni/plugin.ts";
import type { IpamConfig } from "../config/types.ts";
import type { DaemonLog } from "../log/line.ts";
import { openStore } from "../store/open.ts";
import type { NodeSliceStore, Store } from "../store/store.ts";
import { AgentStore, newAgentStats } from "./agent-store.ts";
import { watchedNodeSlices } from "./node-slice-view.ts";

export const MAX_HANDLE_AGE_MS = 5 * 60_000;
export const DEFAULT_IDLE_MS = 60_000;
export const DEFAULT_MAX_OPEN = 32;

type Opener = (config: IpamConfig) => Promise<Store>;

/** The NodeSlicePool view a store's handle answers with (closed with it), if any. */
export type NodeSliceWatcher = (store: Store) => (NodeSliceStore & { close(): void }) | undefined;

interface Handle {
  readonly store: Promise<AgentStore>;
  readonly stamp: string;
  readonly openedAt: number;
  lastUsed: number;
  users: number;
  retired: boolean;
}

export interface WarmStoresOptions {
  readonly open?: Opener;
  readonly now?: () => number;
  /** A handle unused for this long is closed by closeIdle(). */
  readonly idleMs?: number;
  /** At most this many handles are kept open (more only while all of them are in use). */
  readonly maxOpen?: number;
  /** Default: a Kubernetes store's handle watches its NodeSlicePools (node-slice-view.ts). */
  readonly nodeSlices?: NodeSliceWatcher;
  /** Where the watches log. */
  readonly log?: DaemonLog;
}

export class WarmStores {
  readonly #open: Opener;
  readonly #now: () => number;
  readonly #idleMs: number;
  readonly #maxOpen: number;
  readonly #nodeSlices: NodeSliceWatcher;
  /** By identity, least recently used first (a used handle is moved to the end). */
  readonly #handles = new Map<string, Handle>();
  /** Stores opened so far, replaced ones included (for statistics). */
  opened = 0;
  /** What every store opened here did (shared by all of them). */
  readonly stats = newAgentStats();

  constructor(options: WarmStoresOptions = {}) {
    this.#open = options.open ?? ((config) => openStore(config, { longLived: true }));
    this.#now = options.now ?? Date.now;
    this.#idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.#maxOpen = options.maxOpen ?? DEFAULT_MAX_OPEN;
    const log = options.log ?? (() => {});
    this.#nodeSlices = options.nodeSlices ?? ((store) => watchedNodeSlices(store, log));
  }

  get idleMs(): number {
    return this.#idleMs;
  }

  /** Handles open now (or opening). */
  get size(): number {
    return this.#handles.size;
  }

  /** For pluginHandlers: the warm store of the config's datastore, never closed by a call. */
  readonly access: StoreAccess = async (config, work) => {
    const handle = this.#acquire(config);
    try {
      return await work(await handle.store);
    } finally {
      this.#release(handle);
    }
  };

  #acquire(config: IpamConfig): Handle {
    const id = identity(config);
    const stamp = fileStamp(config);
    let handle = this.#handles.get(id);
    if (
      handle !== undefined &&
      (handle.stamp !== stamp || this.#now() - handle.openedAt >= MAX_HANDLE_AGE_MS)
    ) {
      this.#retire(id, handle);
      handle = undefined;
    }
    if (handle === undefined) {
      this.#makeRoom();
      const store = this.#open(config).then((inner) => {
        const nodeSlices = this.#nodeSlices(inner);
        return new AgentStore(inner, {
          stats: this.stats,
          ...(nodeSlices === undefined ? {} : { nodeSlices }),
        });
      });
      const now = this.#now();
      const created: Handle = { store, stamp, openedAt: now, lastUsed: now, users: 0, retired: false };
      this.opened++;
      // A store that could not be opened is not kept: the next call tries again.
      store.catch(() => {
        if (this.#handles.get(id) === created) this.#handles.delete(id);
      });
      handle = created;
    }
    this.#handles.delete(id);
    this.#handles.set(id, handle);
    handle.users++;
    handle.lastUsed = this.#now();
    return handle;
  }

  #release(handle: Handle): void {
    handle.users--;
    handle.lastUsed = this.#now();
    if (handle.retired && handle.users === 0) closeQuietly(handle);
  }

  /** Before a new handle: closes least recently used idle ones until it fits under maxOpen. */
  #makeRoom(): void {
    for (const [id, handle] of this.#handles) {
      if (this.#handles.size < this.#maxOpen) return;
      if (handle.users === 0) this.#retire(id, handle);
    }
  }

  /** Closes every handle no call has used for idleMs; returns how many. */
  closeIdle(): number {
    const now = this.#now();
    let closed = 0;
    for (const [id, handle] of this.#handles) {
      if (handle.users === 0 && now - handle.lastUsed >= this.#idleMs) {
        this.#retire(id, handle);
        closed++;
      }
    }
    return closed;
  }

  #retire(id: string, handle: Handle): void {
    this.#handles.delete(id);
    handle.retired = true;
    if (handle.users === 0) closeQuietly(handle);
  }

  /** Closes every store (agent shutdown, after the calls in flight are done). */
  async closeAll(): Promise<void> {
    const handles = [...this.#handles.values()];
    this.#handles.clear();
    await Promise.allSettled(handles.map(async (h) => (await h.store).close()));
  }
}

function closeQuietly(handle: Handle): void {
  handle.store.then(
    (store) => store.close().catch(() => {}),
    () => {},
  );
}

/** What makes two configs share a store handle: the datastore and how it is reached. */
export function identity(config: IpamConfig): string {
  switch (config.datastore) {
    case "local":
      return JSON.stringify(["local", config.local.path]);
    case "kubernetes":
      return JSON.stringify(["kubernetes", config.kubernetes.kubeconfig]);
    case "etcd":
      return JSON.stringify(["etcd", config.etcd]);
  }
}

/** The modification times of the files a store is opened from ("" for a file not there). */
export function fileStamp(config: IpamConfig): string {
  const files =
    config.datastore === "kubernetes"
      ? [config.kubernetes.kubeconfig]
      : config.datastore === "etcd"
        ? [config.etcd.certFile, config.etcd.keyFile, config.etcd.caCertFile]
        : [];
  return files
    .map((file) => {
      if (file === undefined || file === "") return "";
      try {
        return String(statSync(file).mtimeMs);
      } catch {
        return "";
      }
    })
    .join("|");
}
