// Request accounting for the control API: a count per "verb resource" (`patch
// ippools.whereabouts.cni.cncf.io`, `get leases.coordination.k8s.io`, `list pods`, `get /version`)
// and a bounded, ordered log of requests with their outcome, so a test can assert the exact API
// call sequence of one CNI ADD.

export interface LoggedRequest {
  readonly seq: number;
  readonly verb: string;
  readonly resource: string;
  readonly namespace: string;
  readonly name: string;
  code: number;
  readonly startedAt: number;
  durationMs: number;
  fault?: string;
}

export class RequestLog {
  #counts = new Map<string, number>();
  #log: LoggedRequest[] = [];
  #seq = 0;
  #total = 0;
  readonly #limit: number;

  constructor(limit = 10_000) {
    this.#limit = limit;
  }

  start(verb: string, resource: string, namespace: string, name: string): LoggedRequest {
    const key = `${verb} ${resource}`;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    this.#total++;
    const entry: LoggedRequest = {
      seq: ++this.#seq,
      verb,
      resource,
      namespace,
      name,
      code: 0,
      startedAt: Date.now(),
      durationMs: 0,
    };
    this.#log.push(entry);
    if (this.#log.length > this.#limit) this.#log.splice(0, this.#log.length - this.#limit);
    return entry;
  }

  snapshot(withLog: boolean): { total: number; counts: Record<string, number>; log?: LoggedRequest[] } {
    const counts = Object.fromEntries([...this.#counts.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
    return { total: this.#total, counts, ...(withLog ? { log: [...this.#log] } : {}) };
  }

  reset(): void {
    this.#counts = new Map();
    this.#log = [];
    this.#total = 0;
  }
}
