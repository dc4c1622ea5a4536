// The agent's Prometheus metrics (prom-client, own registry): the calls it served by verb, datastore
// and outcome, how long they took, the races their commits lost and the retries their allocations
// needed, the connections it turned away, and what its stores did (reads from cache or store,
// commits and the changes grouped into them, races lost on a stale cache, store handles opened and
// open). Every label takes its value from a fixed set, never from a caller's input: a raw
// CNI_COMMAND as a label would let any caller grow the registry without bound.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { COMMANDS } from "../cni/request.ts";
import type { RetriedOperation, RetryObserver } from "../ipam/observer.ts";
import { DATASTORES, type Datastore } from "../store/settings.ts";
import type { AgentStats } from "./agent-store.ts";
import { REJECTIONS, type Rejection } from "./socket-listener.ts";
import type { WarmStores } from "./warm-stores.ts";

/**
 * How a call ended: exit code 0, a CNI error, no answer within its limit (call-deadline.ts), or
 * declined (it names host paths this agent does not share; the plugin ran it alone).
 */
export type CallResult = "ok" | "error" | "timeout" | "declined";

/**
 * How a meta-plugin call ended: as a CNI call, or shed (the agent was busy: every slot taken and
 * the queue full, or the call waited too long for a slot; the plugin ran it alone).
 */
export type MultusCallResult = "ok" | "error" | "timeout" | "declined" | "shed";

/** What the meta-plugin calls' gauges read (call-gate.ts). */
export interface MultusLoad {
  readonly running: number;
  readonly queued: number;
}

/** The store label: the datastore the call's configuration selects, "none" when it was not decoded. */
export type StoreLabel = Datastore | "none";

/** The command label: a CNI verb, or "other" for anything else a caller sent. */
export function commandLabel(command: string): string {
  return (COMMANDS as readonly string[]).includes(command) ? command : "other";
}

/** Lost races before an allocation held its address: 0 (no race) up to "more than 20". */
const RETRY_BUCKETS = [0, 1, 2, 3, 5, 8, 13, 20];

const STORE_TOTALS: readonly (readonly [name: string, help: string, key: keyof AgentStats])[] = [
  [
    "thereabouts_agent_cached_reads_total",
    "Pool reads for an allocation answered from the cache.",
    "cachedReads",
  ],
  [
    "thereabouts_agent_store_reads_total",
    "Pool reads that went to the datastore for the cache.",
    "storeReads",
  ],
  [
    "thereabouts_agent_commits_total",
    "Commits sent to the datastore (a group of changes counts once).",
    "commits",
  ],
  [
    "thereabouts_agent_changes_total",
    "Changes (one ADD or DEL of one pool) committed through those commits.",
    "changes",
  ],
  [
    "thereabouts_agent_lost_races_total",
    "Commits decided on a cached pool that lost a race in the datastore.",
    "lostRaces",
  ],
];

export interface AgentMetrics {
  readonly registry: Registry;
  call(command: string, store: StoreLabel, result: CallResult, seconds: number): void;
  /** What a call's commits on `store` report (lost races, retries per allocation). */
  retries(store: Datastore): RetryObserver;
  rejected(why: Rejection): void;
  /** A meta-plugin call answered (or shed) after `seconds`, queue wait included. */
  multusCall(command: string, result: MultusCallResult, seconds: number): void;
}

export function createAgentMetrics(
  stores: WarmStores,
  multus: MultusLoad = { running: 0, queued: 0 },
): AgentMetrics {
  const registry = new Registry();
  const calls = new Counter({
    name: "thereabouts_agent_calls_total",
    help: "CNI calls served, by command (a CNI verb or other), store (local, etcd, kubernetes; none: the configuration was not decoded) and result (ok: exit code 0, error, timeout, declined: left to the plugin).",
    labelNames: ["command", "store", "result"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "thereabouts_agent_call_duration_seconds",
    help: "Time to serve a CNI call, from request to answer, by command and store.",
    labelNames: ["command", "store"],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const conflicts = new Counter({
    name: "thereabouts_agent_conflicts_total",
    help: "Commits that lost a race (an entry they tested had changed: another writer in the datastore, or another call in flight on this node), by store and operation (allocate, release).",
    labelNames: ["store", "operation"],
    registers: [registry],
  });
  const retries = new Histogram({
    name: "thereabouts_agent_allocation_retries",
    help: "Reads of the pool beyond the first before an allocation held its address (lost races, addresses reserved by another range), per range allocated, by store.",
    labelNames: ["store"],
    buckets: RETRY_BUCKETS,
    registers: [registry],
  });
  const rejected = new Counter({
    name: "thereabouts_agent_rejected_connections_total",
    help: "Connections turned away before a handler: peer (a user the agent does not serve), malformed, too_large, timeout (no whole request in time).",
    labelNames: ["reason"],
    registers: [registry],
  });
  const multusCalls = new Counter({
    name: "thereabouts_agent_multus_calls_total",
    help: "Meta-plugin (multus) calls, by command (a CNI verb or other) and result (ok: exit code 0, error, timeout, declined: names a path outside --host-paths, shed: the agent was busy; declined and shed calls were run by the plugin alone).",
    labelNames: ["command", "result"],
    registers: [registry],
  });
  const multusDuration = new Histogram({
    name: "thereabouts_agent_multus_call_duration_seconds",
    help: "Time from a meta-plugin call's request to its answer, waiting for a slot included, by command and result.",
    labelNames: ["command", "result"],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  new Gauge({
    name: "thereabouts_agent_multus_calls_in_flight",
    help: "Meta-plugin calls running now (at most --multus-max-calls).",
    registers: [registry],
    collect() {
      this.set(multus.running);
    },
  });
  new Gauge({
    name: "thereabouts_agent_multus_calls_queued",
    help: "Meta-plugin calls waiting for a slot now (at most --multus-queue).",
    registers: [registry],
    collect() {
      this.set(multus.queued);
    },
  });
  // Series that read 0 until something happens, rather than missing (alerts and rate() need them).
  for (const reason of REJECTIONS) rejected.inc({ reason }, 0);
  for (const command of ["ADD", "DEL"])
    for (const result of ["ok", "error", "shed"] satisfies MultusCallResult[])
      multusCalls.inc({ command, result }, 0);
  for (const store of DATASTORES)
    for (const operation of ["allocate", "release"] satisfies RetriedOperation[])
      conflicts.inc({ store, operation }, 0);
  new Gauge({
    name: "thereabouts_agent_store_handles_open",
    help: "Datastore handles open now (idle ones are closed).",
    registers: [registry],
    collect() {
      this.set(stores.size);
    },
  });
  /** A counter read from a running total when scraped. */
  const total = (name: string, help: string, value: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(value());
      },
    });
  for (const [name, help, key] of STORE_TOTALS) total(name, help, () => stores.stats[key]);
  total(
    "thereabouts_agent_store_handles_opened_total",
    "Datastore handles opened (first use, changed credentials files, age).",
    () => stores.opened,
  );
  return {
    registry,
    call(command, store, result, seconds) {
      const label = commandLabel(command);
      calls.inc({ command: label, store, result });
      duration.observe({ command: label, store }, seconds);
    },
    retries(store) {
      return {
        lostRace: (operation) => conflicts.inc({ store, operation }),
        allocated: (count) => retries.observe({ store }, count),
      };
    },
    rejected(why) {
      rejected.inc({ reason: why });
    },
    multusCall(command, result, seconds) {
      const label = commandLabel(command);
      multusCalls.inc({ command: label, result });
      multusDuration.observe({ command: label, result }, seconds);
    },
  };
}
