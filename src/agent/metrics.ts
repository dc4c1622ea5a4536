// The agent's Prometheus metrics (prom-client, own registry): the calls it served by verb and
// outcome, how long they took, and what its stores did (reads from cache or store, commits and
// the changes grouped into them, races lost on a stale cache, store handles opened).
import { Counter, Histogram, Registry } from "prom-client";
import type { AgentStats } from "./agent-store.ts";
import type { WarmStores } from "./warm-stores.ts";

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
  call(command: string, code: number, seconds: number): void;
}

export function createAgentMetrics(stores: WarmStores): AgentMetrics {
  const registry = new Registry();
  const calls = new Counter({
    name: "thereabouts_agent_calls_total",
    help: "CNI calls served, by command and result (ok: exit code 0).",
    labelNames: ["command", "result"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "thereabouts_agent_call_duration_seconds",
    help: "Time to serve a CNI call, from request to answer.",
    labelNames: ["command"],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
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
    call(command, code, seconds) {
      calls.inc({ command, result: code === 0 ? "ok" : "error" });
      duration.observe({ command }, seconds);
    },
  };
}
