// Prometheus metrics (prom-client, own registry). Pool gauges are computed when scraped from a
// fresh listing of the pools (cached for a few seconds, so several scrapers cost one LIST), so
// every replica serves them, leader or not. Counters count this process's work since it started.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { parseCidr, sizeOf } from "../ip/index.ts";
import type { PoolSnapshot } from "../pool/allocation.ts";
import { parseOwner } from "../pool/owner.ts";

export const TRIGGERS = ["fast", "startup", "cron"] as const;
export type Trigger = (typeof TRIGGERS)[number];

/**
 * Addresses a pool can hand out: its CIDR less the network and broadcast addresses (a /32 or
 * /128 holds one, a /31 or /127 two). Exclusions and range_start/range_end live in the network
 * configurations, which the controller does not read: size is an upper bound. Exact (a bigint):
 * an IPv6 /64 holds 2^64 − 2.
 */
export function poolSize(range: string): bigint {
  const cidr = parseCidr(range);
  if (cidr === undefined) return 0n;
  const all = sizeOf(cidr);
  return all > 2n ? all - 2n : all;
}

/**
 * A count as a Prometheus sample, which is a float64: exact up to 2^53 (every IPv4 pool, IPv6
 * pools up to a /75), the nearest float64 above (relative error below 2^-53, so used/size and
 * free/size stay right to 15 digits). Counts are subtracted as bigints before this rounding, so
 * `free` is the rounded exact difference, not the difference of two rounded numbers.
 */
export function sample(count: bigint): number {
  return Number(count);
}

/** How long reclaimed addresses had stayed allocated after their pod was gone: 1 s to a week. */
const LEAK_AGE_BUCKETS = [1, 5, 15, 60, 300, 900, 3_600, 4 * 3_600, 86_400, 7 * 86_400];

export interface ControllerMetrics {
  readonly registry: Registry;
  reclaimed(trigger: Trigger, addresses: number, reservations: number): void;
  /** `addresses` addresses released `seconds` after their pod was gone. */
  leaked(trigger: Trigger, seconds: number, addresses: number): void;
  run(trigger: Trigger, errors: number, durationSeconds: number): void;
  failedRun(trigger: Trigger): void;
  setLeader(leading: boolean): void;
  /** `addresses` sticky addresses released because their owner (kind) was gone for good. */
  stickyReleased(kind: StickyKind, addresses: number): void;
  /** Where the leader's count of owners waiting out the grace comes from (undefined: none). */
  stickyWaiting(source: (() => Readonly<Record<StickyKind, number>>) | undefined): void;
}

export const STICKY_KINDS = ["statefulset", "vm"] as const;
export type StickyKind = (typeof STICKY_KINDS)[number];

/**
 * Sticky entries of the pools by state (held: a pod uses it; parked: its last pod's DEL kept it for
 * the owner's next pod) and owner kind ("other": an owner text this version does not read).
 */
