// What a test can make a MemoryStore call meet: another writer's change landing just before or
// just after it, a lost race, the store failing before anything is applied or after all of it
// is (an answer lost on the way back), and a slow answer. Steps are plain values; MemoryStore.next
// queues them per call.
import { StoreUnavailableError } from "../../errors/errors.ts";
import type { Allocation } from "../../pool/allocation.ts";
import { type PoolChange, poolChange } from "../store.ts";
import type { MemoryData } from "./memory-data.ts";

export const STORE_CALLS = [
  "getPool",
  "getPoolPart",
  "listPools",
  "getReservation",
  "listReservations",
  "commit",
  "dropReservations",
  "dropReservationsOf",
  "ping",
  "getNodeSlicePool",
  "claimNodeSlice",
] as const;
export type StoreCall = (typeof STORE_CALLS)[number];

export interface StepContext {
  readonly call: StoreCall;
  /** The call's arguments, options last. */
  readonly args: readonly unknown[];
  /** The data behind the store: what another writer changes. */
  readonly data: MemoryData;
}

/**
 * One scripted event around one call. In order: `delayMs` (the call waits; when its deadline comes
 * first it fails there with code 11 and nothing is applied), `before` (a throw: nothing applied),
 * the call itself, `after` (a throw: the call was applied but its caller hears an error).
 */
export interface Step {
  readonly delayMs?: number;
  readonly before?: (context: StepContext) => void | Promise<void>;
  readonly after?: (context: StepContext) => void | Promise<void>;
}

/** Another writer's change, landing just before the call (it must commit). */
export function writtenBefore(change: PoolChange): Step {
  return { before: ({ data }) => mustCommit(data, change) };
}

/** Another writer's change, landing after the call applied and before it answers. */
export function writtenAfter(change: PoolChange): Step {
  return { after: ({ data }) => mustCommit(data, change) };
}

export const RIVAL: Allocation = { containerId: "rival", podRef: "rival/pod", ifName: "eth0" };

/**
 * A commit that loses its race: just before it, another writer takes every key it creates and
 * rewrites every entry it updates or removes (to `rival`), so its preconditions fail.
 */
export function lostRace(rival: Allocation = RIVAL): Step {
  return {
    before: ({ data, args }) => {
      const change = args[0] as PoolChange;
      const current = data.pool(change.pool).allocations;
      const rewrite = [...change.update.map((u) => u.key), ...change.remove.map(([key]) => key)]
        .map((key) => ({ key, from: current.get(key), to: rival }))
        .filter((u): u is { key: string; from: Allocation; to: Allocation } => u.from !== undefined);
      mustCommit(
        data,
        poolChange(change.pool, change.range, {
          create: change.create.map(([key]) => [key, rival] as const),
          update: rewrite,
        }),
      );
    },
  };
}

/** The store cannot be reached: the call throws StoreUnavailableError (code 11), nothing applied. */
export function unreachable(): Step {
  return {
    before: ({ call }) => {
      throw new StoreUnavailableError(`Cannot ${call} memory store: unreachable (scripted)`);
    },
  };
}

/** The call is applied, then its answer is lost: StoreUnavailableError (code 11). */
export function answerLost(): Step {
  return {
    after: ({ call }) => {
      throw new StoreUnavailableError(`Cannot ${call} memory store: the answer was lost (scripted)`);
    },
  };
}

/** The call takes `ms` (on the store's clock) before it is applied. */
export function slow(ms: number): Step {
  return { delayMs: ms };
}

function mustCommit(data: MemoryData, change: PoolChange): void {
  const result = data.commit(change);
  if (!result.ok)
    throw new Error(`scripted write to pool ${change.pool} did not commit: ${JSON.stringify(result)}`);
}
