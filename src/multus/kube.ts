// Multus' access to the Kubernetes API: the pod (with Multus' short retries: a sandbox being set
// up must not wait long for an API server that is away), its NetworkAttachmentDefinitions and the
// network-status annotation, written through pods/status as Multus writes it. The connection is
// Multus' `kubeconfig`, else the in-cluster ServiceAccount, else none (static delegates only).
// A plugin process connects per call (connectKube); the node agent keeps one connection per
// configuration and serves pods and NADs from a watch cache in front of these same requests
// (src/agent/multus-kube.ts).
import { inClusterConnection, type ReadText } from "../controller/kube.ts";
import { StoreUnavailableError } from "../errors/errors.ts";
import { readConfigFile } from "../files/config-file.ts";
import { KubeClient, MERGE_PATCH } from "../kube/client.ts";
import { type KubeConnection, loadKubeconfig } from "../kube/kubeconfig.ts";
import { createTransport } from "../net/http-transport.ts";
import { NETWORK_STATUS_ANNOTATION } from "./network-status.ts";
import { RESOURCE_NAME_ANNOTATION } from "./resolve.ts";
import { DEFAULT_NETWORK_ANNOTATION, NETWORKS_ANNOTATION } from "./selection.ts";

/** Multus thin: each pod GET gets the poll interval, the lookup 2.5 s in all. */
const POD_ATTEMPT_MS = 250;
const POD_WAIT_MS = 2_500;
/** Other requests (NADs, the status write): Multus' client timeout is 60 s; a CNI call has less. */
const REQUEST_ATTEMPT_MS = 5_000;
const REQUEST_DEADLINE_MS = 20_000;

/** Set by kubelet on static pods (file, http): their mirror pod's UID is not the runtime's. */
export const CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source";

/**
 * The pod annotations the flows read. A pod is decoded to these alone, by a plugin's GET and in the
 * agent's cache alike: the agent keeps every pod of its node, and what else a pod carries
 * (kubectl's last-applied configuration, other controllers' notes) can be most of its size.
 */
const POD_ANNOTATIONS = [
  NETWORKS_ANNOTATION,
  DEFAULT_NETWORK_ANNOTATION,
  NETWORK_STATUS_ANNOTATION,
  CONFIG_SOURCE_ANNOTATION,
] as const;

export interface Pod {
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
    readonly annotations?: Readonly<Record<string, string>>;
  };
}

/** What the flows read of a NetworkAttachmentDefinition (resolve.ts, delegateFromNad). */
export interface Nad {
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec: { readonly config?: unknown };
}

export interface MultusKube {
  /**
   * The pod, or undefined when the API says it does not exist. `uid`: the runtime's K8S_POD_UID
   * (for a cache: a pod it holds under another UID is not trusted to be the current one).
   */
  getPod(namespace: string, name: string, uid?: string): Promise<Pod | undefined>;
  /** The NAD, or the API's own not-found text. */
  getNad(namespace: string, name: string): Promise<{ nad: Nad } | { missing: string }>;
  /** Sets (or, with undefined, removes) one annotation through pods/status; UID checked by the API. */
  setStatusAnnotation(pod: Pod, key: string, value: string | undefined): Promise<"done" | "gone">;
  readonly requests: number;
  close(): void;
}

type Meta = { name?: unknown; namespace?: unknown; uid?: unknown; annotations?: unknown };

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** The annotations among `keys` that the object carries as strings (undefined when none). */
function someAnnotations(
  annotations: unknown,
  keys: readonly string[],
): Readonly<Record<string, string>> | undefined {
  if (typeof annotations !== "object" || annotations === null) return undefined;
  const kept: Record<string, string> = {};
  for (const key of keys) {
    const value = (annotations as Record<string, unknown>)[key];
    if (typeof value === "string") kept[key] = value;
  }
  return Object.keys(kept).length === 0 ? undefined : kept;
}

/** A pod as the API sends it, reduced to what the flows read. */
export function podView(object: unknown): Pod {
  const meta = ((object as { metadata?: Meta } | undefined)?.metadata ?? {}) as Meta;
  const annotations = someAnnotations(meta.annotations, POD_ANNOTATIONS);
  return {
    metadata: {
      name: text(meta.name),
      namespace: text(meta.namespace),
      uid: text(meta.uid),
      ...(annotations === undefined ? {} : { annotations }),
    },
  };
}

