// Where allocations are stored: an explicit `datastore` wins; otherwise Kubernetes when a
// kubeconfig is configured, else the embedded local store (Whereabouts has no local store and
// requires a kubeconfig: README, Differences item 7). `etcd_*` keys are read as Whereabouts v0.5
// read them.
import { ConfigError } from "../errors/errors.ts";
import { quote, withoutCredentials } from "../errors/message.ts";
import { DATASTORES, type Datastore, type EtcdSettings, type StoreSettings } from "../store/settings.ts";
import type { IpamInput } from "./ipam-input.ts";
import { DEFAULT_ETCD_PREFIX, DEFAULT_LOCAL_PATH } from "./types.ts";

function parseDatastore(text: string): Datastore {
  const lower = text.toLowerCase();
  const found = DATASTORES.find((d) => d === lower);
  if (found === undefined) {
    throw new ConfigError(`invalid datastore ${quote(text)}: expected one of ${DATASTORES.join(", ")}`);
  }
  return found;
}

/** etcd_host: `host:port` gets `http://`; a comma-separated string is a list. */
function parseEndpoints(host: string | readonly string[] | undefined): string[] {
  const items = host === undefined ? [] : typeof host === "string" ? host.split(",") : host;
  return items
    .map((item) => item.trim())
    .filter((item) => item !== "")
    .map((item) => {
      const url = item.includes("://") ? item : `http://${item}`;
      if (!URL.canParse(url))
        throw new ConfigError(`invalid etcd_host ${quote(withoutCredentials(item))}: not a URL`);
      return url;
    });
}

function parseEtcd(input: IpamInput["etcd"]): EtcdSettings {
  const prefix = input.prefix ?? DEFAULT_ETCD_PREFIX;
  if (!prefix.startsWith("/")) {
    throw new ConfigError(`invalid etcd_prefix ${quote(prefix)}: must start with "/"`);
  }
  return {
    endpoints: parseEndpoints(input.host),
    ...(input.username === undefined ? {} : { username: input.username }),
    ...(input.password === undefined ? {} : { password: input.password }),
    ...(input.keyFile === undefined ? {} : { keyFile: input.keyFile }),
    ...(input.certFile === undefined ? {} : { certFile: input.certFile }),
    ...(input.caCertFile === undefined ? {} : { caCertFile: input.caCertFile }),
    prefix,
  };
}

/** Picks and checks the datastore of the merged config. Throws ConfigError (Go's texts for the missing-setting cases). */
export function selectDatastore(input: IpamInput): StoreSettings {
  const kubeconfig = input.kubernetes.kubeconfig ?? "";
  const etcd = parseEtcd(input.etcd);
  const datastore =
    input.datastore !== undefined
      ? parseDatastore(input.datastore)
      : kubeconfig !== ""
        ? "kubernetes"
        : "local";
  if (datastore === "kubernetes" && kubeconfig === "") {
    throw new ConfigError(
      "you have not configured the storage engine (looks like you're using an invalid `kubernetes.kubeconfig` parameter in your config)",
    );
  }
  if (datastore === "etcd" && etcd.endpoints.length === 0) {
    throw new ConfigError(
      "you have not configured the storage engine (looks like you're using an invalid `etcd_host` parameter in your config)",
    );
  }
  return {
    datastore,
    local: { path: input.local.path ?? DEFAULT_LOCAL_PATH },
    kubernetes: { kubeconfig },
    etcd,
  };
}
