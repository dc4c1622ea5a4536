// The agent's store handles, one per datastore identity (kind + connection settings), opened on
// first use and kept for every later call: no connection, TLS or auth set-up per attachment.
import type { StoreAccess } from "../cni/plugin.ts";
import type { IpamConfig } from "../config/types.ts";
import { openStore } from "../store/open.ts";
import type { Store } from "../store/store.ts";
import { AgentStore } from "./agent-store.ts";

type Opener = (config: IpamConfig) => Promise<Store>;

export class WarmStores {
  readonly #open: Opener;
  readonly #stores = new Map<string, Promise<AgentStore>>();

  constructor(open: Opener = openStore) {
    this.#open = open;
  }

  /** For pluginHandlers: the warm store of the config's datastore, never closed by a call. */
  readonly access: StoreAccess = async (config, work) => work(await this.get(config));

  get(config: IpamConfig): Promise<AgentStore> {
    const key = identity(config);
    let store = this.#stores.get(key);
    if (store === undefined) {
      store = this.#open(config).then((inner) => new AgentStore(inner));
      // A store that could not be opened is not kept: the next call tries again.
      store.catch(() => this.#stores.delete(key));
      this.#stores.set(key, store);
    }
    return store;
  }

  /** Every store opened so far (for statistics and shutdown). */
  async all(): Promise<AgentStore[]> {
    const settled = await Promise.allSettled(this.#stores.values());
    return settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  }

  async closeAll(): Promise<void> {
    const stores = await this.all();
    this.#stores.clear();
    await Promise.allSettled(stores.map((s) => s.close()));
  }
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
