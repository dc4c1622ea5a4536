// What the cluster says about the pods that pool entries name (Kubernetes datastore only): node,
// phase, uid, creation time, the IPs of its network-status annotation, and whether it is gone by
// the controller's one reading of "gone" (src/controller/liveness.ts). A few pods of a namespace
// are read one by one; more with one list of their namespace (never a request per pod for a pool
// of thousands), or of the whole cluster when they are spread over many namespaces.
import { type PodState, podState, splitPodRef } from "../controller/liveness.ts";
import type { KubeClient } from "../kube/client.ts";

/** Multus' annotation: the attachments the runtime made, with their IPs. */
export const NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status";

/** One attachment of the network-status annotation. */
export interface NetworkStatus {
  /** The network (`namespace/name` of its NetworkAttachmentDefinition, or the default network's name). */
  readonly name: string;
  readonly interface: string;
  readonly ips: readonly string[];
}

export interface PodInfo extends PodState {
  /** spec.nodeName ("" while unscheduled). */
  readonly node: string;
  /** status.phase ("" when the pod has none yet). */
  readonly phase: string;
  /** metadata.creationTimestamp as served (RFC 3339), "" when absent. */
  readonly created: string;
  /** The network-status annotation: absent, not a list of attachments, or its attachments. */
  readonly networkStatus: readonly NetworkStatus[] | "absent" | "unreadable";
}

type Dict = Readonly<Record<string, unknown>>;

function dict(value: unknown): Dict {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Dict) : {};
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** Decodes a pod object as the API serves it. Pure. */
export function podInfo(pod: unknown): PodInfo {
  const meta = dict(dict(pod)["metadata"]);
  return {
    ...podState(pod),
    node: text(dict(dict(pod)["spec"])["nodeName"]),
    phase: text(dict(dict(pod)["status"])["phase"]),
    created: text(meta["creationTimestamp"]),
    networkStatus: networkStatusOf(dict(meta["annotations"])[NETWORK_STATUS_ANNOTATION]),
  };
}

/** The annotation's attachments; "unreadable" when it is not JSON list of objects. */
export function networkStatusOf(annotation: unknown): PodInfo["networkStatus"] {
  if (annotation === undefined) return "absent";
  let parsed: unknown;
  try {
    parsed = JSON.parse(text(annotation));
  } catch {
    return "unreadable";
  }
  if (!Array.isArray(parsed)) return "unreadable";
  const attachments: NetworkStatus[] = [];
  for (const item of parsed) {
    const a = dict(item);
    if (Object.keys(a).length === 0) return "unreadable";
    const ips = Array.isArray(a["ips"]) ? a["ips"].filter((ip): ip is string => typeof ip === "string") : [];
    attachments.push({ name: text(a["name"]), interface: text(a["interface"]), ips });
  }
  return attachments;
}

/** Up to this many pods of one namespace are read one by one rather than with a list. */
const SINGLE_READS = 3;
/** Beyond this many namespaces, one cluster-wide list costs less than one list per namespace. */
const NAMESPACE_LISTS = 8;

/**
 * The pods that `refs` (pool entries' `namespace/name` podrefs) name, by ref; a ref with no pod
 * is missing from the map (the pod does not exist). Refs that name no pod ("" or no slash) are
 * ignored. `deadline` (epoch ms) bounds every request.
 */
export async function readPods(
  kube: KubeClient,
  refs: Iterable<string>,
  deadline: number,
): Promise<ReadonlyMap<string, PodInfo>> {
  const byNamespace = new Map<string, Set<string>>();
  for (const ref of refs) {
    const parts = splitPodRef(ref);
    if (parts === undefined) continue;
    const names = byNamespace.get(parts.namespace) ?? new Set<string>();
    names.add(parts.name);
    byNamespace.set(parts.namespace, names);
  }
  const pods = new Map<string, PodInfo>();
  const keep = (item: unknown) => {
    const pod = podInfo(item);
    if (byNamespace.get(pod.namespace)?.has(pod.name) === true) pods.set(pod.ref, pod);
  };
  const list = async (path: string) => {
    for (const item of await kube.list(path, () => deadline, "list pods from")) keep(item);
  };
  if (byNamespace.size > NAMESPACE_LISTS) {
    await list("/api/v1/pods");
    return pods;
  }
  for (const [namespace, names] of byNamespace) {
    const base = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
    if (names.size > SINGLE_READS) {
      await list(base);
      continue;
    }
    for (const name of names) {
      const reply = await kube.send(
        { method: "GET", path: `${base}/${encodeURIComponent(name)}`, expect: [404] },
        deadline,
        "read a pod from",
      );
      if (reply.status !== 404) keep(reply.body);
    }
  }
  return pods;
}
