// Conflict retries: jittered exponential backoff (src/retry/backoff.ts) inside a deadline; `sleep`
// and `now` are injected by callers that need control.
import { type Backoff, backoffDelay } from "../retry/backoff.ts";

export const DEFAULT_BACKOFF: Backoff = { baseMs: 2, capMs: 250 };

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
  random(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: () => Math.random(),
};

export interface Deadline {
  readonly at: number;
  readonly clock: Clock;
}

export function deadlineIn(ms: number, clock: Clock = systemClock): Deadline {
  return { at: clock.now() + ms, clock };
}

export function expired(deadline: Deadline): boolean {
  return deadline.clock.now() >= deadline.at;
}

/** Milliseconds left before the deadline (0 or less once it has passed). */
export function remainingMs(deadline: Deadline): number {
  return deadline.at - deadline.clock.now();
}

/**
 * The earlier of `capMs` from now and the caller's deadline, on the system clock: how a store
 * bounds one call by both its own budget and the caller's time.
 */
export function capped(capMs: number, deadline?: Deadline): Deadline {
  return deadlineIn(deadline === undefined ? capMs : Math.min(capMs, remainingMs(deadline)));
}

/** Sleeps the backoff for `attempt`, never past the deadline. */
export async function pause(deadline: Deadline, attempt: number, backoff = DEFAULT_BACKOFF): Promise<void> {
  const wait = Math.min(
    backoffDelay(attempt, deadline.clock.random(), backoff),
    deadline.at - deadline.clock.now(),
  );
  if (wait > 0) await deadline.clock.sleep(wait);
}
