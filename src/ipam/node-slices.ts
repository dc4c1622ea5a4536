// Node slices (Go v0.9's Fast IPAM, docs/node-slices.md): a sliced network's range is cut into
// slices listed in its NodeSlicePool, each assigned to a node; a node allocates only from its own
// slices, in pools `[<network_name>-]<node>-<slice>` whose offsets count from the slice's network
// address, so nodes never write the same pool. Reservations stay per network_name, so a network
// configured whole on some nodes and sliced on others never hands out one address twice.
//
// Better than Go: a node without a slice claims the first free one itself (a tested write on the
// NodeSlicePool) instead of failing until the controller assigns one; a node whose slices are full
// claims a further one (another element naming the node, so Go readers still see one owner per
// slice); the NodeSlicePool itself missing is waited for, bounded, then a clear code 11.
import type { Claimant } from "../allocator/assign.ts";
import { podInterfaceKey, viewPool } from "../allocator/pool-view.ts";
import { handsOutAny, sliceRule } from "../allocator/slice-rule.ts";
import { handedOut } from "../allocator/usage.ts";
import type { IpamConfig, IpRange } from "../config/types.ts";
import { ConfigError, ExhaustedError, StoreUnavailableError } from "../errors/errors.ts";
import {
  type Cidr,
  contains,
  formatCidr,
  formatIP,
  masked,
  overlaps,
  parseCidr,
  parseCidrSloppy,
} from "../ip/index.ts";
import type { Logger } from "../log/logger.ts";
import { nodeSlicePoolName } from "../pool/naming.ts";
import { type NodeSlicePool, nodeSlicePoolNameFor, slicedAs } from "../pool/node-slices.ts";
import type { NodeSliceStore, Store } from "../store/store.ts";
import { allocateInPool, type Held, type PoolTarget } from "./allocate-range.ts";
import { type RetryObserver, unobserved } from "./observer.ts";
import { type PoolRef, poolOf, storedRange } from "./pool-ref.ts";
import { type Deadline, expired, remainingMs } from "./retry.ts";

/** How long an ADD waits for the controller to create (or re-slice) the network's NodeSlicePool. */
export const NODE_SLICE_POOL_WAIT_MS = 10_000;
/** How often it looks meanwhile. */
export const NODE_SLICE_POOL_POLL_MS = 500;

/** One slice of the NodeSlicePool: where it is in status.allocations, and what it hands out here. */
interface Slice {
  readonly index: number;
  readonly sliceRange: string;
  readonly cidr: Cidr;
  /** Undefined when the configured window leaves nothing of the slice. */
  readonly rule: IpRange | undefined;
}

function sliceStore(store: Store): NodeSliceStore {
  if (store.nodeSlices !== undefined) return store.nodeSlices;
  throw new ConfigError(
    `node_slice_size needs datastore kubernetes; datastore ${store.datastore} keeps no NodeSlicePools`,
  );
}

/** The network's NodeSlicePool name: network_name, else the network's name. */
export function nodeSlicePoolOf(config: IpamConfig): string {
  return nodeSlicePoolNameFor(config.networkName, config.name);
}

/** Every slice of `pool` inside the configured range (elements that are not are never used), in order. */
function slicesOf(pool: NodeSlicePool, rule: IpRange): Slice[] {
  return pool.allocations.flatMap((element, index) => {
    const slice = sliceAt(element.sliceRange, index, rule);
    return slice === undefined ? [] : [slice];
  });
}

/**
 * Where each node's elements are, per NodeSlicePool value: the node agent answers every call with
 * the same decoded pool until it changes, so the thousands of elements are walked once per change,
 * not once per call.
 */
const byNode = new WeakMap<NodeSlicePool, ReadonlyMap<string, readonly number[]>>();

/** The slices inside the configured range of the elements naming `node` ("": the free ones), in order. */
function nodeSlicesOf(pool: NodeSlicePool, rule: IpRange, node: string): Slice[] {
  return elementsOf(pool, node).flatMap((at) => {
    const slice = sliceAt(pool.allocations[at]!.sliceRange, at, rule);
    return slice === undefined ? [] : [slice];
  });
}

/** The indices of the elements naming `node`, in order; only the node's few are parsed after this. */
function elementsOf(pool: NodeSlicePool, node: string): readonly number[] {
  let index = byNode.get(pool);
  if (index === undefined) {
    const built = new Map<string, number[]>();
    pool.allocations.forEach(({ nodeName }, at) => {
      const list = built.get(nodeName);
      if (list === undefined) built.set(nodeName, [at]);
      else list.push(at);
    });
    index = built;
    byNode.set(pool, index);
  }
  return index.get(node) ?? [];
}

/** One element's slice, or undefined when it is not a slice of the configured range. */
function sliceAt(sliceRange: string, index: number, rule: IpRange): Slice | undefined {
  const cidr = parseCidr(sliceRange);
  if (
    cidr === undefined ||
    cidr.family !== rule.range.family ||
    !contains(rule.range, { family: cidr.family, value: cidr.address })
  )
    return undefined;
  return { index, sliceRange, cidr: masked(cidr), rule: sliceRule(rule, masked(cidr)) };
}

