// How to reach a store: which backend, and the settings of its connection. The configuration
// (src/config) reads them from the network configuration and the flat file; a store takes these
// and nothing else of the configuration, so the two never import each other's modules.

export const DATASTORES = ["local", "kubernetes", "etcd"] as const;
export type Datastore = (typeof DATASTORES)[number];

export interface EtcdSettings {
  /** URLs (`host:port` gets `http://`); empty unless etcd_host is set. */
  readonly endpoints: readonly string[];
  readonly username?: string;
  readonly password?: string;
  readonly keyFile?: string;
  readonly certFile?: string;
  readonly caCertFile?: string;
  readonly prefix: string;
}

export interface StoreSettings {
  /** Explicit `datastore`, else "kubernetes" when a kubeconfig is set, else "local". */
  readonly datastore: Datastore;
  /** The sqlite file of the local store. */
  readonly local: { readonly path: string };
  /** The kubeconfig of the Kubernetes store. */
  readonly kubernetes: { readonly kubeconfig: string };
  readonly etcd: EtcdSettings;
}
