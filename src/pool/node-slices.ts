// Node slices (Fast IPAM), the pure part: dividing a range into slices of one prefix length, the
// NodeSlicePool object exactly as Go Whereabouts v0.9 writes it, and the assignment rules the
// controller and the plugin share. A NodeSlicePool `<network_name | CNI network name>` holds
// `spec {range, sliceSize}` and `status.allocations`, one `{nodeName, sliceRange}` per slice in
// range order, nodeName "" while free. Go's readers take the first element naming their node, so
// a node that grew into a further slice is simply named by a later element too.
import { bitsOf, type Cidr, formatCidr, masked, networkOf, parseCidrSloppy, sizeOf } from "../ip/index.ts";

/**
 * The most slices one NodeSlicePool may list. Every slice is one status element (~60 bytes with a
 * node name), and the object must fit the API server's and etcd's 1.5 MB limit; Go would create
 * 2^(size - prefix) elements and fail (or exhaust memory for IPv6) instead.
 */
export const MAX_SLICES = 8192;

/** `"/N"` or `"N"` as a prefix length, or undefined when it is neither. */
export function parseSliceSize(text: string): number | undefined {
  const match = /^\/?([0-9]{1,3})$/.exec(text);
  return match === null ? undefined : Number(match[1]);
}

/**
 * Why `range` cannot be divided into slices of prefix length `size` (a sentence saying what to
 * fix), or undefined when it can.
 */
export function sliceProblem(range: Cidr, size: number): string | undefined {
  const bits = bitsOf(range.family);
  if (!(size >= 1 && size <= bits)) {
    return `a slice of /${size} does not exist in IPv${range.family}: use a prefix length between /${range.prefix} and /${bits}`;
  }
  if (size < range.prefix) {
    return `a slice of /${size} is larger than the range ${formatCidr(masked(range))}: use a prefix length of at least /${range.prefix}`;
  }
  if (sliceCount(range, size) > BigInt(MAX_SLICES)) {
    return `slices of /${size} divide ${formatCidr(masked(range))} into ${sliceCount(range, size)} slices, more than one NodeSlicePool can list (${MAX_SLICES}): use a prefix length of at most /${range.prefix + Math.log2(MAX_SLICES)}`;
  }
  return undefined;
}

/** How many slices of prefix length `size` the range holds (`size` ≥ the range's prefix). */
export function sliceCount(range: Cidr, size: number): bigint {
  return 1n << BigInt(size - range.prefix);
}

/**
 * The slices of `range` in address order, from its network address (host bits of the range as
 * written are ignored). The caller has checked `sliceProblem`.
 */
export function divideRange(range: Cidr, size: number): Cidr[] {
  const first = networkOf(range);
  const step = sizeOf({ family: range.family, address: 0n, prefix: size });
  const count = Number(sliceCount(range, size));
  const slices: Cidr[] = [];
  for (let i = 0; i < count; i++) {
    slices.push({ family: range.family, address: first + step * BigInt(i), prefix: size });
  }
  return slices;
}

/** The NodeSlicePool a network's slices are listed in: network_name, else the CNI network name. */
export function nodeSlicePoolNameFor(networkName: string, cniName: string): string {
  return networkName === "" ? cniName : networkName;
}

// --- The NodeSlicePool object ---------------------------------------------------------------

export const NODE_SLICE_POOLS = "nodeslicepools";
export const NODE_SLICE_POOL_KIND = "NodeSlicePool";
export const NAD_API_VERSION = "k8s.cni.cncf.io/v1";
export const NAD_KIND = "NetworkAttachmentDefinition";

/** One slice and the node it is assigned to ("" while free). */
export interface SliceAssignment {
  readonly nodeName: string;
  readonly sliceRange: string;
}

/** A NetworkAttachmentDefinition owning a NodeSlicePool (only the first one is its controller). */
export interface SliceOwner {
  readonly name: string;
  readonly uid: string;
  readonly controller: boolean;
}

