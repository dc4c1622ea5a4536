// What one reconcile of the controller does around `reclaim` (reconcile.ts): which pods it may
// skip (the cluster view's word that they are alive, on a sweep), the Event on each pod whose
// addresses were freed, the log lines and the metrics; and the Event on a pod the fast path gave
// up on. Kept apart from the composition root so the reconcile queue's action is one function.
import type { DaemonLog } from "../log/line.ts";
import type { Store } from "../store/store.ts";
import { errorFields } from "./advice.ts";
import type { ClusterView } from "./cluster-view.ts";
import type { EventRecorder } from "./events.ts";
import { type PodState, splitPodRef } from "./liveness.ts";
import type { ControllerMetrics, Trigger } from "./metrics.ts";
import { type PodReader, type Release, reclaim } from "./reconcile.ts";
import type { QueuedPod, ReconcileOutcome } from "./reconcile-queue.ts";

export const RELEASE_REASON = "IPAddressGarbageCollected";
export const RELEASE_FAILED_REASON = "IPAddressGarbageCollectionFailed";

/** The controller's log (src/log/line.ts): JSON lines by default, text with --log-format text. */
export type Log = DaemonLog;

export interface GcDependencies {
  readonly store: Store;
  readonly pods: PodReader;
  /** The leader's cluster view, once it exists. */
  readonly view: () => ClusterView | undefined;
  readonly events: EventRecorder;
  readonly metrics: ControllerMetrics;
  readonly log: Log;
}

function podObject(ref: string, uid: string) {
  const { namespace, name } = splitPodRef(ref)!;
  return { apiVersion: "v1", kind: "Pod", namespace, name, uid };
}

/** One reconcile: every pod (a sweep) or the pods given (the fast path). */
export function gcRun(deps: GcDependencies) {
  const { store, pods, events, metrics, log } = deps;
  const released = (trigger: Trigger, started: number) => (r: Release) => {
    const what =
      r.addresses.length > 0
        ? `IP address [${r.addresses.join(" ")}] from pool ${r.pool}${r.networkName === "" ? "" : ` (network ${r.networkName})`}`
        : `overlapping-range reservation [${r.reservations.join(" ")}]`;
    // How long the addresses stayed allocated after their pod was gone: from when the pod's
    // object says it ended, else from when this controller first saw it gone (at the latest,
    // this run). Clocks of kubelets and controller may differ: never below 0.
    const { goneSince, ...release } = r;
    const leakSeconds = Math.max(0, (Date.now() - (goneSince ?? started)) / 1000);
    metrics.leaked(trigger, leakSeconds, r.addresses.length);
    log("info", "released", { trigger, ...release, leakSeconds });
    void events.record(
      podObject(r.podRef, r.uid),
      "Normal",
      RELEASE_REASON,
      `successful cleanup of ${what}: pod ${r.why}`,
    );
  };
  return async (trigger: Trigger, refs?: ReadonlyMap<string, QueuedPod>): Promise<ReconcileOutcome> => {
    const started = Date.now();
    const failedPods = new Set<string>();
    const cluster = deps.view();
    const result = await reclaim(
      store,
      pods,
      {
        ...(refs === undefined ? {} : { refs: new Set(refs.keys()) }),
        ...(refs === undefined && cluster?.pods.synced ? { alive: (ref: string) => cluster.alive(ref) } : {}),
        lastSeen: (ref) => refs?.get(ref)?.state ?? cluster?.pods.get(ref),
        seenGone: (ref) => refs?.get(ref)?.seenGoneAt,
      },
      {
        released: released(trigger, started),
        failed: (what, error, podRef) => {
          if (podRef !== undefined) failedPods.add(podRef);
          log("error", `reconcile: cannot ${what}`, { trigger, ...errorFields(error) });
        },
        kept: (podRef, pod) =>
          log("info", "kept: the pod exists and is not gone", { trigger, pod: podRef, uid: pod.uid }),
      },
    );
    metrics.reclaimed(trigger, result.addresses, result.reservations);
    metrics.run(trigger, result.errors, (Date.now() - started) / 1000);
    log("info", "reconciled", {
      trigger,
      pods: refs?.size,
      addresses: result.addresses,
      reservations: result.reservations,
      errors: result.errors,
      ms: Date.now() - started,
    });
    return { errors: result.errors, failedPods };
  };
}

/** The Warning on a pod whose addresses the fast path could not free (the next sweep tries again). */
export function reportGaveUp(
  events: EventRecorder,
  log: Log,
  ref: string,
  state: PodState | undefined,
  attempts: number,
): void {
  log("error", "giving up on a pod's addresses until the next sweep", { pod: ref });
  void events.record(
    podObject(ref, state?.uid ?? ""),
    "Warning",
    RELEASE_FAILED_REASON,
    `failed to garbage collect addresses for pod ${ref} (retried ${attempts} times; the next sweep tries again)`,
  );
}
