// One reconcile: read every pool and reservation, confirm which of the pods they name are gone
// with a live read of each (never from a cache alone), and release those pods' entries and
// reservations. The same routine serves the fast path (a handful of pods whose deletion or
// termination was just observed), the startup resync and the cron sweep.
//
// Safety (README, Differences item 15): the pools are read *before* the pods are checked, and an
// entry is released only while it still holds exactly the allocation read (container id, podref,
// interface) — releaseEntries' per-entry preconditions. A pod recreated under the same name (a
// StatefulSet successor) either exists when it is checked (so its podref is kept), or its ADD
// rewrote the entry's container id after the read (ADD idempotency), so the release's precondition
// fails and the fresh read no longer matches. A live pod keeps its addresses whatever its
// annotations say.
import type { Entry } from "../allocator/pool-view.ts";
import { formatIP } from "../ip/index.ts";
import { releaseEntries } from "../ipam/release.ts";
import { deadlineIn } from "../ipam/retry.ts";
import type { PoolSnapshot, Reservation } from "../pool/allocation.ts";
import { reservationName } from "../pool/naming.ts";
import { type Store, sameAllocation } from "../store/store.ts";
import { type GoneReason, type PodState, splitPodRef, whyGone } from "./liveness.ts";
import { type EntryGroup, planReleases, referencedPods } from "./plan.ts";

export interface PodReader {
  /** A live read (not a cache): the pod, or undefined when it does not exist. Throws on API errors. */
  get(namespace: string, name: string): Promise<PodState | undefined>;
}

export interface Release {
  readonly podRef: string;
  /** The pod object's identity when one was seen (the live read, or the last state watched). */
  readonly uid: string;
  readonly why: GoneReason;
  readonly pool: string;
  readonly networkName: string;
  readonly addresses: readonly string[];
  readonly reservations: readonly string[];
  /**
   * Since when the pod is gone (ms since the epoch), where known: as its object says (PodState.goneAt),
   * else when the controller first saw it gone (ReclaimScope.seenGone); undefined when this run
   * is the first to see it gone (a sweep).
   */
  readonly goneSince: number | undefined;
}

export interface ReclaimHooks {
  /** After each successful release (one pod, one pool, or one pod's leftover reservations). */
  released?(release: Release): void;
  /** A failure that did not stop the run (one pod's read, one pool's release). */
  failed?(what: string, error: unknown, podRef?: string): void;
  /** A pod that was a candidate but is alive on the live read (e.g. a StatefulSet successor). */
  kept?(podRef: string, pod: PodState): void;
}

export interface ReclaimScope {
  /** Only these podrefs (the fast path); all when undefined (a sweep). */
  readonly refs?: ReadonlySet<string>;
  /** A cache's word that a pod is alive: such pods are not read. Without it every podref is read. */
  readonly alive?: (podRef: string) => boolean;
  /** The last state seen of a pod (for its uid when the live read finds nothing). */
  readonly lastSeen?: (podRef: string) => PodState | undefined;
  /** When the controller first saw a pod gone (the fast path's queue), for the leak age. */
  readonly seenGone?: (podRef: string) => number | undefined;
}

export interface ReclaimResult {
  readonly addresses: number;
  readonly reservations: number;
  readonly errors: number;
  readonly pools: readonly PoolSnapshot[];
}

const POD_READ_CONCURRENCY = 8;
const RELEASE_DEADLINE_MS = 30_000;