export function stickyCounts(pools: readonly PoolSnapshot[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const pool of pools)
    for (const a of pool.allocations.values()) {
      if (a.owner === undefined) continue;
      const key = `${a.parkedAt === undefined ? "held" : "parked"}/${parseOwner(a.owner)?.kind ?? "other"}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  return counts;
}

export function createMetrics(
  namespace: string,
  listPools: () => Promise<readonly PoolSnapshot[]>,
  cacheMs = 5_000,
): ControllerMetrics {
  const registry = new Registry();
  const scrapeErrors = new Counter({
    name: "thereabouts_pool_scrape_errors_total",
    help: "Listings of the pools for the pool gauges that failed (the gauges were left empty).",
    registers: [registry],
  });
  let cached: { at: number; pools: Promise<readonly PoolSnapshot[]> } | undefined;
  const pools = (): Promise<readonly PoolSnapshot[]> => {
    if (cached === undefined || Date.now() - cached.at > cacheMs) {
      const promise = listPools();
      cached = { at: Date.now(), pools: promise };
      promise.catch(() => {
        scrapeErrors.inc();
        cached = undefined;
      });
    }
    return cached.pools;
  };
  const poolGauge = (name: string, help: string, value: (pool: PoolSnapshot) => bigint) =>
    new Gauge({
      name,
      help,
      labelNames: ["pool", "namespace"],
      registers: [registry],
      async collect() {
        this.reset();
        let list: readonly PoolSnapshot[];
        try {
          list = await pools();
        } catch {
          return; // counted in thereabouts_pool_scrape_errors_total; the gauges stay empty.
        }
        for (const pool of list) this.set({ pool: pool.name, namespace }, sample(value(pool)));
      },
    });
  const used = (p: PoolSnapshot) => BigInt(p.allocations.size);
  poolGauge(
    "thereabouts_pool_size",
    "Addresses the pool's CIDR can hand out (network and broadcast excluded); above 2^53 (IPv6 larger than /75) the nearest float64.",
    (p) => poolSize(p.range),
  );
  poolGauge("thereabouts_pool_used", "Addresses allocated in the pool.", used);
  poolGauge(
    "thereabouts_pool_free",
    "Addresses of the pool's CIDR not allocated; above 2^53 the nearest float64.",
    (p) => {
      const free = poolSize(p.range) - used(p);
      return free > 0n ? free : 0n;
    },
  );
  new Gauge({
    name: "thereabouts_sticky_entries",
    help: "Pool entries with a sticky owner, by state (held by a pod; parked for the owner's next pod) and owner kind (statefulset, vm, other).",
    labelNames: ["state", "kind"],
    registers: [registry],
    async collect() {
      this.reset();
      let list: readonly PoolSnapshot[];
      try {
        list = await pools();
      } catch {
        return;
      }
      const counts = stickyCounts(list);
      for (const state of ["held", "parked"])
        for (const kind of [...STICKY_KINDS, "other"])
          this.set({ state, kind }, counts.get(`${state}/${kind}`) ?? 0);
    },
  });
  let waiting: (() => Readonly<Record<StickyKind, number>>) | undefined;
  new Gauge({
    name: "thereabouts_sticky_owners_gone",
    help: "Owners of sticky addresses seen gone (StatefulSet slot beyond its replicas or deleted, VM and VMI deleted) and waiting out --sticky-release-after, on the leader.",
    labelNames: ["kind"],
    registers: [registry],
    collect() {
      const counts = waiting?.();
      for (const kind of STICKY_KINDS) this.set({ kind }, counts?.[kind] ?? 0);
    },
  });
  const stickyReleased = new Counter({
    name: "thereabouts_sticky_released_total",
    help: "Sticky addresses released because their owner was gone for good for the whole grace period, by owner kind.",
    labelNames: ["kind"],
    registers: [registry],
  });
  for (const kind of STICKY_KINDS) stickyReleased.inc({ kind }, 0);
  const reclaimedAddresses = new Counter({
    name: "thereabouts_addresses_reclaimed_total",
    help: "Pool entries released because their pod was gone, by what found them (fast, startup, cron).",
    labelNames: ["trigger"],
    registers: [registry],
  });
  const reclaimedReservations = new Counter({
    name: "thereabouts_reservations_reclaimed_total",
    help: "Overlapping-range reservations released because their pod was gone.",
    labelNames: ["trigger"],
    registers: [registry],
  });
  const leakAge = new Histogram({
    name: "thereabouts_leak_age_seconds",
    help: "How long each reclaimed address had stayed allocated after its pod was gone (from the pod's termination or eviction time when its object says, else from when the controller first saw it gone), by what found it.",
    labelNames: ["trigger"],
    buckets: LEAK_AGE_BUCKETS,
    registers: [registry],
  });
  const runs = new Counter({
    name: "thereabouts_reconcile_runs_total",
    help: "Reconcile runs (fast: a batch of pods seen gone; startup: the resync after becoming leader; cron: scheduled sweeps).",
    labelNames: ["trigger"],
    registers: [registry],
  });
  const errors = new Counter({
    name: "thereabouts_reconcile_errors_total",
    help: "Errors in reconcile runs (a pod or pool that could not be read or released, or a run that failed).",
    labelNames: ["trigger"],
    registers: [registry],
  });
  const duration = new Gauge({
    name: "thereabouts_reconcile_last_duration_seconds",
    help: "Duration of the last reconcile run.",
    labelNames: ["trigger"],
    registers: [registry],
  });
  const lastSuccess = new Gauge({
    name: "thereabouts_reconcile_last_success_timestamp_seconds",
    help: "When the last reconcile run without errors ended (Unix time).",
    labelNames: ["trigger"],
    registers: [registry],
  });
  const leader = new Gauge({
    name: "thereabouts_leader",
    help: "1 while this replica holds the controller's Lease.",
    registers: [registry],
  });
  leader.set(0);
  for (const trigger of TRIGGERS) {
    leakAge.zero({ trigger });
    reclaimedAddresses.inc({ trigger }, 0);
    reclaimedReservations.inc({ trigger }, 0);
    runs.inc({ trigger }, 0);
    errors.inc({ trigger }, 0);
  }
  return {
    registry,
    reclaimed(trigger, addresses, reservations) {
      reclaimedAddresses.inc({ trigger }, addresses);
      reclaimedReservations.inc({ trigger }, reservations);
    },
    leaked(trigger, seconds, addresses) {
      for (let i = 0; i < addresses; i++) leakAge.observe({ trigger }, seconds);
    },
    run(trigger, errorCount, seconds) {
      runs.inc({ trigger });
      errors.inc({ trigger }, errorCount);
      duration.set({ trigger }, seconds);
      if (errorCount === 0) lastSuccess.set({ trigger }, Date.now() / 1000);
    },
    failedRun(trigger) {
      runs.inc({ trigger });
      errors.inc({ trigger });
    },
    setLeader(leading) {
      leader.set(leading ? 1 : 0);
    },
    stickyReleased(kind, addresses) {
      stickyReleased.inc({ kind }, addresses);
    },
    stickyWaiting(source) {
      waiting = source;
    },
  };
}
