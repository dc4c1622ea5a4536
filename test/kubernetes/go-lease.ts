// The cluster-wide Lease every Go Whereabouts ADD and DEL takes before touching a pool, as
// client-go's leader election does it with Whereabouts' defaults (lease 1500 ms, renew deadline
// 1000 ms, retry period 500 ms): one Lease `whereabouts` in the pool namespace, identity
// `<pod namespace>/<pod name>`, leaseDurationSeconds floor(1500 ms / 1 s) = 1.
//
// Acquire: GET the Lease (404 → POST it, holding it); a record held by someone else and first
// observed (on this client's clock, reset whenever the record changes) less than
// leaseDurationSeconds ago → not now; otherwise PUT the record with us as holder at the
// resourceVersion read (a 409 means someone else won). Attempts are RetryPeriod × (1 + rand × 1.2)
// apart. Once held: an immediate renewal PUT and one every RetryPeriod while the work runs. Release:
// GET, then PUT with holderIdentity "" and leaseDurationSeconds 1.
//
// Used by the interoperability tests to run Go's exact request sequence against thereabouts
// writers, which never take the Lease.

const LEASE_DURATION_MS = 1500;
const RETRY_PERIOD_MS = 500;
const JITTER = 1.2;
const LEASE_NAME = "whereabouts";

export type LeaseSend = (
  method: string,
  path: string,
  body?: unknown,
) => Promise<{ status: number; body: unknown }>;

interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface LeaseObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseRecord;
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
function microTime(at: number): string {
  return new Date(at).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export class GoLease {
  readonly #send: LeaseSend;
  readonly #namespace: string;
  readonly #identity: string;
  /** The raw record last seen and when (client-go's observedRawRecord / observedTime). */
  #observedRaw = "";
  #observedAt = 0;
  /** The Lease as last written by us (the renewal fast path PUTs it without a GET). */
  #held: LeaseObject | undefined;
  #renewer: ReturnType<typeof setInterval> | undefined;
  #renewing: Promise<void> = Promise.resolve();
  /** Attempts that found the Lease held by someone else or lost the PUT. */
  waits = 0;

  constructor(send: LeaseSend, namespace: string, identity: string) {
    this.#send = send;
    this.#namespace = namespace;
    this.#identity = identity;
  }

  get #path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.#namespace}/leases`;
  }

  /** Acquires the Lease before `deadline` (Go: "time limit exceeded while waiting to become leader"). */
  async acquire(deadline: number): Promise<void> {
    for (;;) {
      if (await this.#tryAcquire()) {
        this.#startRenewing();
        return;
      }
      this.waits++;
      const wait = RETRY_PERIOD_MS * (1 + Math.random() * JITTER);
      if (Date.now() + wait >= deadline)
        throw new Error("time limit exceeded while waiting to become leader");
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  async #tryAcquire(): Promise<boolean> {
    const now = Date.now();
    const got = await this.#send("GET", `${this.#path}/${LEASE_NAME}`);
    if (got.status === 404) {
      const created = await this.#send("POST", this.#path, this.#object(undefined, now));
      if (created.status !== 201) return false;
      this.#held = created.body as LeaseObject;
      this.#observe(this.#held, now);
      return true;
    }
    if (got.status !== 200) return false;
    const current = got.body as LeaseObject;
    this.#observe(current, now);
    const holder = current.spec.holderIdentity ?? "";
    const durationMs = (current.spec.leaseDurationSeconds ?? 0) * 1000;
    if (holder !== "" && holder !== this.#identity && this.#observedAt + durationMs > now) return false;
    const updated = await this.#send("PUT", `${this.#path}/${LEASE_NAME}`, this.#object(current, now));
    if (updated.status !== 200) return false;
    this.#held = updated.body as LeaseObject;
    this.#observe(this.#held, now);
    return true;
  }

  /** The record to write: us as holder; transitions counted when the holder changes. */
  #object(current: LeaseObject | undefined, now: number): LeaseObject {
    const previous = current?.spec ?? {};
    const takeover = (previous.holderIdentity ?? "") !== this.#identity;
    return {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name: LEASE_NAME,
        namespace: this.#namespace,
        ...(current?.metadata.resourceVersion === undefined
          ? {}
          : { resourceVersion: current.metadata.resourceVersion }),
      },
      spec: {
        holderIdentity: this.#identity,
        leaseDurationSeconds: Math.floor(LEASE_DURATION_MS / 1000),
        acquireTime: takeover || previous.acquireTime === undefined ? microTime(now) : previous.acquireTime,
        renewTime: microTime(now),
        leaseTransitions: (previous.leaseTransitions ?? 0) + (takeover && current !== undefined ? 1 : 0),
      },
    };
  }

  #observe(lease: LeaseObject, now: number): void {
    const raw = JSON.stringify(lease.spec);
    if (raw !== this.#observedRaw) {
      this.#observedRaw = raw;
      this.#observedAt = now;
    }
  }

  /** The immediate renewal and one every RetryPeriod, each a PUT of the record we hold. */
  #startRenewing(): void {
    const renew = () => {
      this.#renewing = this.#renewing.then(async () => {
        const held = this.#held;
        if (held === undefined) return;
        const put = await this.#send("PUT", `${this.#path}/${LEASE_NAME}`, {
          ...held,
          spec: { ...held.spec, renewTime: microTime(Date.now()) },
        });
        if (put.status === 200 && this.#held !== undefined) this.#held = put.body as LeaseObject;
      });
    };
    renew();
    this.#renewer = setInterval(renew, RETRY_PERIOD_MS);
  }

  /** Stops renewing and hands the Lease back (ReleaseOnCancel). */
  async release(): Promise<void> {
    clearInterval(this.#renewer);
    await this.#renewing;
    this.#held = undefined;
    const got = await this.#send("GET", `${this.#path}/${LEASE_NAME}`);
    if (got.status !== 200) return;
    const current = got.body as LeaseObject;
    if (current.spec.holderIdentity !== this.#identity) return;
    await this.#send("PUT", `${this.#path}/${LEASE_NAME}`, {
      ...current,
      spec: { ...current.spec, holderIdentity: "", leaseDurationSeconds: 1 },
    });
  }
}
