// Releasing the sticky entries of owners that have been gone for good past the grace period
// (sticky.ts decides which owners are due from the caches). The guards are the GC's: the pools
// and reservations are read first; each due owner is then read live (the StatefulSet, or the VM
// and its VMI) and each holder pod too; an entry goes only if its owner is still gone, its pod is
// not alive, and it still holds exactly the allocation read (a new pod of the slot that took the
// entry over in the meantime rewrote it, so the release's precondition fails and nothing goes).
import type { Entry } from "../allocator/pool-view.ts";
import { parseOwner, type StickyOwner } from "../pool/owner.ts";
import type { Store } from "../store/store.ts";
import { isGone, splitPodRef } from "./liveness.ts";
import { planReleases } from "./plan.ts";
import { type PodReader, releaseGroups } from "./reconcile.ts";

export interface OwnerReader {
  /** A live read: whether the owner is gone for good now (sticky.ts ownerGone). Throws on API errors. */
  gone(owner: StickyOwner): Promise<boolean>;
}

export interface StickyRelease {
  readonly owner: string;
  readonly kind: StickyOwner["kind"];
  /** The last holder recorded in the entry. */
  readonly podRef: string;
  readonly pool: string;
  readonly networkName: string;
  readonly addresses: readonly string[];
  readonly reservations: readonly string[];
}

export interface StickyHooks {
  released?(release: StickyRelease): void;
  failed?(what: string, error: unknown): void;
  /** An owner that was due but is back on the live read, or whose holder pod is alive. */
  kept?(owner: string, why: string): void;
}

export interface StickyResult {
  readonly addresses: number;
  readonly reservations: number;
  readonly errors: number;
}

const OWNER_READ_CONCURRENCY = 8;

export async function releaseSticky(
  store: Store,
  pods: PodReader,
  owners: OwnerReader,
  due: ReadonlySet<string>,
  hooks: StickyHooks = {},
): Promise<StickyResult> {
  let errors = 0;
  const fail = (what: string, error: unknown) => {
    errors++;
    hooks.failed?.(what, error);
  };
  // Pools first: everything read here predates the owner and pod checks.
  const pools = await store.listPools();
  const reservations = await store.listReservations();
  const holders = new Map<string, Set<string>>();
  for (const pool of pools)
    for (const a of pool.allocations.values())
      if (a.owner !== undefined && due.has(a.owner))
        holders.set(a.owner, (holders.get(a.owner) ?? new Set()).add(a.podRef));
  if (holders.size === 0) return { addresses: 0, reservations: 0, errors };

  const confirmed = new Set<string>();
  const alive = new Set<string>();
  const work = [...holders];
  const worker = async () => {
    for (let item = work.shift(); item !== undefined; item = work.shift()) {
      const [text, refs] = item;
      const owner = parseOwner(text);
      if (owner === undefined) continue;
      try {
        if (!(await owners.gone(owner))) {
          hooks.kept?.(text, "the owner exists again");
          continue;
        }
        for (const ref of refs) {
          const parts = splitPodRef(ref);
          if (parts === undefined) continue;
          if (!isGone(await pods.get(parts.namespace, parts.name))) {
            alive.add(ref);
            hooks.kept?.(text, `its pod ${ref} is alive`);
          }
        }
        confirmed.add(text);
      } catch (error) {
        fail(`read the owner ${text}`, error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(OWNER_READ_CONCURRENCY, work.length) }, worker));

  const plan = planReleases(
    pools,
    reservations,
    () => false,
    (e: Entry) =>
      e.allocation.owner !== undefined &&
      confirmed.has(e.allocation.owner) &&
      !alive.has(e.allocation.podRef),
  );
  const { addresses, reservations: dropped } = await releaseGroups(
    store,
    plan.groups,
    (e) => e.allocation.owner ?? "",
    fail,
    (batch) =>
      hooks.released?.({
        owner: batch.key,
        kind: parseOwner(batch.key)?.kind ?? "statefulset",
        podRef: batch.entries[0]!.allocation.podRef,
        pool: batch.group.pool,
        networkName: batch.group.networkName,
        addresses: [...batch.addresses],
        reservations: [...batch.reservations],
      }),
  );
  return { addresses, reservations: dropped, errors };
}
