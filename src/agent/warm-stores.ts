// The agent's store handles, one per datastore identity (kind + connection settings), opened on
// first use and kept for later calls: no connection, TLS or auth set-up per attachment.
//
// A plugin process reads its kubeconfig and TLS files anew on every call, so rotated credentials
// (an installer rewriting the kubeconfig with a new ServiceAccount token, renewed certificates)
// take effect at once. The agent keeps that promise: a handle is replaced when one of the files it
// was opened from changes, and in any case after MAX_HANDLE_AGE_MS (a tokenFile named inside a
// kubeconfig is not watched). A replaced handle is closed once the calls using it are done.
import { statSync } from "node:fs";
import type { StoreAccess } from "../cni/plugin.ts";
import type { IpamConfig } from "../config/types.ts";
import { openStore } from "../store/open.ts";
import type { Store } from "../store/store.ts";
import { AgentStore, newAgentStats } from "./agent-store.ts";

export const MAX_HANDLE_AGE_MS = 5 * 60_000;

type Opener = (config: IpamConfig) => Promise<Store>;

interface Handle {
  readonly store: Promise<AgentStore>;
  readonly stamp: string;
  readonly openedAt: number;
  users: number;
  retired: boolean;
}

export class WarmStores {
  readonly #open: Opener;
  readonly #now: () => number;
  readonly #handles = new Map<string, Handle>();
  /** Stores opened so far, replaced ones included (for statistics). */
  opened = 0;
  /** What every store opened here did (shared by all of them). */
  readonly stats = newAgentStats();

  constructor(open: Opener = openStore, now: () => number = Date.now) {
    this.#open = open;
    this.#now = now;
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
      const store = this.#open(config).then((inner) => new AgentStore(inner, { stats: this.stats }));
      const created: Handle = { store, stamp, openedAt: this.#now(), users: 0, retired: false };
      this.opened++;
      // A store that could not be opened is not kept: the next call tries again.
      store.catch(() => {
        if (this.#handles.get(id) === created) this.#handles.delete(id);
      });
      this.#handles.set(id, created);
      handle = created;
    }
    handle.users++;
    return handle;
  }

  #release(handle: Handle): void {
    handle.users--;
    if (handle.retired && handle.users === 0) closeQuietly(handle);
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
