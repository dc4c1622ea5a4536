// Freeing what a release plan names, through the controller's commit path: entries with
// releaseEntries (src/ipam/release.ts: each entry only while it holds exactly what was read, its
// reservation in the same commit), reservations without an entry with Store.dropReservations (each
// only while still held as read). `guard` is asked just before each change, with the pods it
// concerns; it answers why not (the pod's identity or liveness changed), or undefined to go on.
import { describe } from "../../errors/errors.ts";
import { formatIP } from "../../ip/index.ts";
import { releaseEntries } from "../../ipam/release.ts";
import { deadlineIn } from "../../ipam/retry.ts";
import type { Allocation } from "../../pool/allocation.ts";
import { reservationName } from "../../pool/naming.ts";
import { type Store, sameAllocation } from "../../store/store.ts";
import type { ReleasePlan } from "./plan.ts";

const RELEASE_DEADLINE_MS = 30_000;

export interface Freed {
  /** "" for a reservation no entry went with. */
  readonly pool: string;
  /** "" when not known (a reservation Go wrote). */
  readonly address: string;
  readonly owner: Allocation;
  /** The reservation dropped with it, if any. */
  readonly reservation?: string;
}

export interface FreeReport {
  readonly freed: readonly Freed[];
  readonly notDone: readonly string[];
}

export type Guard = (podRefs: readonly string[]) => Promise<string | undefined>;

export async function freePlan(store: Store, plan: ReleasePlan, guard: Guard): Promise<FreeReport> {
  const freed: Freed[] = [];
  const notDone: string[] = [];
  const distinct = (refs: readonly string[]) => [...new Set(refs)];
  for (const group of plan.entries) {
    const why = await guard(distinct(group.entries.map((e) => e.allocation.podRef)));
    if (why !== undefined) {
      notDone.push(
        `did not free ${group.entries.map((e) => formatIP(e.address)).join(", ")} from pool ${group.pool}: ${why}`,
      );
      continue;
    }
    const planned = new Map(group.entries.map((e) => [e.key, e.allocation]));
    try {
      const released = await releaseEntries(
        store,
        group.pool,
        (e) => {
          const read = planned.get(e.key);
          return read !== undefined && sameAllocation(read, e.allocation);
        },
        {
          overlapping: group.reservedUnder !== undefined,
          networkName: group.reservedUnder ?? "",
          deadline: deadlineIn(RELEASE_DEADLINE_MS),
        },
      );
      for (const e of released)
        freed.push({
          pool: group.pool,
          address: formatIP(e.address),
          owner: e.allocation,
          ...(group.reservedUnder === undefined
            ? {}
            : { reservation: reservationName(e.address, group.reservedUnder) }),
        });
      if (released.length < group.entries.length)
        notDone.push(
          `${group.entries.length - released.length} entries of pool ${group.pool} changed since they were read: not freed`,
        );
    } catch (error) {
      notDone.push(`could not free from pool ${group.pool}: ${describe(error)}`);
    }
  }
  if (plan.reservations.length > 0) {
    const why = await guard(distinct(plan.reservations.map((r) => r.podRef)));
    if (why !== undefined)
      notDone.push(`did not drop reservation ${plan.reservations.map((r) => r.name).join(", ")}: ${why}`);
    else {
      try {
        const dropped = await store.dropReservations(plan.reservations, {
          deadline: deadlineIn(RELEASE_DEADLINE_MS),
        });
        for (const r of dropped)
          freed.push({
            pool: "",
            address: r.claim?.address ?? "",
            owner: { podRef: r.podRef, ifName: r.ifName, containerId: r.containerId },
            reservation: r.name,
          });
        if (dropped.length < plan.reservations.length)
          notDone.push(
            `${plan.reservations.length - dropped.length} reservations changed since they were read: not dropped`,
          );
      } catch (error) {
        notDone.push(`could not drop reservations: ${describe(error)}`);
      }
    }
  }
  return { freed, notDone };
}
