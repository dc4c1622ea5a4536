// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics
// (tools/leaderelection): a holder keeps the lease by renewing it; a candidate takes it only when
// the record has not changed for leaseDurationSeconds on the candidate's own clock (no clock
// comparison between machines), and every write is conditional on the resourceVersion read, so of
// two candidates exactly one wins. A leader that cannot renew within `renewDeadlineMs` stops
// leading (the caller exits: in-flight work of a deposed leader is not worth the risk). On a clean
// shutdown the lease is released (holder "" , as client-go's ReleaseOnCancel) so a standby takes
// over at once.
import { MERGE_PATCH } from "../kube/client.ts";
import { type Backoff, backoffDelay } from "../retry/backoff.ts";
import { errorFields } from "./advice.ts";
import type { Kube } from "./kube.ts";
import { microTime } from "./kube.ts";

export interface LeaderOptions {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewIntervalMs: number;
  readonly renewDeadlineMs: number;
  readonly retryIntervalMs: number;
}

export const DEFAULT_LEADER_OPTIONS = {
  name: "thereabouts-controller",
  leaseDurationMs: 15_000,
  renewIntervalMs: 5_000,
  renewDeadlineMs: 10_000,
  retryIntervalMs: 2_000,
} as const;

/** A renewal that failed is tried again within up to 1 s, until the renew deadline. */
const RENEW_RETRY: Backoff = { baseMs: 1_000, capMs: 1_000 };

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface LeaderCallbacks {
  onStartedLeading(): void;
  onStoppedLeading(reason: string): void;
  log(level: "info" | "error", message: string, fields?: Record<string, unknown>): void;
}

export class LeaderElector {
  readonly #kube: Kube;
  readonly #options: LeaderOptions;
  #leading = false;
  /** The raw record last seen and when (local clock): the basis of expiry. */
  #observed: { key: string; at: number; holder: string; durationMs: number } | undefined;
  /** When the lease was last read or written successfully. */
  #lastContact = 0;
  #stopped = false;
  #wake: (() => void) | undefined;

  constructor(kube: Kube, options: LeaderOptions) {
    this.#kube = kube;
    this.#options = options;
  }

  get leading(): boolean {
    return this.#leading;
  }

  get identity(): string {
    return this.#options.identity;
  }

  /** The holder last seen ("" when none), for readiness and logs. */
  get holder(): string {
    return this.#observed?.holder ?? "";
  }

  /** Talked to the API about the lease within the last lease duration. */
  get inContact(): boolean {
    return Date.now() - this.#lastContact < this.#options.leaseDurationMs;
  }

