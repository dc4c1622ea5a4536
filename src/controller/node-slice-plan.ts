// What the leader writes to keep the NodeSlicePools of node-slice networks right (pure): one
// NodeSlicePool per network (network_name, else the CNI network name), sliced as its NADs say,
// every node holding a slice, and the slices of deleted nodes free again — but only once the
// node's slice pool `[<network_name>-]<node>-<slice>` holds no entry, so an address still held by
// a pod of a gone node is never handed to the slice's next node. Go's controller frees them at
// once. Every write is computed from the cached objects and sent with their resourceVersion: a
// node agent claiming a slice meanwhile makes it fail, and the plan is made again. A write that
// stops naming a node's slice (a re-slice, a gone node's slice freed, a NodeSlicePool deleted)
// retires that slice pool; the watch remembers it and the plan deletes the IPPool once it is
// empty, so re-slicing leaves no empty IPPools behind.
import {
  broadcastOf,
  type Cidr,
  formatCidr,
  masked,
  networkOf,
  overlaps,
  parseCidrSloppy,
} from "../ip/index.ts";
import { nodeSlicePoolName } from "../pool/naming.ts";
import {
  assignNodes,
  freeSlices,
  type NodeSlicePool,
  type SliceAssignment,
  type SliceOwner,
  sameAssignments,
  sliceCount,
  slicedAs,
} from "../pool/node-slices.ts";

/** A NetworkAttachmentDefinition of a node-slice network, as its configuration decodes. */
export interface SlicedNetwork {
  readonly nad: { readonly namespace: string; readonly name: string; readonly uid: string };
  /** The NodeSlicePool's name. */
  readonly pool: string;
  /** network_name: the prefix of the slice pools' names. */
  readonly networkName: string;
  readonly range: Cidr;
  readonly size: number;
  /** node_slice_size as written. */
  readonly sizeText: string;
  /**
   * enable_overlapping_ranges. Off, no per-address reservation stands between two pools of the
   * network, so the plan never offers a slice in which another pool holds an address.
   */
  readonly overlapping: boolean;
}

export interface SlicePlanInput {
  /** Where the NodeSlicePools live. */
  readonly namespace: string;
  readonly networks: readonly SlicedNetwork[];
  /**
   * Whether every NAD of ours could be decoded. A NodeSlicePool no decoded NAD names is deleted
   * only then: one that failed to decode (an unreadable flat file) may be the one naming it.
   */
  readonly complete: boolean;
  /** Every node, in the order slices are handed out. */
  readonly nodes: readonly string[];
  readonly stored: ReadonlyMap<string, NodeSlicePool>;
  /** Whether the IPPool of that name holds an entry (true while unknown). */
  readonly occupied: (ippool: string) => boolean;
  /** Slice pools retired by earlier writes (the watch's memory of `retires`), not yet deleted. */
  readonly retired?: ReadonlySet<string>;
  /**
   * The IPPool of that name: its resourceVersion and whether it holds no entry; undefined when it
   * does not exist, "unknown" while the IPPools are not known.
   */
  readonly ippool?: (
    name: string,
  ) => { readonly resourceVersion: string; readonly empty: boolean } | undefined | "unknown";
  /**
   * For networks without overlapping-range reservations: the IPPool of the network (named with its
   * network_name, or any when it has none) holding an address inside `slice`, if one does. Absent:
   * every slice counts as held, so none is offered.
   */
  readonly heldIn?: (network: SlicedNetwork, slice: Cidr) => string | undefined;
  /**
   * For networks without overlapping-range reservations: the assigned slices of the slicing a
   * re-slice replaced, while an ADD that read that slicing may still be writing into them (its
   * deadline has not passed since the re-slice). Free slices overlapping them are not offered.
   */
  readonly replaced?: (nodeSlicePool: string) => readonly Cidr[];
}

