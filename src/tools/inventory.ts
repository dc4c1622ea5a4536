// The operator tools' read model of a store: every pool with its entries decoded exactly as the
// plugin and the controller decode them (allocator/pool-view.ts, offsets relative to the stored
// spec.range), the keys that cannot be decoded, how full each pool is (allocator/usage.ts), and
// every reservation. Reading is here; the records are built by pure functions (poolRecord), so
// the checks and the output are tested without a store.
import { countOf, type IntervalSet, intervalSet } from "../allocator/interval-set.ts";
import { type Entry, viewPool } from "../allocator/pool-view.ts";
import { handedOut, usageOf } from "../allocator/usage.ts";
import type { IpamConfig } from "../config/types.ts";
import { StoreRefusedError } from "../errors/errors.ts";
import { type Cidr, masked, parseCidr } from "../ip/index.ts";
import { type PoolRef, poolOf, sameRange } from "../ipam/pool-ref.ts";
import type { PoolSnapshot, Reservation } from "../pool/allocation.ts";
import { networkNameOf } from "../pool/naming.ts";
import type { Datastore } from "../store/settings.ts";
import { emptyPool } from "../store/store.ts";
import { type PodInfo, readPods } from "./pods.ts";
import type { Target } from "./target.ts";

export interface PoolRecord {
  readonly name: string;
  /** spec.range as stored ("" for a configured pool that does not exist yet). */
  readonly range: string;
  /** The stored range; undefined when it is not a CIDR (then every key is unreadable). */
  readonly cidr: Cidr | undefined;
  /** The network_name the pool's name was made with for its range; undefined when it was not. */
  readonly networkName: string | undefined;
  /** false: a range of the --config network whose pool nothing has written yet. */
  readonly exists: boolean;
  /** Decoded entries, lowest address first. */
  readonly entries: readonly Entry[];
  /** Offset keys that name no address of the stored range (Go ignores them too). */
  readonly unreadableKeys: readonly string[];
  /**
   * Addresses the range hands out: the --config range's window minus exclude and gateway when the
   * pool is one of its ranges, else the stored range without network and broadcast (0 when it
   * has none, or is not a CIDR).
   */
  readonly size: bigint;
  /** Entries (every key, readable or not). */
  readonly used: number;
  /** Addresses counted in `size` that no entry holds. */
  readonly free: bigint;
  /** The --config range this pool serves, when it is one. */
  readonly configured: PoolRef | undefined;
}

export interface Inventory {
  readonly datastore: Datastore;
  /** Sorted by name. */
  readonly pools: readonly PoolRecord[];
  /** Every reservation of the store (not narrowed by network), sorted by name. */
  readonly reservations: readonly Reservation[];
}

const NOTHING: IntervalSet = intervalSet([]);

/** The addresses a range hands out without a configuration: its window (none for a /31, /32...). */
function windowOf(range: Cidr): IntervalSet {
  try {
    return handedOut({ range: masked(range), exclude: NOTHING, excludeText: [] });
  } catch {
    return NOTHING; // a range too small to hand out anything
  }
}

/** A pool's record. Pure. `configured`: the --config range whose pool this is (same name). */
export function poolRecord(snapshot: PoolSnapshot, configured?: PoolRef): PoolRecord {
  const exists = snapshot.version !== undefined;
  const cidr = exists ? parseCidr(snapshot.range) : configured?.range;
  const serves = configured !== undefined && cidr !== undefined && sameRange(cidr, configured.range);
  const usable = serves ? configured.usable : cidr === undefined ? NOTHING : windowOf(cidr);
  const view =
    cidr === undefined ? undefined : viewPool(snapshot, { family: cidr.family, value: cidr.address });
  const usage = usageOf(snapshot, usable);
  return {
    name: snapshot.name,
    range: snapshot.range,
    cidr,
    networkName: cidr === undefined ? undefined : networkNameOf(snapshot.name, cidr),
    exists,
    entries: view === undefined ? [] : [...view.entries].sort(byAddress),
    unreadableKeys: view === undefined ? [...snapshot.allocations.keys()] : view.unreadableKeys,
    size: countOf(usable),
    used: usage.used,
    free: usage.free ?? 0n,
    configured: serves ? configured : undefined,
  };
}

