// What the leader watches: every pod in the cluster (identity and liveness only), and the pools
// and reservations of the controller's namespace, indexed by the podrefs they name. The fast path
// acts on a pod that became gone only if something names it, so pod churn that has nothing to do
// with these networks costs no reads; and an entry or reservation that appears for a pod already
// gone (an ADD that finished after its pod was deleted) is caught when it appears. The caches
// only choose candidates: every release is decided on a fresh read of the pool and a live read of
// the pod (reconcile.ts).
import type { PoolSnapshot, Reservation } from "../pool/allocation.ts";
import {
  API_VERSION,
  decodePool,
  decodeReservation,
  IPPOOLS,
  RESERVATIONS,
} from "../store/kubernetes/objects.ts";
import { Informer, type InformerHandlers } from "./informer.ts";
import type { Kube } from "./kube.ts";
import { type PodState, podState, splitPodRef } from "./liveness.ts";

export type GoneHow = "deleted" | "terminated" | "entry for a gone pod";

export interface ClusterViewCallbacks {
  /** A pod that something names became gone (or something new names a gone pod). */
  candidate(ref: string, last: PodState | undefined, how: GoneHow): void;
  /** An IPPool appeared, changed or went (node slices wait for their slice pools to empty). */
  poolChanged?(): void;
  log: InformerHandlers<unknown>["log"];
}

export class ClusterView {
  readonly pods: Informer<PodState>;
  readonly pools: Informer<PoolSnapshot>;
  readonly reservations: Informer<Reservation>;
  /** podref → entries and reservations that name it. */
  readonly #refs = new Map<string, number>();
  readonly #callbacks: ClusterViewCallbacks;

  constructor(kube: Kube, namespace: string, callbacks: ClusterViewCallbacks) {
    this.#callbacks = callbacks;
    const log = callbacks.log;
    const base = `/apis/${API_VERSION}/namespaces/${encodeURIComponent(namespace)}`;
    this.pods = new Informer(
      kube,
      { path: "/api/v1/pods", what: "pods", key: (o) => podState(o).ref, decode: podState },
      {
        upsert: (_ref, next, previous, initial) => {
          if (initial) return; // the startup resync covers what the first list holds
          if (previous !== undefined && previous.uid !== next.uid) this.#gone(previous, "deleted");
          if (next.gone !== undefined && (previous?.gone === undefined || previous.uid !== next.uid))
            this.#gone(next, "terminated");
        },
        remove: (_ref, last) => this.#gone(last, "deleted"),
        log,
      },
    );
    const nameOf = (o: unknown) => (o as { metadata?: { name?: string } }).metadata?.name ?? "";
    this.pools = new Informer(
      kube,
      {
        path: `${base}/${IPPOOLS}`,
        what: "ippools",
        key: nameOf,
        decode: (o) => ({ ...decodePool(o).snapshot, name: nameOf(o) }),
      },
      {
        upsert: (_name, next, previous, initial) => {
          this.#index(refsOf(previous), refsOf(next), !initial);
          callbacks.poolChanged?.();
        },
        remove: (_name, last) => {
          this.#index(refsOf(last), new Map());
          callbacks.poolChanged?.();
        },
        log,
      },
    );
    this.reservations = new Informer(
      kube,
      {
        path: `${base}/${RESERVATIONS}`,
        what: "overlappingrangeipreservations",
        key: nameOf,
        decode: decodeReservation,
      },
      {
        upsert: (_name, next, previous, initial) =>
          this.#index(reservationRefs(previous), reservationRefs(next), !initial),
        remove: (_name, last) => this.#index(reservationRefs(last), new Map()),
        log,
      },
    );
  }

  start(): void {
    void this.pools.run();
    void this.reservations.run();
    void this.pods.run();
  }

  stop(): void {
    this.pods.stop();
    this.pools.stop();
    this.reservations.stop();
  }

  get synced(): boolean {
    return this.pods.synced && this.pools.synced && this.reservations.synced;
  }

  async waitSynced(): Promise<void> {
    await Promise.all([this.pools.waitSynced(), this.reservations.waitSynced(), this.pods.waitSynced()]);
  }

  /** Whether any entry or reservation names the podref (always true before the caches are synced). */
  referenced(ref: string): boolean {
    if (!this.pools.synced || !this.reservations.synced) return true;
    return (this.#refs.get(ref) ?? 0) > 0;
  }

  /** The pod cache's word that the pod exists and is not gone. */
  alive(ref: string): boolean {
    if (!this.pods.synced) return false;
    const pod = this.pods.get(ref);
    return pod !== undefined && pod.gone === undefined;
  }

  #gone(state: PodState, how: GoneHow): void {
    if (this.referenced(state.ref)) this.#callbacks.candidate(state.ref, state, how);
  }

  /** Moves the index from `before` to `after` (podref → count); new podrefs of gone pods are candidates. */
  #index(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, notify = true): void {
    for (const [ref, n] of before) {
      const left = (this.#refs.get(ref) ?? 0) - n;
      if (left > 0) this.#refs.set(ref, left);
      else this.#refs.delete(ref);
    }
    for (const [ref, n] of after) {
      this.#refs.set(ref, (this.#refs.get(ref) ?? 0) + n);
      if (notify && n > (before.get(ref) ?? 0) && this.pods.synced && !this.alive(ref) && splitPodRef(ref))
        this.#callbacks.candidate(ref, this.pods.get(ref), "entry for a gone pod");
    }
  }
}

function refsOf(pool: PoolSnapshot | undefined): Map<string, number> {
  const refs = new Map<string, number>();
  if (pool !== undefined)
    // A sticky entry's pod being gone frees nothing (sticky-run.ts decides on its owner).
    for (const a of pool.allocations.values())
      if (a.podRef !== "" && a.owner === undefined) refs.set(a.podRef, (refs.get(a.podRef) ?? 0) + 1);
  return refs;
}

function reservationRefs(r: Reservation | undefined): Map<string, number> {
  return r === undefined || r.podRef === "" ? new Map() : new Map([[r.podRef, 1]]);
}
