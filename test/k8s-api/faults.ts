// Injectable failures and latency. A rule matches requests by verb / resource / namespace / name
// and fires with `probability` (default 1) for at most `times` requests (default: unlimited),
// either before the request is handled or, with `after`, once it has been handled (a write is then
// committed but the client sees the failure: the "did my update land?" case).
import {
  type ApiError,
  conflict,
  internalError,
  OPTIMISTIC_LOCK_MSG,
  requestTimeout,
  serviceUnavailable,
  tooManyRequestsApf,
  tooManyRequestsStatus,
} from "./status.ts";

export type FaultKind =
  | "conflict"
  | "internalError"
  | "serviceUnavailable"
  | "tooManyRequests"
  | "gatewayTimeout"
  /** Hold the request `holdMs`, then drop the connection without a response. */
  | "timeout"
  /** Add `holdMs` of latency, then handle the request normally. */
  | "delay";

export interface FaultRule {
  readonly kind: FaultKind;
  /** get, list, watch, create, update, patch, delete, deletecollection; omitted or "*": any. */
  readonly verb?: string | readonly string[];
  /** `ippools`, `ippools.whereabouts.cni.cncf.io`, `pods/status`; omitted or "*": any. */
  readonly resource?: string | readonly string[];
  readonly namespace?: string;
  readonly name?: string;
  readonly probability?: number;
  readonly times?: number;
  readonly after?: boolean;
  readonly holdMs?: number;
  readonly retryAfterSeconds?: number;
  readonly message?: string;
  /** 429 body: "apf" (plain text, as API Priority and Fairness writes it; default) or "status". */
  readonly format?: "apf" | "status";
}

export interface Latency {
  /** Added to every API request (not control requests). */
  readonly requestMs?: number;
  /** Added to every write before it commits (stands in for etcd's fsync + raft round trip). */
  readonly writeMs?: number;
  /** Uniform random extra in [0, jitterMs) on each of the above. */
  readonly jitterMs?: number;
}

export interface RequestInfo {
  readonly verb: string;
  /** Qualified resource (`ippools.whereabouts.cni.cncf.io`), with `/subresource` if any. */
  readonly resource: string;
  /** Plural only (`ippools`), with `/subresource` if any. */
  readonly shortResource: string;
  readonly namespace: string;
  readonly name: string;
  readonly group: string;
}

interface LiveRule extends FaultRule {
  remaining: number;
  hits: number;
}

const WRITE_VERBS = new Set(["create", "update", "patch", "delete", "deletecollection"]);
export const isWrite = (verb: string): boolean => WRITE_VERBS.has(verb);

/** mulberry32: a small seedable PRNG, so probabilistic faults replay with the same seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const list = (v: string | readonly string[] | undefined): readonly string[] | undefined =>
  v === undefined ? undefined : typeof v === "string" ? [v] : v;

function matches(rule: FaultRule, info: RequestInfo): boolean {
  const verbs = list(rule.verb);
  if (verbs && !verbs.includes("*") && !verbs.includes(info.verb)) return false;
  const resources = list(rule.resource);
  if (
    resources &&
    !resources.includes("*") &&
    !resources.includes(info.resource) &&
    !resources.includes(info.shortResource)
  )
    return false;
  if (rule.namespace !== undefined && rule.namespace !== info.namespace) return false;
  if (rule.name !== undefined && rule.name !== info.name) return false;
  return true;
}

export function validateRule(rule: unknown): FaultRule {
  const r = rule as FaultRule;
  const kinds: FaultKind[] = [
    "conflict",
    "internalError",
    "serviceUnavailable",
    "tooManyRequests",
    "gatewayTimeout",
    "timeout",
    "delay",
  ];
  if (typeof r !== "object" || r === null || !kinds.includes(r.kind))
    throw new Error(`fault rule needs "kind", one of ${kinds.join(", ")}: ${JSON.stringify(rule)}`);
  if (r.probability !== undefined && !(r.probability >= 0 && r.probability <= 1))
    throw new Error(`fault probability must be within [0, 1]: ${JSON.stringify(rule)}`);
  return r;
}

export class Faults {
  #rules: LiveRule[] = [];
  #latency: Latency = {};
  readonly #random: () => number;

  constructor(seed = Date.now()) {
    this.#random = prng(seed);
  }

  set(rules: readonly FaultRule[]): void {
    this.#rules = [];
    this.add(rules);
  }

  add(rules: readonly FaultRule[]): void {
    for (const r of rules)
      this.#rules.push({ ...validateRule(r), remaining: r.times ?? Number.POSITIVE_INFINITY, hits: 0 });
  }

  describe(): object[] {
    return this.#rules.map((r) => ({ ...r, remaining: Number.isFinite(r.remaining) ? r.remaining : null }));
  }

  get latency(): Latency {
    return this.#latency;
  }

  set latency(l: Latency) {
    this.#latency = { ...l };
  }

  /** The first rule for this phase that matches and wins its dice roll; consumes one of its `times`. */
  pick(info: RequestInfo, after: boolean): FaultRule | undefined {
    for (const r of this.#rules) {
      if ((r.after ?? false) !== after || r.remaining <= 0 || !matches(r, info)) continue;
      if (this.#random() >= (r.probability ?? 1)) continue;
      r.remaining--;
      r.hits++;
      if (r.remaining <= 0) this.#rules = this.#rules.filter((x) => x !== r);
      return r;
    }
    return undefined;
  }

  #jitter(base: number | undefined): number {
    const j = this.#latency.jitterMs ?? 0;
    if (!base) return 0;
    return base + (j > 0 ? this.#random() * j : 0);
  }

  requestDelayMs(): number {
    return this.#jitter(this.#latency.requestMs);
  }

  writeDelayMs(): number {
    return this.#jitter(this.#latency.writeMs);
  }
}

/** The error a fault answers with (not used for "timeout" and "delay"). */
export function faultError(rule: FaultRule, info: RequestInfo): ApiError {
  switch (rule.kind) {
    case "conflict":
      return conflict(
        { group: info.group, resource: info.shortResource.split("/")[0]! },
        info.name,
        rule.message ?? OPTIMISTIC_LOCK_MSG,
      );
    case "internalError":
      return internalError(rule.message ?? "injected fault");
    case "serviceUnavailable":
      return serviceUnavailable(rule.message ?? "the server is currently unable to handle the request");
    case "tooManyRequests":
      return rule.format === "status"
        ? tooManyRequestsStatus(
            rule.message ?? "Too many requests, please try again later.",
            rule.retryAfterSeconds ?? 1,
          )
        : tooManyRequestsApf(rule.retryAfterSeconds ?? 1);
    default:
      return requestTimeout();
  }
}
