// `thereabouts migrate`: Go Whereabouts v0.5.4's etcd allocations copied into a thereabouts
// datastore (Kubernetes IPPools and reservations, or our etcd layout), as ADDs of the target
// network would have written them. Read the source snapshot, read the target, plan (pure), and,
// unless it is a dry run or the plan has problems, write through the store's commit path.
import type { IpamConfig } from "../../config/types.ts";
import { type Cidr, formatCidr, masked } from "../../ip/index.ts";
import { type PoolRef, poolOf, sameRange } from "../../ipam/pool-ref.ts";
import type { PoolSnapshot, Reservation } from "../../pool/allocation.ts";
import { KubernetesStore } from "../../store/kubernetes/kubernetes-store.ts";
import { openStore } from "../../store/open.ts";
import type { Store } from "../../store/store.ts";
import { type ApplyOutcome, type ApplyProgress, applyPlan } from "./apply.ts";
import type { GoRange } from "./go-etcd-layout.ts";
import { type GoEtcdSnapshot, readGoEtcd } from "./go-etcd-source.ts";
import { type MigrationPlan, planMigration, unconfiguredPool } from "./plan.ts";

export interface MigrateOptions {
  /** The network configuration Go Whereabouts v0.5.4 used (etcd). */
  readonly from: IpamConfig;
  /** The thereabouts network configuration to migrate into. */
  readonly to: IpamConfig;
  /** Only the ranges the --from network configures (default: every v0.5.4 range in the etcd). */
  readonly onlyConfigured: boolean;
  readonly dryRun: boolean;
  /** Kubernetes target: the pools' namespace instead of the kubeconfig context's. */
  readonly namespace?: string | undefined;
  /** Phases of a long run, for a progress display. */
  readonly onReading?: (what: string) => void;
  readonly onWriting?: ApplyProgress;
}

export interface MigrationResult {
  readonly source: GoEtcdSnapshot;
  readonly selected: readonly GoRange[];
  readonly target: { readonly datastore: string; readonly namespace?: string };
  readonly plan: MigrationPlan;
  /** undefined when nothing was written: a dry run, or a plan with problems. */
  readonly applied: ApplyOutcome | undefined;
}

/** Throws an Error naming what to fix when the configurations cannot be used as source and target. */
export function checkConfigs(from: IpamConfig, to: IpamConfig): void {
  if (from.datastore !== "etcd") {
    throw new Error(
      `--from: network ${JSON.stringify(from.name)} uses datastore ${from.datastore}; give the configuration ` +
        'Go Whereabouts v0.5.4 used with etcd (datastore "etcd" and etcd_host)',
    );
  }
  if (to.datastore === "local") {
    throw new Error(
      `--to: network ${JSON.stringify(to.name)} uses datastore local, one host's store; give the thereabouts ` +
        "configuration of the cluster (kubernetes.kubeconfig, or datastore etcd)",
    );
  }
}

/**
 * v0.5.4 read etcd when `datastore` was not set; our loader then picks the local store (or
 * Kubernetes when a kubeconfig is configured). A configuration that names etcd endpoints and
 * would otherwise be local is therefore read as v0.5.4 read it.
 */
export function asGoV054(config: IpamConfig): IpamConfig {
  return config.datastore === "local" && config.etcd.endpoints.length > 0
    ? { ...config, datastore: "etcd" }
    : config;
}

export async function migrate(options: MigrateOptions): Promise<MigrationResult> {
  const { from, to } = options;
  checkConfigs(from, to);
  options.onReading?.("reading the v0.5.4 allocations from etcd");
  const source = await readGoEtcd(from.etcd);
  const selected = options.onlyConfigured ? configuredRanges(from, source) : source.ranges;
  const poolFor = (range: Cidr): PoolRef | undefined => {
    const rule = to.ranges.find((r) => sameRange(r.range, range));
    if (rule !== undefined) return poolOf(to, rule);
    return options.onlyConfigured ? undefined : unconfiguredPool(range, to.networkName);
  };
  const store = await openStore(to, options.namespace === undefined ? {} : { namespace: options.namespace });
  try {
    options.onReading?.("reading the target pools");
    const pools = new Map<string, PoolSnapshot>();
    for (const range of selected) {
      const pool = poolFor(range.range);
      if (pool !== undefined && !pools.has(pool.name)) pools.set(pool.name, await store.getPool(pool.name));
    }
    const reservations: readonly Reservation[] = to.enableOverlappingRanges
      ? await store.listReservations()
      : [];
    const plan = planMigration({
      ranges: selected,
      locks: source.locks,
      poolFor,
      pools,
      reservations,
      overlapping: to.enableOverlappingRanges,
      networkName: to.networkName,
    });
    const write = !options.dryRun && plan.problems.length === 0;
    const applied = write ? await applyPlan(store, plan, options.onWriting) : undefined;
    return { source, selected, target: targetOf(store), plan, applied };
  } finally {
    await store.close();
  }
}

/** The --from network's ranges as v0.5.4 keyed them; one without a key holds nothing. */
function configuredRanges(from: IpamConfig, source: GoEtcdSnapshot): GoRange[] {
  const out: GoRange[] = [];
  for (const rule of from.ranges) {
    const range = masked(rule.range);
    if (out.some((r) => sameRange(r.range, range))) continue;
    const found = source.ranges.find((r) => formatCidr(r.range) === formatCidr(range));
    out.push(found ?? { range, entries: [], bad: [] });
  }
  return out;
}

function targetOf(store: Store): MigrationResult["target"] {
  return store instanceof KubernetesStore
    ? { datastore: store.datastore, namespace: store.namespace }
    : { datastore: store.datastore };
}