export interface NodeSlicePool {
  readonly name: string;
  /** spec.range as written. */
  readonly range: string;
  /** spec.sliceSize as written ("/26" or "26", as in the network configuration). */
  readonly sliceSize: string;
  readonly allocations: readonly SliceAssignment[];
  readonly owners: readonly SliceOwner[];
  /** metadata.resourceVersion when read ("" for a pool not stored yet). */
  readonly resourceVersion: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** A NodeSlicePool as stored (by Go or by us); missing fields read as empty. */
export function decodeNodeSlicePool(obj: unknown): NodeSlicePool {
  const o = isObject(obj) ? obj : {};
  const meta = isObject(o["metadata"]) ? o["metadata"] : {};
  const spec = isObject(o["spec"]) ? o["spec"] : {};
  const status = isObject(o["status"]) ? o["status"] : {};
  const allocations = Array.isArray(status["allocations"]) ? status["allocations"] : [];
  const refs = Array.isArray(meta["ownerReferences"]) ? meta["ownerReferences"] : [];
  return {
    name: str(meta["name"]),
    range: str(spec["range"]),
    sliceSize: str(spec["sliceSize"]),
    allocations: allocations.map((a) => {
      const e = isObject(a) ? a : {};
      return { nodeName: str(e["nodeName"]), sliceRange: str(e["sliceRange"]) };
    }),
    owners: refs.filter(isObject).map((r) => ({
      name: str(r["name"]),
      uid: str(r["uid"]),
      controller: r["controller"] === true,
    })),
    resourceVersion: str(meta["resourceVersion"]),
  };
}

function ownerReference(owner: SliceOwner): JsonObject {
  const ref: JsonObject = { apiVersion: NAD_API_VERSION, kind: NAD_KIND, name: owner.name, uid: owner.uid };
  // Go's NewControllerRef: the controlling NAD also blocks the pool's deletion by the garbage collector.
  return owner.controller ? { ...ref, controller: true, blockOwnerDeletion: true } : ref;
}

/** The object Go's controller writes (with resourceVersion when updating a stored pool). */
export function encodeNodeSlicePool(pool: NodeSlicePool, apiVersion: string): JsonObject {
  return {
    apiVersion,
    kind: NODE_SLICE_POOL_KIND,
    metadata: {
      name: pool.name,
      ...(pool.resourceVersion === "" ? {} : { resourceVersion: pool.resourceVersion }),
      ownerReferences: pool.owners.map(ownerReference),
    },
    spec: { range: pool.range, sliceSize: pool.sliceSize },
    status: {
      allocations: pool.allocations.map((a) => ({ nodeName: a.nodeName, sliceRange: a.sliceRange })),
    },
  };
}

// --- Assignment rules -----------------------------------------------------------------------

/**
 * Whether a stored pool is sliced as `range` by `size`: compared as prefixes, not as text, so
 * `"/26"` and `"26"` (or `10.0.0.0/8` written two ways) do not re-slice a cluster.
 */
export function slicedAs(pool: NodeSlicePool, range: Cidr, size: number): boolean {
  const stored = parseCidrSloppy(pool.range);
  return (
    stored !== undefined &&
    stored.family === range.family &&
    stored.prefix === range.prefix &&
    networkOf(stored) === networkOf(range) &&
    parseSliceSize(pool.sliceSize) === size
  );
}

/** Every slice of `range` by `size`, all free. */
export function freeSlices(range: Cidr, size: number): SliceAssignment[] {
  return divideRange(range, size).map((s) => ({ nodeName: "", sliceRange: formatCidr(s) }));
}

/** The slices assigned to a node, in the order listed (its first is the one Go's plugin uses). */
export function slicesOf(allocations: readonly SliceAssignment[], nodeName: string): string[] {
  return allocations.filter((a) => a.nodeName === nodeName).map((a) => a.sliceRange);
}

/** Index of the first free slice, or -1. */
export function firstFreeSlice(allocations: readonly SliceAssignment[]): number {
  return allocations.findIndex((a) => a.nodeName === "");
}

/**
 * Each node holding no slice gets the first free one, in the order given (Go's rule); nodes left
 * over when no slice is free stay without (the caller reports them).
 */
export function assignNodes(
  allocations: readonly SliceAssignment[],
  nodeNames: readonly string[],
): { allocations: SliceAssignment[]; unassigned: string[] } {
  const next = allocations.map((a) => ({ ...a }));
  const holding = new Set(next.map((a) => a.nodeName));
  const unassigned: string[] = [];
  let free = 0;
  for (const node of nodeNames) {
    if (holding.has(node)) continue;
    while (free < next.length && next[free]!.nodeName !== "") free++;
    if (free === next.length) {
      unassigned.push(node);
      continue;
    }
    next[free] = { nodeName: node, sliceRange: next[free]!.sliceRange };
    holding.add(node);
  }
  return { allocations: next, unassigned };
}

/** The same slices with those of the given nodes made free. */
export function freeNodes(
  allocations: readonly SliceAssignment[],
  nodeNames: ReadonlySet<string>,
): SliceAssignment[] {
  return allocations.map((a) =>
    nodeNames.has(a.nodeName) ? { nodeName: "", sliceRange: a.sliceRange } : { ...a },
  );
}

/** Whether two lists assign the same slices to the same nodes. */
export function sameAssignments(a: readonly SliceAssignment[], b: readonly SliceAssignment[]): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) => x.nodeName === b[i]!.nodeName && x.sliceRange === b[i]!.sliceRange)
  );
}