  #path(name?: string): string {
    const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.#options.namespace)}/leases`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  /** Runs until stop(): acquires, renews, and calls back on every change of leadership. */
  async run(callbacks: LeaderCallbacks): Promise<void> {
    const o = this.#options;
    while (!this.#stopped) {
      if (!this.#leading) {
        const got = await this.#attempt(callbacks);
        if (got) {
          this.#leading = true;
          callbacks.log("info", "became the leader", {
            lease: `${o.namespace}/${o.name}`,
            identity: o.identity,
          });
          callbacks.onStartedLeading();
          await this.#sleep(o.renewIntervalMs);
        } else {
          await this.#sleep(this.#candidateWait());
        }
        continue;
      }
      const deadline = Date.now() + o.renewDeadlineMs;
      let renewed = false;
      for (let attempt = 0; !this.#stopped && Date.now() < deadline; attempt++) {
        if (await this.#attempt(callbacks)) {
          renewed = true;
          break;
        }
        const wait = backoffDelay(attempt, Math.random(), RENEW_RETRY);
        await this.#sleep(Math.min(wait, Math.max(0, deadline - Date.now())));
      }
      if (this.#stopped) break;
      if (!renewed) {
        this.#leading = false;
        callbacks.onStoppedLeading(`could not renew the lease within ${o.renewDeadlineMs} ms`);
        continue;
      }
      await this.#sleep(o.renewIntervalMs);
    }
  }

  /** Stops the loop; when leading, gives the lease up so a standby takes over without waiting. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    if (!this.#leading) return;
    this.#leading = false;
    try {
      const got = await this.#kube.send(
        { method: "GET", path: this.#path(this.#options.name) },
        "read lease at",
        3_000,
      );
      const meta = (got.body as { metadata?: { resourceVersion?: string } }).metadata;
      const spec = (got.body as { spec?: LeaseSpec }).spec ?? {};
      if (spec.holderIdentity !== this.#options.identity) return;
      const now = microTime(new Date());
      await this.#kube.send(
        {
          method: "PATCH",
          path: this.#path(this.#options.name),
          contentType: MERGE_PATCH,
          body: {
            metadata: { resourceVersion: meta?.resourceVersion },
            spec: { holderIdentity: "", leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
          },
          expect: [409],
        },
        "release lease at",
        3_000,
      );
    } catch {
      // Best effort: the lease expires by itself.
    }
  }

  /**
   * How long a candidate waits before asking for the lease again: client-go's JitterUntil, the
   * retry period plus up to a fifth of it, so standbys started together do not ask in step.
   */
  #candidateWait(): number {
    const jitter: Backoff = {
      baseMs: this.#options.retryIntervalMs / 5,
      capMs: this.#options.retryIntervalMs / 5,
    };
    return this.#options.retryIntervalMs + backoffDelay(0, Math.random(), jitter);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** One try to acquire or renew (client-go's tryAcquireOrRenew). */
  async #attempt(callbacks: LeaderCallbacks): Promise<boolean> {
    const o = this.#options;
    const durationSeconds = Math.max(1, Math.round(o.leaseDurationMs / 1000));
    const now = new Date();
    try {
      const got = await this.#kube.send(
        { method: "GET", path: this.#path(o.name), expect: [404] },
        "read lease at",
        Math.min(5_000, o.renewDeadlineMs),
      );
      if (got.status === 404) {
        const created = await this.#kube.send(
          {
            method: "POST",
            path: this.#path(),
            body: {
              apiVersion: "coordination.k8s.io/v1",
              kind: "Lease",
              metadata: { name: o.name, namespace: o.namespace },
              spec: {
                holderIdentity: o.identity,
                leaseDurationSeconds: durationSeconds,
                acquireTime: microTime(now),
                renewTime: microTime(now),
                leaseTransitions: 0,
              },
            },
            expect: [409],
          },
          "create lease at",
          Math.min(5_000, o.renewDeadlineMs),
        );
        this.#lastContact = Date.now();
        if (created.status === 409) return false;
        this.#observe(created.body);
        return true;
      }
      this.#lastContact = Date.now();
      const observed = this.#observe(got.body);
      const spec = (got.body as { spec?: LeaseSpec }).spec ?? {};
      const holder = spec.holderIdentity ?? "";
      if (holder !== "" && holder !== o.identity && observed.at + observed.durationMs > Date.now())
        return false;
      const resourceVersion = (got.body as { metadata?: { resourceVersion?: string } }).metadata
        ?.resourceVersion;
      const ours = holder === o.identity;
      const updated = await this.#kube.send(
        {
          method: "PATCH",
          path: this.#path(o.name),
          contentType: MERGE_PATCH,
          body: {
            metadata: { resourceVersion },
            spec: {
              holderIdentity: o.identity,
              leaseDurationSeconds: durationSeconds,
              acquireTime: ours && spec.acquireTime ? spec.acquireTime : microTime(now),
              renewTime: microTime(now),
              leaseTransitions: (spec.leaseTransitions ?? 0) + (ours ? 0 : 1),
            },
          },
          expect: [404, 409],
        },
        "update lease at",
        Math.min(5_000, o.renewDeadlineMs),
      );
      if (updated.status !== 200) return false;
      this.#observe(updated.body);
      this.#lastContact = Date.now();
      return true;
    } catch (error) {
      callbacks.log("error", "lease request failed", errorFields(error));
      return false;
    }
  }

  #observe(lease: unknown): { at: number; durationMs: number } {
    const spec = (lease as { spec?: LeaseSpec }).spec ?? {};
    const key = JSON.stringify([
      spec.holderIdentity,
      spec.renewTime,
      spec.acquireTime,
      spec.leaseTransitions,
    ]);
    const durationMs = (spec.leaseDurationSeconds ?? 0) * 1000;
    if (this.#observed?.key !== key)
      this.#observed = { key, at: Date.now(), holder: spec.holderIdentity ?? "", durationMs };
    return this.#observed;
  }
}
