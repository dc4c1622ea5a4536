// The controller's work queue. Gone pods are gathered for a moment (`batchMs`) and reconciled
// together (the fast path); a sweep of everything (startup, cron) goes before them and covers them;
// one reconcile runs at a time. A pod whose release failed is tried again with backoff a few times,
// then left to the next sweep. The clock and the reconcile are passed in, so these rules are
// unit-tested with a fake clock (reconcile-queue.test.ts) instead of only through the binary.
import type { Clock } from "../ipam/retry.ts";
import { type Backoff, backoffDelay } from "../retry/backoff.ts";
import { type PodState, splitPodRef } from "./liveness.ts";
import type { Trigger } from "./metrics.ts";

export interface QueuedPod {
  /** The pod's last state seen (its uid for the Event), if it was seen at all. */
  readonly state: PodState | undefined;
  /** Tries so far (0 for a pod seen gone just now). */
  readonly attempt: number;
  /** When the controller first saw the pod gone (ms since the epoch, its clock), for the leak age. */
  readonly seenGoneAt: number;
}

export interface ReconcileOutcome {
  readonly errors: number;
  /** The pods whose release failed (empty: the run failed as a whole, e.g. listing pools). */
  readonly failedPods: ReadonlySet<string>;
}

export interface QueueActions {
  /** One reconcile: every pod (a sweep), or the pods given (the fast path). */
  reconcile(trigger: Trigger, pods?: ReadonlyMap<string, QueuedPod>): Promise<ReconcileOutcome>;
  /** A reconcile that threw. */
  failed(trigger: Trigger, error: unknown): void;
  /** A pod given up after `attempts` tries (the next sweep takes it). */
  gaveUp(ref: string, state: PodState | undefined, attempts: number): void;
}

export interface QueueOptions {
  /** How long gone pods are gathered before one fast-path reconcile. */
  readonly batchMs: number;
  /** Tries of one pod on the fast path. */
  readonly attempts: number;
  /** Pause before a pod's next try. */
  readonly retry: Backoff;
  /** Pause before a failed startup sweep runs again. */
  readonly startupRetryMs: number;
  /** Whether work is taken at all (only the leader reconciles). */
  readonly admits: () => boolean;
}

export const DEFAULT_QUEUE_OPTIONS: Omit<QueueOptions, "admits"> = {
  batchMs: 200,
  attempts: 6,
  retry: { baseMs: 1_000, capMs: 16_000 },
  startupRetryMs: 5_000,
};

export class ReconcileQueue {
  readonly #clock: Clock;
  readonly #actions: QueueActions;
  readonly #options: QueueOptions;
  readonly #pending = new Map<string, QueuedPod>();
  readonly #sweeps: Trigger[] = [];
  #wake: (() => void) | undefined;
  #stopping = false;
  /** The reconcile in progress, for a shutdown to wait on. */
  #current: Promise<unknown> = Promise.resolve();

  constructor(clock: Clock, actions: QueueActions, options: QueueOptions) {
    this.#clock = clock;
    this.#actions = actions;
    this.#options = options;
  }

  /**
   * A pod seen gone (or due for another try); the earliest attempt wins when it is queued twice,
   * and the pod keeps the time it was first seen gone.
   */
  enqueuePod(ref: string, state: PodState | undefined, attempt = 0, seenGoneAt = this.#clock.now()): void {
    if (this.#stopping || !this.#options.admits() || splitPodRef(ref) === undefined) return;
    const queued = this.#pending.get(ref);
    if (queued === undefined || queued.attempt > attempt)
      this.#pending.set(ref, {
        state,
        attempt,
        seenGoneAt: Math.min(seenGoneAt, queued?.seenGoneAt ?? seenGoneAt),
      });
    this.#poke();
  }

  enqueueSweep(trigger: Trigger): void {
    if (this.#stopping || !this.#options.admits()) return;
    if (!this.#sweeps.includes(trigger)) this.#sweeps.push(trigger);
    this.#poke();
  }

  /** Works until stop(). */
  async run(): Promise<void> {
    while (!this.#stopping) {
      if (this.#sweeps.length === 0 && this.#pending.size === 0) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        continue;
      }
      const trigger = this.#sweeps.shift();
      if (trigger !== undefined) await this.#sweep(trigger);
      else await this.#fastPath();
    }
  }

  /** Takes no more work and waits (at most `graceMs`) for the reconcile in progress. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    this.#poke();
    await Promise.race([this.#current.catch(() => {}), this.#clock.sleep(graceMs)]);
  }

  async #sweep(trigger: Trigger): Promise<void> {
    this.#pending.clear(); // a sweep covers every pod known gone so far
    try {
      await this.#track(this.#actions.reconcile(trigger));
    } catch (error) {
      this.#actions.failed(trigger, error);
      if (trigger === "startup")
        this.#later(this.#options.startupRetryMs, () => this.enqueueSweep("startup"));
    }
  }

  async #fastPath(): Promise<void> {
    await this.#clock.sleep(this.#options.batchMs);
    const batch = new Map(this.#pending);
    this.#pending.clear();
    try {
      const { errors, failedPods } = await this.#track(this.#actions.reconcile("fast", batch));
      if (errors > 0)
        this.#retryLater(
          failedPods.size > 0 ? new Map([...batch].filter(([ref]) => failedPods.has(ref))) : batch,
        );
    } catch (error) {
      this.#actions.failed("fast", error);
      this.#retryLater(batch);
    }
  }

  #retryLater(batch: ReadonlyMap<string, QueuedPod>): void {
    for (const [ref, { state, attempt, seenGoneAt }] of batch) {
      if (attempt + 1 >= this.#options.attempts) {
        this.#actions.gaveUp(ref, state, this.#options.attempts);
        continue;
      }
      const wait = backoffDelay(attempt, this.#clock.random(), this.#options.retry);
      this.#later(wait, () => this.enqueuePod(ref, state, attempt + 1, seenGoneAt));
    }
  }

  #later(ms: number, then: () => void): void {
    void this.#clock.sleep(ms).then(then);
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#current = work;
    return work;
  }

  #poke(): void {
    this.#wake?.();
    this.#wake = undefined;
  }
}
