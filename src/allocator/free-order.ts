// The order in which free addresses are handed out. Whereabouts' order is the lowest free address
// first. With a reuse cooldown, addresses never released (no record) still come first, lowest
// first, so a pool that is not churning behaves as before; then recorded addresses, the one
// released longest ago first, and none released less than the cooldown ago: an address a peer
// may still be talking to is not given to someone else at once.
import type { IntervalSet } from "./interval-set.ts";
import { coveringEnd } from "./interval-set.ts";
import type { PoolView } from "./pool-view.ts";
import type { Window } from "./window.ts";

/** What no new entry may take: the window's bounds, blocking sets and the gateway. */
export interface Candidates {
  readonly window: Window;
  /** Excluded, taken, reserved elsewhere. */
  readonly blockers: readonly IntervalSet[];
  readonly gateway: bigint | undefined;
}

/**
 * The free addresses of the window outside `also`, lowest first. Each step jumps past a whole
 * blocking interval (a binary search), so a /8 full but for its end or a /64 with a /65 excluded
 * costs as little as an empty /24.
 */
export function* lowestFree(c: Candidates, also?: IntervalSet): Generator<bigint> {
  const blockers = also === undefined ? c.blockers : [...c.blockers, also];
  let candidate = c.window.first;
  while (candidate <= c.window.last) {
    let moved = false;
    for (const set of blockers) {
      const end = coveringEnd(set, candidate);
      if (end !== undefined) {
        candidate = end + 1n;
        moved = true;
      }
    }
    if (moved) continue;
    if (candidate !== c.gateway) yield candidate;
    candidate += 1n;
  }
}

export function isFree(c: Candidates, value: bigint): boolean {
  if (value < c.window.first || value > c.window.last || value === c.gateway) return false;
  return c.blockers.every((set) => coveringEnd(set, value) === undefined);
}

export interface Cooldown {
  readonly nowMs: number;
  readonly seconds: number;
}

/** Filled in while the least-recently-released order is walked: the free addresses still cooling. */
export interface Cooling {
  count: number;
  /** When the first of them may be handed out again (ms since the epoch). */
  firstFreeAtMs: number | undefined;
}

/**
 * Unrecorded free addresses lowest first, then recorded ones oldest release first, leaving out
 * those released less than `cooldown.seconds` ago (counted in `cooling`). A record from a clock
 * ahead of ours cools until its own time plus the cooldown.
 */
export function* leastRecentlyReleased(
  c: Candidates,
  view: PoolView,
  cooldown: Cooldown,
  cooling: Cooling,
): Generator<bigint> {
  yield* lowestFree(c, view.recorded);
  const coolMs = cooldown.seconds * 1000;
  for (const { value, atMs } of view.releases) {
    if (!isFree(c, value)) continue;
    if (cooldown.nowMs < atMs + coolMs) {
      // Records are oldest first: the first cooling one is the first to be free again.
      cooling.firstFreeAtMs ??= atMs + coolMs;
      cooling.count++;
      continue;
    }
    yield value;
  }
}

/**
 * The k-th address of `order` (0: the first), or the last one when it has fewer; undefined when
 * it is empty.
 */
export function nth(order: Iterable<bigint>, k: number): bigint | undefined {
  let last: bigint | undefined;
  let i = 0;
  for (const value of order) {
    if (i === k) return value;
    last = value;
    i++;
  }
  return last;
}