/** The first free slice that hands out an address here (free elements read in order, stopping there). */
function firstFreeSlice(
  pool: NodeSlicePool,
  rule: IpRange,
  gateway: IpamConfig["gateway"],
): Slice | undefined {
  for (const index of elementsOf(pool, "")) {
    const slice = sliceAt(pool.allocations[index]!.sliceRange, index, rule);
    if (slice !== undefined && handsOutAny(slice.rule, gateway)) return slice;
  }
  return undefined;
}

/** The pool of one of the node's slices. */
function slicePool(config: IpamConfig, slice: Slice, node: string): PoolRef {
  return {
    name: nodeSlicePoolName(slice.cidr, node, config.networkName),
    range: slice.cidr,
    networkName: config.networkName,
    usable: slice.rule === undefined ? { intervals: [] } : handedOut(slice.rule, config.gateway),
  };
}

/** Allocation in a slice: its own rule, the configured range's prefix length reported. */
function targetOf(
  config: IpamConfig,
  own: IpRange,
  configured: IpRange,
  slice: Slice,
  node: string,
): PoolTarget {
  return { pool: slicePool(config, slice, node), rule: own, prefix: configured.range.prefix };
}

/**
 * The NodeSlicePool once it exists and slices what this network configures, polled until
 * NODE_SLICE_POOL_WAIT_MS (or the call's deadline); then code 11 naming it and the controller.
 */
async function awaitNodeSlicePool(
  slices: NodeSliceStore,
  config: IpamConfig,
  rule: IpRange,
  deadline: Deadline,
): Promise<NodeSlicePool> {
  const name = nodeSlicePoolOf(config);
  const clock = deadline.clock;
  const until = Math.min(clock.now() + NODE_SLICE_POOL_WAIT_MS, deadline.at);
  for (;;) {
    const pool = await slices.getNodeSlicePool(name, { deadline });
    if (pool !== undefined && slicedAs(pool, rule.range, config.nodeSlices?.prefix ?? -1)) return pool;
    const left = until - clock.now();
    if (left <= 0) {
      const what =
        pool === undefined
          ? `NodeSlicePool ${name} does not exist`
          : `NodeSlicePool ${name} slices ${pool.range} by ${pool.sliceSize}, not ${formatCidr(rule.range)} by /${config.nodeSlices?.prefix}`;
      throw new StoreUnavailableError(
        `${what} after ${Math.round(NODE_SLICE_POOL_WAIT_MS / 1000)} s: thereabouts controller (or Go's node-slice controller) creates and re-slices it from the network's NetworkAttachmentDefinitions; is it running, and do the NADs of network ${name} agree?`,
      );
    }
    await clock.sleep(Math.min(NODE_SLICE_POOL_POLL_MS, left));
  }
}

/**
 * The pools of the node's slices of a configured range, for DEL and CHECK: no waiting (nothing
 * can be held where no NodeSlicePool is), every slice the node holds.
 */
export async function nodeSlicePools(
  store: Store,
  config: IpamConfig,
  rule: IpRange,
  node: string,
  deadline: Deadline,
): Promise<PoolRef[]> {
  const pool = await sliceStore(store).getNodeSlicePool(nodeSlicePoolOf(config), { deadline });
  if (pool === undefined) return [];
  return nodeSlicesOf(pool, rule, node).map((s) => slicePool(config, s, node));
}

/**
 * The pools where an attachment's entry for a configured range can be: the whole-range pool, or
 * on a node-slice network the pools of every slice the node holds (it may have grown). Needs the
 * node's name exactly when the network is sliced.
 */
export async function rangePools(
  store: Store,
  config: IpamConfig,
  rule: IpRange,
  node: string | undefined,
  deadline: Deadline,
): Promise<PoolRef[]> {
  if (config.nodeSlices === undefined) return [poolOf(config, rule)];
  return nodeSlicePools(store, config, rule, nodeOf(node), deadline);
}

/** The node's name, which the CNI edge finds for every call of a node-slice network. */
export function nodeOf(node: string | undefined): string {
  if (node === undefined) throw new Error("node-slice network: the caller gave no node name");
  return node;
}

/**
 * ADD in a sliced range: the slice holding the attachment's entry (a repeated ADD), else the one
 * holding the requested address, else the node's slices in order; when every one is full, or the
 * node has none, claim the first free slice and go on there. No free slice left: code 100 naming
 * the NodeSlicePool.
 */