/** A NAD as the API sends it, reduced to what the flows read (spec.config as sent: they check its type). */
export function nadView(object: unknown): Nad {
  const { metadata, spec } = (object ?? {}) as { metadata?: Meta; spec?: { config?: unknown } };
  const annotations = someAnnotations(metadata?.annotations, [RESOURCE_NAME_ANNOTATION]);
  return {
    metadata: {
      name: text(metadata?.name),
      namespace: text(metadata?.namespace),
      ...(annotations === undefined ? {} : { annotations }),
    },
    spec: spec?.config === undefined ? {} : { config: spec.config },
  };
}

/**
 * How the meta-plugin reaches the API: its `kubeconfig`, else in-cluster from `env`, else
 * undefined (no Kubernetes). `read` reads every file involved (the agent records them to notice
 * when one changes).
 */
export async function multusConnection(
  kubeconfig: string,
  env: NodeJS.ProcessEnv,
  read: ReadText = readConfigFile,
): Promise<KubeConnection | undefined> {
  if (kubeconfig !== "") return loadKubeconfig(kubeconfig, read);
  if ((env["KUBERNETES_SERVICE_HOST"] ?? "") !== "" && (env["KUBERNETES_SERVICE_PORT"] ?? "") !== "")
    return inClusterConnection(env, read);
  return undefined;
}

export async function connectKube(
  kubeconfig: string,
  env: NodeJS.ProcessEnv,
): Promise<MultusKube | undefined> {
  const connection = await multusConnection(kubeconfig, env);
  return connection === undefined ? undefined : kubeRequests(connection);
}

/**
 * The API requests themselves, one per question, on one keep-alive transport; close() closes it.
 * `written` hears the pod as a status write left it (the agent's cache reads its own writes).
 */
export function kubeRequests(connection: KubeConnection, written?: (pod: unknown) => void): MultusKube {
  const transport = createTransport(connection.tls);
  const quick = new KubeClient({ connection, transport, attemptTimeoutMs: POD_ATTEMPT_MS });
  const client = new KubeClient({ connection, transport, attemptTimeoutMs: REQUEST_ATTEMPT_MS });
  const podPath = (ns: string, name: string) =>
    `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}`;
  return {
    async getPod(namespace, name) {
      const get = async (kube: KubeClient, ms: number) =>
        kube.send(
          { method: "GET", path: podPath(namespace, name), expect: [404] },
          Date.now() + ms,
          "get the pod from",
        );
      let reply: Awaited<ReturnType<typeof get>>;
      try {
        reply = await get(quick, POD_WAIT_MS);
      } catch (error) {
        if (!(error instanceof StoreUnavailableError)) throw error;
        // Multus' last try after its poll: one request with the client's own timeout.
        reply = await get(client, REQUEST_ATTEMPT_MS);
      }
      return reply.status === 404 ? undefined : podView(reply.body);
    },
    async getNad(namespace, name) {
      const reply = await client.send(
        {
          method: "GET",
          path: `/apis/k8s.cni.cncf.io/v1/namespaces/${encodeURIComponent(namespace)}/network-attachment-definitions/${encodeURIComponent(name)}`,
          expect: [404],
        },
        Date.now() + REQUEST_DEADLINE_MS,
        "get a NetworkAttachmentDefinition from",
      );
      if (reply.status !== 404) return { nad: nadView(reply.body) };
      const message = (reply.body as { message?: unknown } | undefined)?.message;
      return {
        missing:
          typeof message === "string"
            ? message
            : `network-attachment-definitions.k8s.cni.cncf.io ${JSON.stringify(name)} not found`,
      };
    },
    async setStatusAnnotation(pod, key, value) {
      const { namespace, name, uid } = pod.metadata;
      const reply = await client.send(
        {
          method: "PATCH",
          path: `${podPath(namespace, name)}/status`,
          // The UID is a precondition: a pod re-created under the same name is not this one.
          body: { metadata: { uid, annotations: { [key]: value ?? null } } },
          contentType: MERGE_PATCH,
          expect: [404, 409],
        },
        Date.now() + REQUEST_DEADLINE_MS,
        "update the pod's status at",
      );
      if (reply.status === 409) throw client.unexpected(reply, "update the pod's status at");
      if (reply.status === 404) return "gone";
      written?.(reply.body);
      return "done";
    },
    get requests() {
      return quick.requests + client.requests;
    },
    close: () => transport.close(),
  };
}
