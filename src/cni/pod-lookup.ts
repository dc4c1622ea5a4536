// The one Kubernetes read an ADD may make besides its store's: a GET of the pod being attached,
// for the owner of its sticky addresses (sticky_addresses) and its requested addresses
// (requested_ips_from_pod). Made only when one of those keys is on, before the store is opened,
// with the network's `kubernetes.kubeconfig` whatever the datastore. Plugins and the node agent
// run it alike (the agent runs these handlers).
import type { IpamConfig } from "../config/types.ts";
import { CNI_CODES, CniError, StoreRefusedError } from "../errors/errors.ts";
import { KubeClient } from "../kube/client.ts";
import { loadKubeconfig } from "../kube/kubeconfig.ts";
import { type Deadline, remainingMs } from "../ipam/retry.ts";
import { createTransport } from "../net/http-transport.ts";
import type { PodIdentity } from "../pool/owner.ts";

/** The pod annotation of requested addresses: `{"<network name>": ["10.1.2.3", ...]}`. */
export const REQUESTED_IPS_ANNOTATION = "thereabouts.io/ips";

/** One GET gets this long at most (then retried within the lookup's budget). */
const ATTEMPT_MS = 5_000;
/** The whole lookup: an ADD should not spend most of its minute on the pod. */
const LOOKUP_MS = 15_000;

export interface PodFacts extends PodIdentity {
  readonly uid: string;
  /** The requested-addresses annotation as written, when the pod carries one. */
  readonly requestedIps?: string;
}

/** Whether an ADD of this network reads its pod. */
export function readsPod(config: IpamConfig): boolean {
  return config.stickyAddresses || config.requestedIpsFromPod;
}

function dict(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** What an ADD reads of a pod object: identity, labels, controller references, one annotation. */
export function podFacts(body: unknown): PodFacts {
  const meta = dict(dict(body)["metadata"]);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(dict(meta["labels"]))) if (typeof v === "string") labels[k] = v;
  const refs = Array.isArray(meta["ownerReferences"]) ? meta["ownerReferences"] : [];
  const requested = dict(meta["annotations"])[REQUESTED_IPS_ANNOTATION];
  return {
    namespace: text(meta["namespace"]),
    name: text(meta["name"]),
    uid: text(meta["uid"]),
    labels,
    ownerReferences: refs.map((r) => {
      const ref = dict(r);
      return { kind: text(ref["kind"]), name: text(ref["name"]), controller: ref["controller"] === true };
    }),
    ...(typeof requested === "string" ? { requestedIps: requested } : {}),
  };
}

/**
 * GETs the pod `namespace/name` with the network's kubeconfig. `uid` (CNI_ARGS K8S_POD_UID, when
 * the runtime passes it) must be the pod's: a pod re-created under the same name (a StatefulSet's
 * next incarnation) is not the one this ADD is for. A missing pod or another incarnation is code
 * 11 (the runtime retries the sandbox, and stops once the pod is gone); refused credentials or
 * permissions are code 5 saying what the kubeconfig's user needs; an API that does not answer in
 * time is code 11 (StoreUnavailableError).
 */
export async function lookUpPod(
  config: IpamConfig,
  uid: string | undefined,
  deadline: Deadline,
): Promise<PodFacts> {
  const { kubeconfig } = config.kubernetes;
  const { namespace, name, ref } = { ...config.pod, namespace: config.pod.ref.split("/")[0] ?? "" };
  const why = [
    config.stickyAddresses ? "sticky_addresses" : undefined,
    config.requestedIpsFromPod ? "requested_ips_from_pod" : undefined,
  ]
    .filter((k) => k !== undefined)
    .join(" and ");
  const connection = await loadKubeconfig(kubeconfig);
  const client = new KubeClient({ connection, transport: createTransport(connection.tls), attemptTimeoutMs: ATTEMPT_MS });
  try {
    const reply = await client
      .send(
        {
          method: "GET",
          path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`,
          expect: [404],
        },
        Date.now() + Math.max(0, Math.min(LOOKUP_MS, remainingMs(deadline))),
        "get the pod from",
      )
      .catch((error: unknown) => {
        if (error instanceof StoreRefusedError && error.facts.status === 403)
          throw new CniError(
            CNI_CODES.ioFailure,
            `cannot read pod ${ref} (${why}): ${error.message}`,
            `the user of kubeconfig ${kubeconfig} needs get on pods in namespace ${namespace}`,
          );
        throw error;
      });
    if (reply.status === 404)
      throw new CniError(
        CNI_CODES.tryAgainLater,
        `pod ${ref} not found at the Kubernetes API at ${client.server}; ${why} need it`,
        "CNI_ARGS K8S_POD_NAMESPACE and K8S_POD_NAME must name the pod being attached",
      );
    const pod = podFacts(reply.body);
    if (uid !== undefined && uid !== "" && pod.uid !== uid)
      throw new CniError(
        CNI_CODES.tryAgainLater,
        `pod ${ref} at the Kubernetes API is another pod than the one being attached (uid ${pod.uid}, CNI_ARGS K8S_POD_UID ${uid}): the pod was deleted and created again`,
      );
    return pod;
  } finally {
    client.close();
  }
}