export type SliceWrite =
  | { readonly kind: "create"; readonly pool: NodeSlicePool }
  | {
      readonly kind: "update";
      readonly pool: NodeSlicePool;
      readonly why: string;
      /** Slice pools this write stops naming (remember them once it succeeds). */
      readonly retires: readonly string[];
      /**
       * A re-slice of a network without overlapping-range reservations: the assigned slices it
       * replaces, to keep out of the offer (`replaced`) for an ADD's deadline once it succeeds.
       */
      readonly replaces?: readonly Cidr[];
    }
  | {
      readonly kind: "delete";
      readonly name: string;
      readonly resourceVersion: string;
      readonly retires: readonly string[];
    }
  /** An empty slice pool no NodeSlicePool names any more, deleted at the resourceVersion seen. */
  | { readonly kind: "delete-ippool"; readonly name: string; readonly resourceVersion: string };

export interface SliceProblem {
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

export interface SlicePlan {
  readonly writes: SliceWrite[];
  readonly problems: SliceProblem[];
  /** Retired slice pools to stop remembering: gone, or named by a NodeSlicePool again. */
  readonly forget: string[];
}

/** Go's text, which operators search for. */
export const MISMATCH = "found IPAM conf mismatch for network-attachment-definitions with same network name";

const nadRef = (n: SlicedNetwork) => `${n.nad.namespace}/${n.nad.name}`;

function sameSlicing(a: SlicedNetwork, b: SlicedNetwork): boolean {
  return (
    a.range.family === b.range.family &&
    a.range.prefix === b.range.prefix &&
    networkOf(a.range) === networkOf(b.range) &&
    a.size === b.size
  );
}

/** A slice's text as Go's IPNet.String() writes it, whatever spelling was stored. */
function canonical(slice: string): string {
  const c = parseCidrSloppy(slice);
  return c === undefined ? slice : formatCidr(masked(c));
}

/**
 * The owners of the pool: those of the stored ones whose NAD still exists, then the other NADs.
 * Only NADs of the pool's own namespace: Kubernetes takes an owner in another namespace for a
 * missing one, and its garbage collector would delete the pool.
 */
function ownersOf(
  group: readonly SlicedNetwork[],
  stored: readonly SliceOwner[],
  namespace: string,
): SliceOwner[] {
  const local = group.filter((n) => n.nad.namespace === namespace);
  const kept = stored.filter((o) => local.some((n) => n.nad.name === o.name && n.nad.uid === o.uid));
  const added = local
    .filter((n) => !kept.some((o) => o.uid === n.nad.uid))
    .map((n) => ({ name: n.nad.name, uid: n.nad.uid, controller: false }));
  const owners = [...kept, ...added];
  if (owners.length > 0 && !owners.some((o) => o.controller)) owners[0] = { ...owners[0]!, controller: true };
  return owners;
}

function sameOwners(a: readonly SliceOwner[], b: readonly SliceOwner[]): boolean {
  return (
    a.length === b.length &&
    a.every((o, i) => o.name === b[i]!.name && o.uid === b[i]!.uid && o.controller === b[i]!.controller)
  );
}

/** Assignments and the network_name their slice pools are named with (named when needed). */
interface Naming {
  readonly allocations: readonly SliceAssignment[];
  readonly networkName: string;
}

/** The slice pools `before` names and `after` does not. */
function retiredBy(
  before: readonly SliceAssignment[],
  after: readonly SliceAssignment[],
  networkName: string,
): string[] {
  const named = new Set(slicePoolNames(after, networkName));
  return slicePoolNames(before, networkName).filter((name) => !named.has(name));
}

/** The slice pools of the assigned slices, as the plugin names them with `networkName`. */
function slicePoolNames(allocations: readonly SliceAssignment[], networkName: string): string[] {
  const names: string[] = [];
  for (const a of allocations) {
    const c = a.nodeName === "" ? undefined : parseCidrSloppy(a.sliceRange);
    if (c !== undefined) names.push(nodeSlicePoolName(c, a.nodeName, networkName));
  }
  return names;
}

/** Slices of nodes that are gone made free, each once its slice pool is empty. */
function freeGoneNodes(
  allocations: readonly SliceAssignment[],
  nodes: ReadonlySet<string>,
  network: SlicedNetwork,
  occupied: (ippool: string) => boolean,
): { allocations: SliceAssignment[]; waiting: string[] } {
  const waiting: string[] = [];
  const next = allocations.map((a) => {
    if (a.nodeName === "" || nodes.has(a.nodeName)) return a;
    const c = parseCidrSloppy(a.sliceRange);
    const ippool = c === undefined ? undefined : nodeSlicePoolName(c, a.nodeName, network.networkName);
    if (ippool === undefined || occupied(ippool)) {
      waiting.push(ippool ?? a.sliceRange);
      return a;
    }
    return { nodeName: "", sliceRange: a.sliceRange };
  });
  return { allocations: next, waiting };
}

/** The slices of a new slicing; nodes keep a slice that is still one of the new slicing. */
function reslice(stored: readonly SliceAssignment[], network: SlicedNetwork): SliceAssignment[] {
  const held = new Map(
    stored.filter((a) => a.nodeName !== "").map((a) => [canonical(a.sliceRange), a.nodeName]),
  );
  return freeSlices(network.range, network.size).map((s) => ({
    nodeName: held.get(s.sliceRange) ?? "",
    sliceRange: s.sliceRange,
  }));
}

/**
 * The slices to offer: every assigned slice, and the free ones in which no other pool of the network
 * holds an address (a pool of the slicing before a re-slice, the whole-range pool of a network that
 * was not sliced before). A withheld slice is left out of the list, so no node can claim it either;
 * the plan offers it again once the IPPool watch shows those addresses released.
 */
function withholdHeld(
  allocations: readonly SliceAssignment[],
  network: SlicedNetwork,
  input: SlicePlanInput,
  replaced: readonly Cidr[],
): { allocations: SliceAssignment[]; withheld: string[] } {
  const withheld: string[] = [];
  const offered = allocations.filter((a) => {
    if (a.nodeName !== "") return true;
    const slice = parseCidrSloppy(a.sliceRange);
    const holder =
      slice === undefined || input.heldIn === undefined
        ? "(unknown)"
        : (input.heldIn(network, slice) ??
          (replaced.some((r) => overlaps(r, slice))
            ? "the slicing before, for an ADD's deadline"
            : undefined));
    if (holder === undefined) return true;
    withheld.push(`${a.sliceRange} (${holder})`);
    return false;
  });
  return { allocations: offered, withheld };
}

/** The assigned slices of a NodeSlicePool's allocations. */
function assignedSlices(allocations: readonly SliceAssignment[]): Cidr[] {
  return allocations.flatMap((a) => {
    const c = a.nodeName === "" ? undefined : parseCidrSloppy(a.sliceRange);
    return c === undefined ? [] : [c];
  });
}

function planPool(
  input: SlicePlanInput,
  group: readonly SlicedNetwork[],
  writes: SliceWrite[],
  problems: SliceProblem[],
  live: Naming[],
): void {
  const network = group[0]!;
  const nodes = new Set(input.nodes);
  const stored = input.stored.get(network.pool);
  const owners = ownersOf(group, stored?.owners ?? [], input.namespace);
  const spec = { range: formatCidr(masked(network.range)), sliceSize: network.sizeText };
  let allocations: SliceAssignment[];
  let why: string;
  if (stored === undefined) {
    allocations = freeSlices(network.range, network.size);
    why = "created";
  } else if (!slicedAs(stored, network.range, network.size)) {
    allocations = reslice(stored.allocations, network);
    why = "re-sliced";
    problems.push({
      message: "the network's range or node_slice_size changed: its NodeSlicePool is sliced again",
      fields: {
        nodeSlicePool: network.pool,
        from: `${stored.range} by ${stored.sliceSize}`,
        to: `${spec.range} by ${spec.sliceSize}`,
        hint: "addresses pods hold in slices that no longer exist stay theirs until the pods go; new pods allocate from the new slices",
      },
    });
  } else {
    const freed = freeGoneNodes(stored.allocations, nodes, network, input.occupied);
    allocations = freed.allocations;
    why = "nodes";
    if (freed.waiting.length > 0)
      problems.push({
        message: "slices of deleted nodes wait until their pods' addresses are released",
        fields: { nodeSlicePool: network.pool, ippools: freed.waiting },
      });
  }
  const fenced = group.some((n) => !n.overlapping);
  // What a re-slice replaces stays out of the offer while ADDs that read it may still write.
  const replaces =
    fenced && why === "re-sliced" && stored !== undefined ? assignedSlices(stored.allocations) : [];
  if (fenced) {
    const replaced = [...replaces, ...(input.replaced?.(network.pool) ?? [])];
    // Slices withheld before are missing from the list: the whole slicing, to offer them again.
    const whole =
      BigInt(allocations.length) === sliceCount(network.range, network.size)
        ? allocations
        : reslice(allocations, network);
    const offered = withholdHeld(whole, network, input, replaced);
    allocations = offered.allocations;
    if (offered.withheld.length > 0)
      problems.push({
        message:
          "slices withheld from nodes: another pool of the network holds addresses in them, and with enable_overlapping_ranges off nothing else would keep two pods off one address",
        fields: {
          nodeSlicePool: network.pool,
          slices: offered.withheld.slice(0, 20),
          count: offered.withheld.length,
          hint: "each is offered again once those addresses are released (their pods gone); a re-slice or a whole-range configuration of the network left them",
        },
      });
  }
  const assigned = assignNodes(allocations, input.nodes);
  if (assigned.unassigned.length > 0)
    problems.push({
      message: "no free slice left for some nodes: they cannot allocate on this network",
      fields: {
        nodeSlicePool: network.pool,
        nodes: assigned.unassigned.slice(0, 20),
        count: assigned.unassigned.length,
        hint: "use a smaller node_slice_size or a larger range",
      },
    });
  live.push({ allocations: assigned.allocations, networkName: network.networkName });
  if (stored === undefined) {
    writes.push({
      kind: "create",
      pool: { name: network.pool, ...spec, allocations: assigned.allocations, owners, resourceVersion: "" },
    });
    return;
  }
  // Until the write lands, the slice pools the stored object names are live too.
  live.push({ allocations: stored.allocations, networkName: network.networkName });
  const keepSpec = why !== "re-sliced";
  if (
    keepSpec &&
    sameAssignments(stored.allocations, assigned.allocations) &&
    sameOwners(stored.owners, owners)
  )
    return;
  writes.push({
    kind: "update",
    why,
    retires: retiredBy(stored.allocations, assigned.allocations, network.networkName),
    ...(replaces.length > 0 ? { replaces } : {}),
    pool: {
      ...stored,
      ...(keepSpec ? {} : spec),
      allocations: assigned.allocations,
      owners,
    },
  });
}

export function planNodeSlices(input: SlicePlanInput): SlicePlan {
  const writes: SliceWrite[] = [];
  const problems: SliceProblem[] = [];
  const live: Naming[] = [];
  const groups = new Map<string, SlicedNetwork[]>();
  for (const n of input.networks) groups.set(n.pool, [...(groups.get(n.pool) ?? []), n]);
  for (const [name, group] of groups) {
    const odd = group.filter((n) => !sameSlicing(n, group[0]!));
    if (odd.length > 0) {
      problems.push({
        message: MISMATCH,
        fields: {
          nodeSlicePool: name,
          nads: group.map((n) => `${nadRef(n)} (${formatCidr(masked(n.range))} by /${n.size})`),
          hint: "NADs sharing a network_name must configure the same range and node_slice_size; nothing is changed until they agree",
        },
      });
      // Nothing changes until they agree: what the stored object names stays live.
      const stored = input.stored.get(name);
      if (stored !== undefined)
        live.push({ allocations: stored.allocations, networkName: group[0]!.networkName });
      continue;
    }
    planPool(input, group, writes, problems, live);
  }
  for (const [name, pool] of input.stored) {
    if (groups.has(name)) continue;
    // Its name is network_name (slice pools prefixed by it) or the CNI network name (not prefixed).
    live.push(
      { allocations: pool.allocations, networkName: name },
      { allocations: pool.allocations, networkName: "" },
    );
  }
  const forget = sweepRetired(input, live, writes);
  if (!input.complete) return { writes, problems, forget };
  for (const [name, pool] of input.stored) {
    if (groups.has(name)) continue;
    // No network slices by it any more. Deleted once no slice pool of its nodes holds an entry.
    const held = pool.allocations.filter((a) => {
      const c = a.nodeName === "" ? undefined : parseCidrSloppy(a.sliceRange);
      if (c === undefined) return false;
      // Its name is network_name (slice pools prefixed by it) or the CNI network name (not prefixed).
      return (
        input.occupied(nodeSlicePoolName(c, a.nodeName, name)) ||
        input.occupied(nodeSlicePoolName(c, a.nodeName, ""))
      );
    });
    if (held.length > 0) {
      problems.push({
        message:
          "no NAD configures this NodeSlicePool any more: deleted once its nodes' pods release their addresses",
        fields: { nodeSlicePool: name, slices: held.map((a) => `${a.nodeName} ${a.sliceRange}`) },
      });
      continue;
    }
    writes.push({
      kind: "delete",
      name,
      resourceVersion: pool.resourceVersion,
      retires: [...slicePoolNames(pool.allocations, name), ...slicePoolNames(pool.allocations, "")],
    });
  }
  return { writes, problems, forget };
}

/**
 * Retired slice pools: deleted once empty (at the resourceVersion seen, so an entry written
 * meanwhile keeps the pool), forgotten once gone or named again. One still holding addresses
 * waits for its pods; the controller's watch on IPPools plans again when they go.
 */
function sweepRetired(input: SlicePlanInput, naming: readonly Naming[], writes: SliceWrite[]): string[] {
  const forget: string[] = [];
  // Named only when there is something to sweep: every slice of every pool (5,000 nodes × 10
  // networks) is a name to build, and plans run after every IPPool change.
  if (input.retired === undefined || input.retired.size === 0) return forget;
  const live = new Set(naming.flatMap((n) => slicePoolNames(n.allocations, n.networkName)));
  for (const name of input.retired) {
    if (live.has(name)) {
      forget.push(name);
      continue;
    }
    const pool = input.ippool === undefined ? "unknown" : input.ippool(name);
    if (pool === "unknown") continue;
    if (pool === undefined) forget.push(name);
    else if (pool.empty) writes.push({ kind: "delete-ippool", name, resourceVersion: pool.resourceVersion });
  }
  return forget;
}

/**
 * IPPools named and ranged as slice pools of a NodeSlicePool's network (of any slicing of its
 * range, with or without the network_name prefix) that no assigned slice of it names: retired by a
 * leader before this one, whose memory went with it, or left by Go's controller, which never
 * deletes them. The watch remembers them as retired once when it starts leading, so the sweep
 * deletes each once it holds no entry (a slice pool in use always holds one).
 */
export function unnamedSlicePools(
  stored: Iterable<NodeSlicePool>,
  ippools: Iterable<{
    readonly name: string;
    readonly range: string;
    readonly released: ReadonlyMap<string, number>;
  }>,
): string[] {
  const ranges: Cidr[] = [];
  const live = new Set<string>();
  for (const p of stored) {
    const range = parseCidrSloppy(p.range);
    if (range !== undefined) ranges.push(range);
    for (const name of [...slicePoolNames(p.allocations, p.name), ...slicePoolNames(p.allocations, "")])
      live.add(name);
  }
  const found: string[] = [];
  for (const pool of ippools) {
    const range = parseCidrSloppy(pool.range);
    // One keeping release records (a reuse cooldown) is left alone: what it names may be another
    // network's whole-range pool, whose cooldown would go with it.
    if (range === undefined || live.has(pool.name) || pool.released.size > 0) continue;
    const slice = masked(range);
    // `[<network_name>-]<node>-<slice>`: something must be left before the slice's own name.
    const tail = nodeSlicePoolName(slice, "", "");
    if (!pool.name.endsWith(tail) || pool.name.length === tail.length) continue;
    const inside = ranges.some(
      (r) =>
        r.family === slice.family &&
        slice.prefix > r.prefix &&
        networkOf(slice) >= networkOf(r) &&
        broadcastOf(slice) <= broadcastOf(r),
    );
    if (inside) found.push(pool.name);
  }
  return found;
}
