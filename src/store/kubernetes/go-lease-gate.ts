// Go Whereabouts serialises every ADD and DEL of a namespace on the Lease `whereabouts`; thereabouts
// takes no lock. In a cluster migrating from Go, both write the same pools, and Go tests the whole
// pool's resourceVersion: every write of ours between its read and its patch makes it read again,
// and after 100 such retries (no backoff, ~1-2 s) its ADD fails. Writes are ordered so that no race
// costs Go more than a retry (kubernetes-store.ts), but a pool written by thereabouts many times a
// second can still starve a Go plugin of its retries.
//
// The gate lets a long-lived store (the node agent's) honour Go's Lease while Go plugins are
// active: before a pool write it waits while a Go plugin holds the Lease, so the holder's
// read-then-patch is not disturbed. Whether Go is active is learned from the Lease itself: it
// changes whenever a Go plugin takes, renews or releases it. While it has not changed for
// ACTIVE_MS (no Go plugin ran), the gate looks at it at most every IDLE_RECHECK_MS (so a Go plugin
// starting in the namespace is noticed within it) and lets writes
// through at once. A holder is waited for at most MAX_WAIT_MS, and not at all once its record has
// stayed the same for its lease duration (Go's own expiry rule: a crashed holder does not block).
// Reading the Lease failing, or being forbidden, never blocks a write.
import { type Backoff, backoffDelay } from "../../retry/backoff.ts";

/** The Lease as the gate needs it; `raw` changes whenever Go writes it. */
export interface GoLeaseRecord {
  readonly holder: string;
  readonly raw: string;
  /** leaseDurationSeconds, in ms. */
  readonly durationMs: number;
  /** renewTime as written by the holder (its clock), ms since the epoch; NaN when absent. */
  readonly renewedAt: number;
}

/** undefined: there is no such Lease; "forbidden": the store may not read it. */
export type ReadGoLease = () => Promise<GoLeaseRecord | undefined | "forbidden">;

export interface GateClock {
  now(): number;
  sleep(ms: number): Promise<void>;
  random(): number;
}

export const GO_LEASE_NAME = "whereabouts";
/** How long after the Lease last changed Go counts as active. */
export const ACTIVE_MS = 120_000;
/** While Go is not active, how often the Lease is looked at. */
export const IDLE_RECHECK_MS = 10_000;
/** The longest one write waits for a holder. */
export const MAX_WAIT_MS = 5_000;
/** Beyond the lease duration, how long an unchanged record is still taken as held. */
const SLACK_MS = 250;
const POLL: Backoff = { baseMs: 10, capMs: 100 };

export class GoLeaseGate {
  readonly #read: ReadGoLease;
  readonly #clock: GateClock;
  #checkedAt = Number.NEGATIVE_INFINITY;
  #activeUntil = Number.NEGATIVE_INFINITY;
  #observed: { raw: string; at: number } | undefined;
  #forbidden = false;
  /** Writes that waited for a Go holder, and for how long in all (for the agent's metrics). */
  waits = 0;
  waitedMs = 0;

  constructor(read: ReadGoLease, clock: GateClock) {
    this.#read = read;
    this.#clock = clock;
  }

  /** Resolves when no Go plugin holds the Lease, or when waiting longer would pass `deadlineAt`. */
  async clear(deadlineAt: number): Promise<void> {
    const started = this.#clock.now();
    if (this.#forbidden) return;
    if (started >= this.#activeUntil && started - this.#checkedAt < IDLE_RECHECK_MS) return;
    const until = Math.min(deadlineAt, started + MAX_WAIT_MS);
    for (let attempt = 0; ; attempt++) {
      let record: GoLeaseRecord | undefined | "forbidden";
      try {
        record = await this.#read();
      } catch {
        return; // cannot tell: never block a write on it
      }
      const now = this.#clock.now();
      this.#checkedAt = now;
      if (record === "forbidden") {
        this.#forbidden = true;
        return;
      }
      if (record === undefined || !this.#held(record, now) || now >= until) {
        if (attempt > 0) {
          this.waits++;
          this.waitedMs += now - started;
        }
        return;
      }
      await this.#clock.sleep(Math.min(backoffDelay(attempt, this.#clock.random(), POLL) + 1, until - now));
    }
  }

  /** Notes Go's activity, and tells whether a Go plugin holds the Lease now. */
  #held(record: GoLeaseRecord, now: number): boolean {
    if (record.raw !== this.#observed?.raw) {
      // A change seen after the first look is Go at work; at the first look, trust renewTime.
      const recent = this.#observed !== undefined || now - record.renewedAt < ACTIVE_MS;
      this.#observed = { raw: record.raw, at: now };
      if (recent) this.#activeUntil = now + ACTIVE_MS;
    }
    return record.holder !== "" && now - this.#observed.at < record.durationMs + SLACK_MS;
  }
}

/** The record of a Lease object as the API serves it. */
export function goLeaseRecord(lease: unknown): GoLeaseRecord {
  const spec =
    typeof lease === "object" && lease !== null && "spec" in lease && typeof lease.spec === "object"
      ? (lease.spec as Record<string, unknown>)
      : {};
  const holder = typeof spec["holderIdentity"] === "string" ? spec["holderIdentity"] : "";
  const seconds = typeof spec["leaseDurationSeconds"] === "number" ? spec["leaseDurationSeconds"] : 0;
  const renewTime = typeof spec["renewTime"] === "string" ? Date.parse(spec["renewTime"]) : Number.NaN;
  return { holder, raw: JSON.stringify(spec), durationMs: seconds * 1000, renewedAt: renewTime };
}
