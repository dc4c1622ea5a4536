// Datastore selection at the edge. Backends are imported statically: in the compiled binary a
// dynamic import() costs more start-up (~10 ms) than evaluating every backend module (~3 ms each);
// none of them does work at import time.
import { openEtcdStore } from "./etcd/etcd-store.ts";
import { openKubernetesStore } from "./kubernetes/kubernetes-store.ts";
import { openLocalStore } from "./local/sqlite-store.ts";
import type { StoreSettings } from "./settings.ts";
import type { Store } from "./store.ts";

/**
 * `longLived`: the store serves many calls (the node agent's), so it may keep state across them,
 * e.g. whether Go Whereabouts plugins are active in the namespace (Kubernetes). `namespace`
 * (Kubernetes): the pools' namespace instead of the kubeconfig context's (the operator tools'
 * --namespace).
 */
export async function openStore(
  settings: StoreSettings,
  options: { readonly longLived?: boolean; readonly namespace?: string } = {},
): Promise<Store> {
  switch (settings.datastore) {
    case "local":
      return openLocalStore(settings.local.path);
    case "etcd":
      return openEtcdStore(settings.etcd);
    case "kubernetes":
      return openKubernetesStore(settings.kubernetes.kubeconfig, {
        honourGoLease: options.longLived === true,
        ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
      });
  }
}
