// What one release of sticky addresses does around `releaseSticky` (sticky-run.ts): the live reads
// of the owners over the API, the log lines and the metrics. Kept apart from the composition root
// as gc-run.ts is for the pods' releases.
import type { Store } from "../store/store.ts";
import { errorFields } from "./advice.ts";
import type { Log } from "./gc-run.ts";
import type { Kube } from "./kube.ts";
import type { ControllerMetrics } from "./metrics.ts";
import type { PodReader } from "./reconcile.ts";
import { ownerGone, statefulSetSlots } from "./sticky.ts";
import { type OwnerReader, releaseSticky } from "./sticky-run.ts";
import { KUBEVIRT_API } from "./sticky-watch.ts";

/** Live reads of the owners: the StatefulSet; the VirtualMachine and its VirtualMachineInstance. */
export function stickyOwnerReader(kube: Kube): OwnerReader {
  const read = async (path: string, what: string): Promise<unknown> => {
    const reply = await kube.send({ method: "GET", path, expect: [404] }, `read ${what} at`);
    return reply.status === 404 ? null : reply.body;
  };
  return {
    async gone(owner) {
      const ns = encodeURIComponent(owner.namespace);
      const name = encodeURIComponent(owner.name);
      if (owner.kind === "statefulset") {
        const sts = await read(`/apis/apps/v1/namespaces/${ns}/statefulsets/${name}`, "a statefulset");
        return ownerGone(owner, {
          statefulSet: () => (sts === null ? null : statefulSetSlots(sts)),
          vmExists: () => undefined,
        })!;
      }
      // A cluster without KubeVirt's API answers 404 to both: no VM.
      const vm = await read(`${KUBEVIRT_API}/namespaces/${ns}/virtualmachines/${name}`, "a virtualmachine");
      if (vm !== null) return false;
      const vmi = await read(
        `${KUBEVIRT_API}/namespaces/${ns}/virtualmachineinstances/${name}`,
        "a virtualmachineinstance",
      );
      return vmi === null;
    },
  };
}

export interface StickyGcDependencies {
  readonly store: Store;
  readonly pods: PodReader;
  readonly owners: OwnerReader;
  readonly metrics: ControllerMetrics;
  readonly log: Log;
}

/** One release of the due owners' entries, logged and counted. */
export function stickyRun(deps: StickyGcDependencies) {
  const { store, pods, owners, metrics, log } = deps;
  return async (due: ReadonlySet<string>): Promise<void> => {
    const started = Date.now();
    const result = await releaseSticky(store, pods, owners, due, {
      released(r) {
        metrics.stickyReleased(r.kind, r.addresses.length);
        log("info", "released a sticky address: its owner is gone for good", { ...r });
      },
      failed(what, error) {
        log("error", `sticky release: cannot ${what}`, errorFields(error));
      },
      kept(owner, why) {
        log("info", "kept a sticky address", { owner, why });
      },
    });
    log("info", "sticky release", {
      owners: due.size,
      addresses: result.addresses,
      reservations: result.reservations,
      errors: result.errors,
      ms: Date.now() - started,
    });
  };
}