function byAddress(a: Entry, b: Entry): number {
  return a.address.value < b.address.value ? -1 : a.address.value > b.address.value ? 1 : 0;
}

/**
 * Whether a pool belongs to the network `network`: its name was made with that network_name for
 * its range, or `network` names the --config network (its `name` or network_name) and the pool
 * serves one of its ranges.
 */
export function inNetwork(pool: PoolRecord, network: string, config?: IpamConfig): boolean {
  if (pool.networkName === network) return true;
  return (
    pool.configured !== undefined &&
    config !== undefined &&
    (config.name === network || config.networkName === network)
  );
}

/** The --config network's pools by name (none without --config). */
export function configuredPools(config: IpamConfig | undefined): ReadonlyMap<string, PoolRef> {
  const configured = new Map<string, PoolRef>();
  if (config !== undefined)
    for (const rule of config.ranges) {
      const ref = poolOf(config, rule);
      configured.set(ref.name, ref);
    }
  return configured;
}

/**
 * Reads the store of `target`: every pool (with `network`, only that network's), plus the --config
 * network's pools that do not exist yet, and every reservation.
 */
export async function readInventory(
  target: Target,
  options: { readonly network?: string | undefined } = {},
): Promise<Inventory> {
  const [snapshots, reservations] = await Promise.all([
    target.store.listPools(),
    target.store.listReservations(),
  ]);
  const config = target.networkConfig;
  const configured = configuredPools(config);
  const records = new Map<string, PoolRecord>();
  for (const snapshot of snapshots)
    records.set(snapshot.name, poolRecord(snapshot, configured.get(snapshot.name)));
  for (const [name, ref] of configured)
    if (!records.has(name)) records.set(name, poolRecord(emptyPool(name), ref));
  const pools = [...records.values()]
    .filter((p) => options.network === undefined || inNetwork(p, options.network, config))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    datastore: target.store.datastore,
    pools,
    reservations: [...reservations].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}

/**
 * One pool by name (one read, not a listing); undefined when the store has no such pool and it is
 * not one of the --config network's, or `network` is given and it is not that network's.
 */
export async function readPool(
  target: Target,
  name: string,
  options: { readonly network?: string | undefined } = {},
): Promise<PoolRecord | undefined> {
  const configured = configuredPools(target.networkConfig).get(name);
  const snapshot = await target.store.getPool(name);
  if (snapshot.version === undefined && configured === undefined) return undefined;
  const record = poolRecord(snapshot, configured);
  if (options.network !== undefined && !inNetwork(record, options.network, target.networkConfig))
    return undefined;
  return record;
}

/** Budget for reading the pods of one tool command. */
const PODS_MS = 30_000;

/**
 * The pods the podrefs name, by ref (Kubernetes only: undefined for the other datastores, which
 * know nothing of pods). A ref missing from the map names a pod that does not exist.
 */
export async function podsOf(
  target: Target,
  refs: Iterable<string>,
): Promise<ReadonlyMap<string, PodInfo> | undefined> {
  if (target.kube === undefined) return undefined;
  return readPods(target.kube, refs, Date.now() + PODS_MS);
}

/**
 * podsOf for output that can do without pods: when the kubeconfig's user may not read them
 * (403), `pods` is undefined and `refused` says so, instead of failing the command. Commands that
 * judge pods (check) use podsOf, which throws.
 */
export async function podsIfAllowed(
  target: Target,
  refs: Iterable<string>,
): Promise<{ readonly pods: ReadonlyMap<string, PodInfo> | undefined; readonly refused?: string }> {
  try {
    return { pods: await podsOf(target, refs) };
  } catch (error) {
    if (!(error instanceof StoreRefusedError) || error.facts.status !== 403) throw error;
    return { pods: undefined, refused: "not allowed to read pods (HTTP 403): node and age are not shown" };
  }
}
