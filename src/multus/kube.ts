// Multus' access to the Kubernetes API: the pod (with Multus' short retries: a sandbox being set
// up must not wait long for an API server that is away), its NetworkAttachmentDefinitions and the
// network-status annotation, written through pods/status as Multus writes it. The connection is
// Multus' `kubeconfig`, else the in-cluster ServiceAccount, else none (static delegates only).
import { inClusterConnection } from "../controller/kube.ts";
import { StoreUnavailableError } from "../errors/errors.ts";
import { KubeClient, MERGE_PATCH } from "../kube/client.ts";
import { loadKubeconfig } from "../kube/kubeconfig.ts";
import { createTransport } from "../net/http-transport.ts";

/** Multus thin: each pod GET gets the poll interval, the lookup 2.5 s in all. */
const POD_ATTEMPT_MS = 250;
const POD_WAIT_MS = 2_500;
/** Other requests (NADs, the status write): Multus' client timeout is 60 s; a CNI call has less. */
const REQUEST_ATTEMPT_MS = 5_000;
const REQUEST_DEADLINE_MS = 20_000;

export interface Pod {
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
    readonly annotations?: Readonly<Record<string, string>>;
  };
}

export interface MultusKube {
  /** The pod, or undefined when the API says it does not exist. */
  getPod(namespace: string, name: string): Promise<Pod | undefined>;
  /** The NAD, or the API's own not-found text. */
  getNad(namespace: string, name: string): Promise<{ nad: unknown } | { missing: string }>;
  /** Sets (or, with undefined, removes) one annotation through pods/status; UID checked by the API. */
  setStatusAnnotation(pod: Pod, key: string, value: string | undefined): Promise<"done" | "gone">;
  readonly requests: number;
  close(): void;
}

export async function connectKube(
  kubeconfig: string,
  env: NodeJS.ProcessEnv,
): Promise<MultusKube | undefined> {
  let connection: Awaited<ReturnType<typeof loadKubeconfig>>;
  if (kubeconfig !== "") connection = await loadKubeconfig(kubeconfig);
  else if ((env["KUBERNETES_SERVICE_HOST"] ?? "") !== "" && (env["KUBERNETES_SERVICE_PORT"] ?? "") !== "")
    connection = inClusterConnection(env);
  else return undefined;
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
      return reply.status === 404 ? undefined : (reply.body as Pod);
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
      if (reply.status !== 404) return { nad: reply.body };
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
      return reply.status === 404 ? "gone" : "done";
    },
    get requests() {
      return quick.requests + client.requests;
    },
    close: () => transport.close(),
  };
}
