// Reading a store for `check`: every pool and reservation, and on Kubernetes every pod of the
// cluster (one paged list: a pod the store does not name can still list an address of a pool in
// its network-status). Pools are read before pods, as the controller reads them, so a pod judged
// gone was gone after its entries were read.

import { podState } from "../../controller/liveness.ts";
import type { PodReader } from "../../controller/reconcile.ts";
import type { KubeClient } from "../../kube/client.ts";
import type { PoolSnapshot, Reservation } from "../../pool/allocation.ts";
import { podInfo } from "../pods.ts";
import type { Target } from "../target.ts";
import type { PodReading } from "./check.ts";

/** Budget of one page of the pod list, and of one pod read. */
const POD_READ_MS = 30_000;

export interface StoreReading {
  readonly pools: readonly PoolSnapshot[];
  readonly reservations: readonly Reservation[];
  /** Kubernetes: every pod listed, and every podref of the store (not found when not listed). */
  readonly pods?: ReadonlyMap<string, PodReading>;
}

export async function readPoolsAndReservations(
  target: Target,
): Promise<Pick<StoreReading, "pools" | "reservations">> {
  const pools = await target.store.listPools();
  const reservations = await target.store.listReservations();
  return { pools, reservations };
}

/** Every pod of the cluster by ref; every podref the store names that no pod has: not found. */
export async function readClusterPods(
  kube: KubeClient,
  named: Pick<StoreReading, "pools" | "reservations">,
): Promise<Map<string, PodReading>> {
  const pods = new Map<string, PodReading>();
  for (const item of await kube.list("/api/v1/pods", () => Date.now() + POD_READ_MS, "list pods from")) {
    const pod = podInfo(item);
    pods.set(pod.ref, { kind: "found", pod });
  }
  const mark = (ref: string) => {
    if (ref !== "" && !pods.has(ref)) pods.set(ref, { kind: "not found" });
  };
  for (const pool of named.pools) for (const a of pool.allocations.values()) mark(a.podRef);
  for (const r of named.reservations) mark(r.podRef);
  return pods;
}

/** A live read of one pod (never a cache), as the controller's reclaim wants it. */
export function livePods(kube: KubeClient): PodReader {
  return {
    async get(namespace, name) {
      const reply = await kube.send(
        {
          method: "GET",
          path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`,
          expect: [404],
        },
        Date.now() + POD_READ_MS,
        "read a pod from",
      );
      return reply.status === 404 ? undefined : podState(reply.body);
    },
  };
}
