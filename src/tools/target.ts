// Which store an operator tool works on: one rule for every tool command (show, check, release,
// migrate). Exactly one of
//   --config FILE      a CNI network configuration or conflist, decoded as the plugin decodes it
//                      (its datastore, and the network for commands that work on one network);
//   --kubeconfig PATH  the Kubernetes datastore in the kubeconfig context's namespace
//                      (--namespace NS overrides it).
// Run as `kubectl thereabouts` with neither, the kubeconfig is kubectl's: the first existing file
// of $KUBECONFIG, else ~/.kube/config. `--network NAME` narrows what is shown to one network's
// pools (inventory.ts reads it). Kubernetes targets also get an API client for pods, because
// only the cluster knows a pod's node, age and liveness.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { loadIpamConfigFromNetwork } from "../config/load.ts";
import { DEFAULT_ETCD_PREFIX, DEFAULT_LOCAL_PATH, type IpamConfig } from "../config/types.ts";
import { fileError, fileReason, readConfigFile, readOptionalFile } from "../files/config-file.ts";
import { KubeClient } from "../kube/client.ts";
import { loadKubeconfig } from "../kube/kubeconfig.ts";
import { createTransport } from "../net/http-transport.ts";
import { openStore } from "../store/open.ts";
import type { StoreSettings } from "../store/settings.ts";
import type { Store } from "../store/store.ts";
import { UsageError } from "./usage-error.ts";

/** The flags of the rule, as parseArgs options: spread them into a command's own. */
export const TARGET_OPTIONS = {
  config: { type: "string" },
  kubeconfig: { type: "string" },
  namespace: { type: "string", short: "n" },
  network: { type: "string" },
} as const;

/** The store flags' lines for a command's --help (check, which scans every network, stops here). */
export const STORE_USAGE = `Store (one of):
  --config FILE        a CNI network configuration or conflist: its datastore
                       (local, etcd, kubernetes)
  --kubeconfig PATH    the Kubernetes datastore (CRDs) in the kubeconfig
                       context's namespace
  -n, --namespace NS   with the Kubernetes datastore: the namespace of the
                       pools instead
  As \`kubectl thereabouts\` with neither: kubectl's kubeconfig ($KUBECONFIG,
  else ~/.kube/config).`;

/** The flags' lines for the --help of a command that can narrow to one network. */
export const TARGET_USAGE = `${STORE_USAGE}
  --network NAME       only the pools of this network (its network_name, or the
                       --config network's name)`;

/** The flags as parsed (parseArgs values). */
export interface TargetFlags {
  readonly config?: string | undefined;
  readonly kubeconfig?: string | undefined;
  readonly namespace?: string | undefined;
  readonly network?: string | undefined;
}

/** How the executable was run: kubectl runs plugins with the user's kubeconfig as the default. */
export interface TargetContext {
  readonly kubectlPlugin: boolean;
  readonly env: NodeJS.ProcessEnv;
}

export interface Target {
  readonly store: Store;
  /** The API client for pods (Kubernetes datastore only). */
  readonly kube?: KubeClient;
  /** The namespace of the pools and reservations (Kubernetes datastore only). */
  readonly namespace?: string;
  /** The decoded --config network, when the store was chosen by one. */
  readonly networkConfig?: IpamConfig;
  /** --network as given (undefined: every network). */
  readonly network?: string;
  /** Closes the store and the API client. */
  close(): Promise<void>;
}

/**
 * Reads and decodes a CNI network configuration or conflist as the plugin would (no CNI_ARGS).
 * `flag` names the option that gave the path, in messages (migrate has --from and --to).
 */
export function loadNetworkConfig(path: string, flag = "--config"): IpamConfig {
  let text: string;
  try {
    text = readConfigFile(path);
  } catch (error) {
    throw fileError(error, `${flag} ${path}: ${fileReason(error)}`);
  }
  return loadIpamConfigFromNetwork({ stdin: text, cniArgs: "", readFile: readOptionalFile });
}

/**
 * kubectl's kubeconfig: the first file of $KUBECONFIG (a list) that exists, else ~/.kube/config.
 * kubectl merges every file of the list; a tool needs one connection, and the first file is the
 * one whose current-context kubectl uses when it sets one.
 */
export function kubectlKubeconfig(env: NodeJS.ProcessEnv, home: string = homedir()): string {
  const list = (env["KUBECONFIG"] ?? "").split(delimiter).filter((p) => p !== "");
  return list.find((p) => existsSync(p)) ?? list[0] ?? join(home, ".kube", "config");
}

/** The store settings and namespace the flags select; throws UsageError for a bad combination. */
export function selectTarget(
  flags: TargetFlags,
  context: TargetContext,
): { settings: StoreSettings; networkConfig?: IpamConfig; namespace?: string } {
  if (flags.config !== undefined && flags.kubeconfig !== undefined)
    throw new UsageError("give either --config FILE or --kubeconfig PATH, not both");
  if (flags.config !== undefined) {
    const networkConfig = loadNetworkConfig(flags.config);
    if (flags.namespace !== undefined && networkConfig.datastore !== "kubernetes")
      throw new UsageError(
        `--namespace applies to the Kubernetes datastore; ${flags.config} uses ${networkConfig.datastore}`,
      );
    return {
      settings: networkConfig,
      networkConfig,
      ...(flags.namespace === undefined ? {} : { namespace: flags.namespace }),
    };
  }
  const kubeconfig = flags.kubeconfig ?? (context.kubectlPlugin ? kubectlKubeconfig(context.env) : undefined);
  if (kubeconfig === undefined)
    throw new UsageError(
      "say which store: --config FILE (a CNI network configuration) or --kubeconfig PATH (the Kubernetes datastore)",
    );
  if (flags.namespace === "") throw new UsageError("--namespace needs a namespace name");
  return {
    settings: {
      datastore: "kubernetes",
      kubernetes: { kubeconfig: resolve(kubeconfig) },
      local: { path: DEFAULT_LOCAL_PATH },
      etcd: { endpoints: [], prefix: DEFAULT_ETCD_PREFIX },
    },
    ...(flags.namespace === undefined ? {} : { namespace: flags.namespace }),
  };
}

/** Budget of one API request for pods; a call's own deadline cuts it shorter. */
const ATTEMPT_TIMEOUT_MS = 5_000;

/** Opens what the flags select. The caller closes it (`close()`), also when it fails later. */
export async function openTarget(flags: TargetFlags, context: TargetContext): Promise<Target> {
  const { settings, networkConfig, namespace } = selectTarget(flags, context);
  let kube: KubeClient | undefined;
  let poolNamespace: string | undefined;
  if (settings.datastore === "kubernetes") {
    const connection = await loadKubeconfig(settings.kubernetes.kubeconfig);
    poolNamespace = namespace ?? connection.namespace;
    kube = new KubeClient({
      connection,
      transport: createTransport(connection.tls),
      attemptTimeoutMs: ATTEMPT_TIMEOUT_MS,
    });
  }
  let store: Store;
  try {
    store = await openStore(settings, poolNamespace === undefined ? {} : { namespace: poolNamespace });
  } catch (error) {
    kube?.close();
    throw error;
  }
  return {
    store,
    ...(kube === undefined ? {} : { kube }),
    ...(poolNamespace === undefined ? {} : { namespace: poolNamespace }),
    ...(networkConfig === undefined ? {} : { networkConfig }),
    ...(flags.network === undefined ? {} : { network: flags.network }),
    async close() {
      kube?.close();
      await store.close();
    },
  };
}
