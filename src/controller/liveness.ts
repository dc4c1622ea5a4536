// Whether a pod still needs its addresses (README, Differences item 15). Pure: decoded from the pod
// object as the API serves it. A pod is *gone* when it no longer exists, has reached a terminal
// phase (Succeeded or Failed: its containers will never run again), or carries the condition the
// taint manager sets before evicting it (DisruptionTarget=True, reason DeletionByTaintManager, as
// Whereabouts >= v0.8 treats it). Nothing else counts: a pod without a network-status annotation,
// a Pending pod, or a pod being deleted gracefully (deletionTimestamp set, containers still
// stopping) keeps its addresses; the last one is freed when its DELETED event arrives.

export type GoneReason = "not found" | "phase Succeeded" | "phase Failed" | "evicted by the taint manager";

/** What the controller keeps of a pod: small, so a cluster-wide cache stays cheap. */
export interface PodState {
  /** `<namespace>/<name>`, the form of a pool entry's podref. */
  readonly ref: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  /** Why the pod is gone although its object still exists; undefined for a pod that is alive. */
  readonly gone: GoneReason | undefined;
  /**
   * When it became gone as the object says (ms since the epoch, the kubelet's or the API server's
   * clock), where it says: the last container's `finishedAt` of a terminal pod, the condition's
   * `lastTransitionTime` of an eviction. Undefined for a live pod and when the object does not say.
   */
  readonly goneAt?: number;
}

type Dict = Readonly<Record<string, unknown>>;

function dict(value: unknown): Dict {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Dict) : {};
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** The reason an existing pod object counts as gone, or undefined while it may still run. */
export function goneReason(pod: unknown): GoneReason | undefined {
  const status = dict(dict(pod)["status"]);
  const phase = text(status["phase"]);
  if (phase === "Succeeded") return "phase Succeeded";
  if (phase === "Failed") return "phase Failed";
  const conditions = Array.isArray(status["conditions"]) ? status["conditions"] : [];
  for (const item of conditions) {
    const c = dict(item);
    if (
      c["type"] === "DisruptionTarget" &&
      c["status"] === "True" &&
      c["reason"] === "DeletionByTaintManager"
    )
      return "evicted by the taint manager";
  }
  return undefined;
}

/** An RFC 3339 time of the object as ms since the epoch; undefined when absent or unreadable. */
function instant(value: unknown): number | undefined {
  const ms = typeof value === "string" ? Date.parse(value) : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

/** When a gone pod became gone, where its object says (PodState.goneAt). */
export function goneTime(pod: unknown, why: GoneReason | undefined): number | undefined {
  const status = dict(dict(pod)["status"]);
  if (why === "evicted by the taint manager") {
    const conditions = Array.isArray(status["conditions"]) ? status["conditions"] : [];
    const c = conditions.map(dict).find((c) => c["type"] === "DisruptionTarget");
    return instant(c?.["lastTransitionTime"]);
  }
  if (why !== "phase Succeeded" && why !== "phase Failed") return undefined;
  // The pod's containers are all done once the last one finished.
  let last: number | undefined;
  for (const key of ["initContainerStatuses", "containerStatuses"]) {
    const list = Array.isArray(status[key]) ? status[key] : [];
    for (const item of list) {
      const at = instant(dict(dict(dict(item)["state"])["terminated"])["finishedAt"]);
      if (at !== undefined && (last === undefined || at > last)) last = at;
    }
  }
  return last;
}

export function podState(pod: unknown): PodState {
  const meta = dict(dict(pod)["metadata"]);
  const namespace = text(meta["namespace"]);
  const name = text(meta["name"]);
  const gone = goneReason(pod);
  const goneAt = goneTime(pod, gone);
  return {
    ref: `${namespace}/${name}`,
    namespace,
    name,
    uid: text(meta["uid"]),
    resourceVersion: text(meta["resourceVersion"]),
    gone,
    ...(goneAt === undefined ? {} : { goneAt }),
  };
}

/** isGone(undefined) is a pod that does not exist. */
export function isGone(pod: PodState | undefined): boolean {
  return pod === undefined || pod.gone !== undefined;
}

export function whyGone(pod: PodState | undefined): GoneReason | undefined {
  return pod === undefined ? "not found" : pod.gone;
}

/** `ns/name` → its parts; undefined for a podref that names no pod (empty, or no slash). */
export function splitPodRef(ref: string): { namespace: string; name: string } | undefined {
  const slash = ref.indexOf("/");
  if (slash <= 0 || slash === ref.length - 1) return undefined;
  return { namespace: ref.slice(0, slash), name: ref.slice(slash + 1) };
}