export async function allocateInSlices(
  store: Store,
  config: IpamConfig,
  rule: IpRange,
  claimant: Claimant,
  node: string,
  deadline: Deadline,
  log: Logger,
  observer: RetryObserver = unobserved,
): Promise<Held> {
  const slices = sliceStore(store);
  const name = nodeSlicePoolOf(config);
  for (let round = 0; ; round++) {
    if (round > 0 && expired(deadline))
      throw new StoreUnavailableError(
        `gave up claiming a slice of NodeSlicePool ${name} for node ${node} after ${round} attempts`,
      );
    const pool = await awaitNodeSlicePool(slices, config, rule, deadline);
    const mine = nodeSlicesOf(pool, rule, node);
    // A slice the configured window leaves nothing of hands out nothing here.
    const targets = mine.flatMap((s) =>
      s.rule === undefined ? [] : [targetOf(config, s.rule, rule, s, node)],
    );
    const held = await heldIn(store, targets, claimant, deadline);
    if (held !== undefined) return allocateInPool(store, config, held, claimant, deadline, log, observer);
    const wanted = claimant.requested;
    if (wanted !== undefined) {
      const at = targets.find((t) => contains(t.pool.range, wanted));
      if (at !== undefined) return allocateInPool(store, config, at, claimant, deadline, log, observer);
      const owner = slicesOf(pool, rule).find((s) => contains(s.cidr, wanted));
      const holder = owner === undefined ? undefined : pool.allocations[owner.index]?.nodeName;
      throw new ConfigError(
        `requested address ${formatIP(wanted)} is not in a slice of node ${node} in NodeSlicePool ${name}` +
          (owner === undefined
            ? ""
            : `: its slice ${owner.sliceRange} is ${holder === "" ? "free" : `node ${holder}'s`}`),
        "on a node-slice network a pod can request only addresses of its node's slices",
      );
    }
    for (const target of targets) {
      try {
        return await allocateInPool(store, config, target, claimant, deadline, log, observer);
      } catch (error) {
        if (!(error instanceof ExhaustedError)) throw error;
      }
    }
    const free = firstFreeSlice(pool, rule, config.gateway);
    if (free === undefined)
      throw new ExhaustedError(
        `Could not allocate IP in range: ${formatCidr(rule.range)}: node ${node} has ${mine.length === 0 ? "no slice" : `no free address in its slices (${mine.map((s) => s.sliceRange).join(", ")})`} and no slice of NodeSlicePool ${name} is free`,
      );
    const claimed = await slices.claimNodeSlice(name, free.index, free.sliceRange, node, { deadline });
    log.verbose(
      claimed
        ? `node ${node} claimed slice ${free.sliceRange} of NodeSlicePool ${name}`
        : `slice ${free.sliceRange} of NodeSlicePool ${name} was taken meanwhile; reading it again`,
    );
    if (!claimed && remainingMs(deadline) <= 0)
      throw new StoreUnavailableError(
        `could not claim a slice of NodeSlicePool ${name} for node ${node} in time`,
      );
  }
}

/**
 * The slice whose pool holds the attachment's entry, when the node has several (with one,
 * allocateInPool finds it itself, as in a whole range). Read from the store: only its own
 * answer proves an absence.
 */
async function heldIn(
  store: Store,
  targets: readonly PoolTarget[],
  claimant: Claimant,
  deadline: Deadline,
): Promise<PoolTarget | undefined> {
  if (targets.length < 2) return undefined;
  const key = podInterfaceKey(claimant.podRef, claimant.ifName);
  for (const target of targets) {
    const snapshot = await store.getPool(target.pool.name, { deadline });
    const stored = storedRange(snapshot, target.pool);
    if (stored === undefined) continue;
    const view = viewPool(snapshot, { family: stored.family, value: stored.address });
    if (view.byPodInterface.has(key)) return target;
  }
  return undefined;
}

/**
 * A whole-range ADD without overlapping-range reservations, on a network its NodeSlicePool slices
 * elsewhere: refused before anything is written. Nothing else would keep the whole-range pool and
 * the slice pools from handing out one address twice (with the reservations on, they do). A store
 * without NodeSlicePools has nothing to look at; through a node agent the answer is its watch's.
 */
export async function refuseWholeOnSliced(
  store: Store,
  config: IpamConfig,
  deadline: Deadline,
): Promise<void> {
  if (config.nodeSlices !== undefined || config.enableOverlappingRanges || store.nodeSlices === undefined)
    return;
  const name = nodeSlicePoolOf(config);
  const pool = await store.nodeSlices.getNodeSlicePool(name, { deadline });
  const sliced = pool === undefined ? undefined : parseCidrSloppy(pool.range);
  if (pool === undefined || sliced === undefined) return;
  const rule = config.ranges.find((r) => overlaps(sliced, r.range));
  if (rule === undefined) return;
  throw new ConfigError(
    `network ${name} is sliced (NodeSlicePool ${name}: ${pool.range} by ${pool.sliceSize}), but this configuration allocates from the whole range ${formatCidr(masked(rule.range))} with enable_overlapping_ranges off, so nothing would keep the two from handing out one address twice: configure node_slice_size ${pool.sliceSize} as the other nodes do, or turn enable_overlapping_ranges on`,
  );
}