async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Releases a planned group: each entry only while it still holds exactly the allocation read
 * (container id, podref, interface, and a sticky entry's owner and parking), with its reservation.
 */
export function releaseGroup(store: Store, group: EntryGroup): Promise<readonly Entry[]> {
  const planned = new Map(group.entries.map((e) => [e.key, e.allocation]));
  return releaseEntries(
    store,
    group.pool,
    (e) => {
      const read = planned.get(e.key);
      return read !== undefined && sameAllocation(read, e.allocation);
    },
    {
      overlapping: group.overlapping,
      networkName: group.networkName,
      deadline: deadlineIn(RELEASE_DEADLINE_MS),
    },
  );
}

/** What one planned group released for one key (its pod, or its sticky owner). */
export interface ReleasedBatch {
  readonly group: EntryGroup;
  readonly key: string;
  readonly entries: readonly Entry[];
  readonly addresses: readonly string[];
  /** The reservations that went with them (none when the group's network has no overlap protection). */
  readonly reservations: readonly string[];
}

/**
 * Releases each group of a plan on its own (one that fails is reported through `fail` and the
 * others go on) and hands what went to `each`, grouped by `keyOf`. Returns how many addresses and
 * reservations went.
 */
export async function releaseGroups(
  store: Store,
  groups: readonly EntryGroup[],
  keyOf: (entry: Entry) => string,
  fail: (what: string, error: unknown) => void,
  each: (batch: ReleasedBatch) => void,
): Promise<{ addresses: number; reservations: number }> {
  let addresses = 0;
  let reservations = 0;
  for (const group of groups) {
    let released: readonly Entry[];
    try {
      released = await releaseGroup(store, group);
    } catch (error) {
      fail(`release from pool ${group.pool}`, error);
      continue;
    }
    addresses += released.length;
    if (group.overlapping) reservations += released.length;
    const byKey = new Map<string, Entry[]>();
    for (const e of released) byKey.set(keyOf(e), [...(byKey.get(keyOf(e)) ?? []), e]);
    for (const [key, entries] of byKey)
      each({
        group,
        key,
        entries,
        addresses: entries.map((e) => formatIP(e.address)),
        reservations: group.overlapping
          ? entries.map((e) => reservationName(e.address, group.networkName))
          : [],
      });
  }
  return { addresses, reservations };
}

export async function reclaim(
  store: Store,
  pods: PodReader,
  scope: ReclaimScope = {},
  hooks: ReclaimHooks = {},
): Promise<ReclaimResult> {
  let errors = 0;
  const fail = (what: string, error: unknown, podRef?: string) => {
    errors++;
    hooks.failed?.(what, error, podRef);
  };
  // Pools first, then pods (whereabouts#207): everything read here predates the pod checks.
  const pools = await store.listPools();
  const reservations = await store.listReservations();
  const wanted = [...referencedPods(pools, reservations)].filter(
    (ref) => (scope.refs === undefined || scope.refs.has(ref)) && !(scope.alive?.(ref) ?? false),
  );

  const gone = new Map<string, { why: GoneReason; uid: string; since: number | undefined }>();
  await eachLimited(wanted, POD_READ_CONCURRENCY, async (ref) => {
    const parts = splitPodRef(ref);
    if (parts === undefined) return;
    let pod: PodState | undefined;
    try {
      pod = await pods.get(parts.namespace, parts.name);
    } catch (error) {
      fail(`read pod ${ref}`, error, ref);
      return;
    }
    const why = whyGone(pod);
    if (why === undefined) {
      if (pod !== undefined) hooks.kept?.(ref, pod);
      return;
    }
    const last = scope.lastSeen?.(ref);
    gone.set(ref, {
      why,
      uid: pod?.uid ?? last?.uid ?? "",
      since: pod?.goneAt ?? last?.goneAt ?? scope.seenGone?.(ref),
    });
  });
  if (gone.size === 0) return { addresses: 0, reservations: 0, errors, pools };

  const plan = planReleases(pools, reservations, (ref) => gone.has(ref));
  for (const { pool, error } of plan.unreadable) fail(`read pool ${pool}`, new Error(error));
  const counts = await releaseGroups(
    store,
    plan.groups,
    (e) => e.allocation.podRef,
    fail,
    (batch) => {
      const info = gone.get(batch.key)!;
      hooks.released?.({
        podRef: batch.key,
        uid: info.uid,
        why: info.why,
        pool: batch.group.pool,
        networkName: batch.group.networkName,
        addresses: [...batch.addresses],
        reservations: [...batch.reservations],
        goneSince: info.since,
      });
    },
  );
  const addresses = counts.addresses;
  let dropped = counts.reservations;

  // Reservations no entry goes with: each dropped while still held as read (a successor's ADD
  // that took one since keeps it).
  if (plan.reservations.length > 0) {
    let released: readonly Reservation[] = [];
    try {
      released = await store.dropReservations(plan.reservations, {
        deadline: deadlineIn(RELEASE_DEADLINE_MS),
      });
    } catch (error) {
      fail("release reservations", error);
    }
    dropped += released.length;
    const byPod = new Map<string, Reservation[]>();
    for (const r of released) byPod.set(r.podRef, [...(byPod.get(r.podRef) ?? []), r]);
    for (const [podRef, held] of byPod) {
      const info = gone.get(podRef)!;
      hooks.released?.({
        podRef,
        uid: info.uid,
        why: info.why,
        pool: "",
        networkName: "",
        addresses: [],
        reservations: held.map((r) => r.name),
        goneSince: info.since,
      });
    }
  }
  return { addresses, reservations: dropped, errors, pools };
}
