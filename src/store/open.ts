// Datastore selection at the edge. Backends are imported statically: in the compiled binary a
// dynamic import() costs more start-up (~10 ms) than evaluating every backend module (~3 ms each);
// none of them does work at import time.
import type { IpamConfig } from "../config/types.ts";
import { openEtcdStore } from "./etcd/etcd-store.ts";
import { openKubernetesStore } from "./kubernetes/kubernetes-store.ts";
import { openLocalStore } from "./local/sqlite-store.ts";
import type { Store } from "./store.ts";

export async function openStore(config: IpamConfig): Promise<Store> {
  switch (config.datastore) {
    case "local":
      return openLocalStore(config.local.path);
    case "etcd":
      return openEtcdStore(config.etcd);
    case "kubernetes":
      return openKubernetesStore(config.kubernetes.kubeconfig);
  }
}
