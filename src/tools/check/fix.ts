// `thereabouts check --fix`: the repairs the findings allow (findings.ts, Repair), with the
// controller's guards. Everything a gone pod holds is released through the controller's own
// reclaim (src/controller/reconcile.ts): pools read again, the pod read live again just before
// its release, each entry released only while it holds exactly what was read. On top of that a pod
// counts as gone only while it is the pod the check judged: one re-created under the same name
// since (another uid, or any pod where none was found) keeps everything. A missing reservation is
// created in one commit whose precondition is the entry as read.

import { type PodReader, reclaim } from "../../controller/reconcile.ts";
import { describe } from "../../errors/errors.ts";
import { deadlineIn } from "../../ipam/retry.ts";
import { poolChange, type Store } from "../../store/store.ts";
import { type Finding, ownerText } from "./findings.ts";

const RESERVE_DEADLINE_MS = 30_000;

export interface FixReport {
  /** What was changed, one line each. */
  readonly done: readonly string[];
  /** What was not repaired although it could have been, with why. */
  readonly notDone: readonly string[];
}

/**
 * Applies the repairs of `findings`. `pods` is the live pod reader (Kubernetes); without one no
 * finding carries a release.
 */
export async function fixFindings(
  store: Store,
  pods: PodReader | undefined,
  findings: readonly Finding[],
): Promise<FixReport> {
  const done: string[] = [];
  const notDone: string[] = [];
  const judged = new Map<string, string | undefined>();
  for (const f of findings) if (f.repair?.kind === "release") judged.set(f.repair.podRef, f.repair.uid);
  if (judged.size > 0 && pods !== undefined) await releaseGone(store, pods, judged, done, notDone);
  for (const f of findings) {
    if (f.repair?.kind !== "reserve") continue;
    const { pool, range, key, allocation, reservation } = f.repair;
    const what = `reservation ${reservation.name} for ${f.address} (pool ${pool}, ${ownerText(allocation)})`;
    try {
      const result = await store.commit(
        poolChange(pool, range, {
          update: [{ key, from: allocation, to: allocation }],
          reserve: [reservation],
        }),
        { deadline: deadlineIn(RESERVE_DEADLINE_MS) },
      );
      if (result.ok) done.push(`created ${what}`);
      else if (result.conflict === "entry")
        notDone.push(`did not create ${what}: the entry changed since the check`);
      else notDone.push(`did not create ${what}: it is held by ${ownerText(result.holder)}`);
    } catch (error) {
      notDone.push(`did not create ${what}: ${describe(error)}`);
    }
  }
  return { done, notDone };
}

/** The pods judged gone, released by reclaim while each is still the pod judged. */
async function releaseGone(
  store: Store,
  pods: PodReader,
  judged: ReadonlyMap<string, string | undefined>,
  done: string[],
  notDone: string[],
): Promise<void> {
  const sameIdentity: PodReader = {
    async get(namespace, name) {
      const pod = await pods.get(namespace, name);
      // Another pod under the judged name (re-created since the check): alive for this repair.
      if (pod !== undefined && pod.uid !== judged.get(`${namespace}/${name}`))
        return { ...pod, gone: undefined };
      return pod;
    },
  };
  await reclaim(
    store,
    sameIdentity,
    { refs: new Set(judged.keys()) },
    {
      released: (r) => {
        const freed = [
          ...(r.addresses.length > 0 ? [`${r.addresses.join(", ")} from pool ${r.pool}`] : []),
          ...(r.reservations.length > 0 ? [`reservation ${r.reservations.join(", ")}`] : []),
        ];
        done.push(`freed ${freed.join(" and ")} of ${r.podRef} (pod ${r.why})`);
      },
      kept: (podRef, pod) => {
        const uid = judged.get(podRef);
        notDone.push(
          pod.uid !== uid
            ? `kept what ${podRef} holds: the pod was re-created since the check (uid ${pod.uid})`
            : `kept what ${podRef} holds: the pod is no longer gone`,
        );
      },
      failed: (what, error) => notDone.push(`could not ${what}: ${describe(error)}`),
    },
  );
}
