// The release records a writer puts in a change (PoolChange.release/forget), kept to one rule:
// a key's record goes when an entry is created there (the address is in use again), and a pool
// keeps at most MAX_RELEASE_RECORDS, the oldest forgotten first. Pure.
import { MAX_RELEASE_RECORDS } from "./allocation.ts";

export interface ReleaseRecords {
  readonly release: readonly (readonly [key: string, atMs: number])[];
  readonly forget: readonly string[];
}

/**
 * The records to set and drop when `releasing` keys are released at `atMs` and entries are created
 * at `creating` keys, given the pool's records now (`current`).
 */
export function releaseRecords(
  current: ReadonlyMap<string, number>,
  releasing: readonly string[],
  atMs: number,
  creating: readonly string[],
  max: number = MAX_RELEASE_RECORDS,
): ReleaseRecords {
  const setting = new Set(releasing);
  const forget = creating.filter((key) => current.has(key) && !setting.has(key));
  const gone = new Set(forget);
  const kept = [...current].filter(([key]) => !gone.has(key) && !setting.has(key));
  const excess = kept.length + setting.size - max;
  if (excess > 0) {
    // Oldest first; equal times by key, so every writer forgets the same ones.
    kept.sort(([ka, a], [kb, b]) => a - b || (ka < kb ? -1 : ka > kb ? 1 : 0));
    for (const [key] of kept.slice(0, excess)) forget.push(key);
  }
  return { release: [...setting].map((key) => [key, atMs] as const), forget };
}
