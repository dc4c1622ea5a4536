// The one backoff of every retry loop: the IPAM conflict retries and the sqlite lock waits
// (src/ipam/retry.ts), the controller's reconcile queue, informer and lease, the Kubernetes client
// and the etcd client. Pure: the caller passes its random draw (from its injected Clock where it
// has one), so the delays of a loop are testable without sleeping.

/** The ceiling of the first retry's delay, and the most it may grow to. */
export interface Backoff {
  readonly baseMs: number;
  readonly capMs: number;
}

/**
 * "Full jitter": a uniform delay in [0, min(cap, base·2^attempt)), `attempt` counting from 0 and
 * `random` ∈ [0, 1). Spreading every delay over its whole window keeps writers that lost the same
 * race from retrying in step.
 */
export function backoffDelay(attempt: number, random: number, backoff: Backoff): number {
  const ceiling = Math.min(backoff.capMs, backoff.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random * ceiling);
}
