// The one Kubernetes read an ADD may make besides its store's: a GET of the pod being attached,
// for the owner of its sticky addresses (sticky_addresses) and its requested addresses
// (requested_ips_from_pod). Made only when one of those keys is on, before the store is opened,
// with the network's `kubernetes.kubeconfig` whatever the datastore. Plugins and the node agent
// run it alike (the agent runs these handlers).
import { parseRequestedAddresses } from "../config/requested.ts";
import type { IpamConfig } from "../config/types.ts";
import { CNI_CODES, CniError, ConfigError, StoreRefusedError } from "../errors/errors.ts";
import type { IP } from "../ip/index.ts";
import type { AddClaimant } from "../ipam/add.ts";
import { type Deadline, remainingMs } from "../ipam/retry.ts";
import { KubeClient } from "../kube/client.ts";
import { loadKubeconfig } from "../kube/kubeconfig.ts";
import { createTransport } from "../net/http-transport.ts";
import { ownerText, type PodIdentity, stickyOwnerOf } from "../pool/owner.ts";

/** The pod annotation of requested addresses: `{"<network name>": ["10.1.2.3", ...]}`. */
export const REQUESTED_IPS_ANNOTATION = "thereabouts.io/ips";

/** One GET gets this long at most (then retried within the lookup's budget). */
const ATTEMPT_MS = 5_000;
/**
 * The whole lookup: an ADD should not spend most of its minute on the pod; an API server away for
 * longer fails the ADD (code 11) and the runtime tries the sandbox again.
 */
export const POD_LOOKUP_MS = 10_000;

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
  const { name, ref } = config.pod;
  const namespace = ref.slice(0, ref.length - name.length - 1);
  const why = [
    config.stickyAddresses ? "sticky_addresses" : undefined,
    config.requestedIpsFromPod ? "requested_ips_from_pod" : undefined,
  ]
    .filter((k) => k !== undefined)
    .join(" and ");
  const connection = await loadKubeconfig(kubeconfig);
  const client = new KubeClient({
    connection,
    transport: createTransport(connection.tls),
    attemptTimeoutMs: ATTEMPT_MS,
  });
  try {
    const reply = await client
      .send(
        {
          method: "GET",
          path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`,
          expect: [404],
        },
        Date.now() + Math.max(0, Math.min(POD_LOOKUP_MS, remainingMs(deadline))),
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

const RUNTIME_IPS = "runtimeConfig ips";

/**
 * What an ADD claims besides its attachment: the owner of its sticky addresses (sticky_addresses
 * on and the pod a StatefulSet's or a VM's) and its requested addresses: runtimeConfig `ips` when
 * given (they win), else the pod's annotation entry for this network (requested_ips_from_pod).
 * `pod` is undefined when the network reads no pod.
 */
export function podClaim(
  config: IpamConfig,
  pod: PodFacts | undefined,
): Pick<AddClaimant, "owner" | "requested"> {
  const owner = config.stickyAddresses && pod !== undefined ? stickyOwnerOf(pod) : undefined;
  const sticky = owner === undefined ? {} : { owner: ownerText(owner) };
  if (config.requested.length > 0 || !config.requestedIpsFromPod || pod?.requestedIps === undefined)
    return { ...sticky, requested: { addresses: config.requested, source: RUNTIME_IPS } };
  const source = `annotation ${REQUESTED_IPS_ANNOTATION} of pod ${config.pod.ref}`;
  return {
    ...sticky,
    requested: { addresses: annotatedAddresses(pod.requestedIps, config.name, source), source },
  };
}
/**
 * The addresses the annotation requests for network `network` (its top-level `name`): a JSON
 * object of network name → list of address strings; other networks' entries are not looked at.
 * Anything else is code 7 naming the annotation (not quoting it: it is the pod's text).
 */
export function annotatedAddresses(text: string, network: string, source: string): IP[] {
  const invalid = (what: string) =>
    new ConfigError(
      `invalid ${source}: ${what}`,
      `write it as {"<network name>": ["10.1.2.3", "fd00::3"]}, the network name being the CNI network's name`,
    );
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid("not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw invalid("expected a JSON object of network name to addresses");
  if (!Object.hasOwn(value, network)) return [];
  const list = (value as Record<string, unknown>)[network];
  if (!Array.isArray(list) || !list.every((a) => typeof a === "string"))
    throw invalid(`the entry of network ${JSON.stringify(network)} must be a list of address strings`);
  return parseRequestedAddresses(list, `${source}, network ${JSON.stringify(network)}, entry`);
}
