// Datastore selection at the edge. Backends are imported lazily so a plugin process only loads
// the client it uses (start-up time is on every pod's path).
import type { IpamConfig } from "../config/types.ts";
import { CNI_CODES, CniError } from "../errors/errors.ts";
import type { Store } from "./store.ts";

export async function openStore(config: IpamConfig): Promise<Store> {
  switch (config.datastore) {
    case "local": {
      const { openLocalStore } = await import("./local/sqlite-store.ts");
      return openLocalStore(config.local.path);
    }
    case "etcd": {
      const { openEtcdStore } = await import("./etcd/etcd-store.ts");
      return openEtcdStore(config.etcd);
    }
    case "kubernetes":
      throw new CniError(
        CNI_CODES.unsupportedField,
        `datastore "kubernetes" is not available in this build yet`,
        `set "datastore": "local" (one host) or "etcd" in the ipam config`,
      );
  }
}
