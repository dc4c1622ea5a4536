// Writes a migration plan through the target store's commit path, the one ADD uses: per pool,
// batches of entries, each with its reservation, every entry key required free and every
// reservation free or this container's (Store.commit). What the target gained since the plan was
// read is never overwritten: the commit reports it, nothing of that batch stays, and the pool's
// remaining batches are not sent (a second run plans again from what is there).
import { describe } from "../../errors/errors.ts";
import { formatCidr } from "../../ip/index.ts";
import { RELEASE_BATCH } from "../../ipam/release.ts";
import type { Reservation } from "../../pool/allocation.ts";
import { type PoolChange, poolChange, type Store } from "../../store/store.ts";
import type { MigrationPlan, PoolPlan, Problem } from "./plan.ts";

export interface ApplyOutcome {
  readonly entries: number;
  readonly reservations: number;
  /** Conflicts met while writing (the target changed after the plan was read). */
  readonly problems: readonly Problem[];
  /** Why writing stopped early (the store could not be reached, or refused); undefined when it did not. */
  readonly failure: string | undefined;
}

/** Called after each commit: items (entries, then reservations beside present entries) written of `total`. */
export type ApplyProgress = (done: number, total: number) => void;

/** One commit of a pool's plan. */
interface Batch {
  readonly change: PoolChange;
  readonly items: number;
  readonly reservations: number;
}

/**
 * A pool's commits: its new entries RELEASE_BATCH at a time (the bound every backend takes in one
 * atomic change, etcd's 128 operations a transaction among them), then the reservations missing
 * beside entries it already holds.
 */
function batchesOf(plan: PoolPlan): Batch[] {
  const { pool, rangeText } = plan;
  const batches: Batch[] = [];
  for (let i = 0; i < plan.add.length; i += RELEASE_BATCH) {
    const part = plan.add.slice(i, i + RELEASE_BATCH);
    const reserve = part.flatMap((e) => (e.reserve === undefined ? [] : [e.reserve]));
    batches.push({
      change: poolChange(pool.name, rangeText, {
        create: part.map((e) => [e.key, e.allocation] as const),
        reserve,
        usable: pool.usable,
      }),
      items: part.length,
      reservations: reserve.length,
    });
  }
  for (let i = 0; i < plan.reserve.length; i += RELEASE_BATCH) {
    const reserve = plan.reserve.slice(i, i + RELEASE_BATCH);
    batches.push({
      change: poolChange(pool.name, rangeText, { reserve, usable: pool.usable }),
      items: reserve.length,
      reservations: reserve.length,
    });
  }
  return batches;
}

export async function applyPlan(
  store: Store,
  plan: MigrationPlan,
  progress: ApplyProgress = () => {},
): Promise<ApplyOutcome> {
  const work = plan.pools.map((p) => ({ plan: p, batches: batchesOf(p) }));
  const total = work.reduce((n, w) => n + w.batches.reduce((m, b) => m + b.items, 0), 0);
  const problems: Problem[] = [];
  let entries = 0;
  let reservations = 0;
  let done = 0;
  for (const { plan: pool, batches } of work) {
    for (const batch of batches) {
      let result: Awaited<ReturnType<Store["commit"]>>;
      try {
        result = await store.commit(batch.change);
      } catch (error) {
        return { entries, reservations, problems, failure: describe(error) };
      }
      if (!result.ok) {
        problems.push(
          lateConflict(pool, result.conflict === "entry" ? { key: result.key } : { holder: result.holder }),
        );
        break;
      }
      entries += batch.change.create.length;
      reservations += batch.reservations;
      done += batch.items;
      progress(done, total);
    }
  }
  return { entries, reservations, problems, failure: undefined };
}

function lateConflict(plan: PoolPlan, conflict: { key: string } | { holder: Reservation }): Problem {
  const name = plan.pool.name;
  const what =
    "key" in conflict
      ? `offset key ${conflict.key} was taken`
      : `reservation ${conflict.holder.name} was taken by container ${JSON.stringify(conflict.holder.containerId)}`;
  return {
    kind: "key" in conflict ? "held" : "reserved",
    range: formatCidr(plan.pool.range),
    pool: name,
    message: `pool ${name} changed while migrating (${what}); the rest of this pool was not written: run migrate again`,
  };
}
