// `thereabouts check` on a target: read, decide, and — with --fix — repair and decide again.
// Findings about a pod's network-status are kept only when a second read of the store confirms
// them: the pods are listed after the pools, so an ADD that finished in between (its address
// already in the annotation) would otherwise look like an address the store does not record.
import type { Datastore } from "../../store/settings.ts";
import type { Target } from "../target.ts";
import { checkStore, type PodReading } from "./check.ts";
import type { Finding, FindingKind } from "./findings.ts";
import { type FixReport, fixFindings } from "./fix.ts";
import { livePods, readClusterPods, readPoolsAndReservations } from "./read.ts";

export interface CheckReport {
  readonly datastore: Datastore;
  /** The namespace of the pools (Kubernetes). */
  readonly namespace?: string;
  /** Whether pods were asked (Kubernetes only: the other stores have no cluster to ask). */
  readonly podChecks: boolean;
  readonly pools: number;
  readonly reservations: number;
  /** Pods listed (Kubernetes). */
  readonly pods?: number;
  readonly findings: readonly Finding[];
}

export interface CheckHooks {
  /** Pools checked so far, of how many. */
  progress?(done: number, total: number): void;
}

const STATUS_KINDS: ReadonlySet<FindingKind> = new Set(["status-not-stored", "stored-not-in-status"]);

function findingId(f: Finding): string {
  return [f.kind, f.pool, f.address, f.key ?? "", f.owner?.podRef ?? "", f.owner?.ifName ?? ""].join("\0");
}

export async function checkTarget(target: Target, hooks: CheckHooks = {}): Promise<CheckReport> {
  const read = await readPoolsAndReservations(target);
  let pods: Map<string, PodReading> | undefined;
  if (target.kube !== undefined) pods = await readClusterPods(target.kube, read);
  const config = target.networkConfig;
  const overlapping = (network: string) =>
    config !== undefined && config.networkName === network ? config.enableOverlappingRanges : undefined;
  let findings = checkStore({
    ...read,
    ...(pods === undefined ? {} : { pods }),
    overlapping,
    ...(hooks.progress === undefined ? {} : { progress: hooks.progress }),
  });
  if (pods !== undefined && findings.some((f) => STATUS_KINDS.has(f.kind))) {
    const again = await readPoolsAndReservations(target);
    const confirmed = new Set(
      checkStore({ ...again, pods, overlapping })
        .filter((f) => STATUS_KINDS.has(f.kind))
        .map(findingId),
    );
    findings = findings.filter((f) => !STATUS_KINDS.has(f.kind) || confirmed.has(findingId(f)));
  }
  return {
    datastore: target.store.datastore,
    ...(target.namespace === undefined ? {} : { namespace: target.namespace }),
    podChecks: pods !== undefined,
    pools: read.pools.length,
    reservations: read.reservations.length,
    ...(pods === undefined ? {} : { pods: [...pods.values()].filter((p) => p.kind === "found").length }),
    findings,
  };
}

/** The repairs the findings allow (fix.ts), on the target's store. */
export function fixTarget(target: Target, findings: readonly Finding[]): Promise<FixReport> {
  return fixFindings(target.store, target.kube === undefined ? undefined : livePods(target.kube), findings);
}
