// The custom resources exactly as Go Whereabouts writes them (offset keys, names and CRD fields as
// in docs/kubernetes-store.md, Objects): IPPool `spec = {range, allocations: {<offset key>: {id, podref, ifname?}}}` and
// OverlappingRangeIPReservation `spec = {podref, ifname?, containerid}`; plus one label of ours on
// reservations (the owner hash, so DEL can drop its reservation with one owner-checked request)
// and two annotations (the reservation's claim: address and network_name; in metadata because
// Go's CRD schema prunes unknown spec fields).
// Keys and entries are read verbatim (legacy keys, entries without ifname or podref); the pure
// core decodes keys. Also the JSON patch of a commit: per-entry `test`s, then the writes. Pools
// we write carry `status: {used, free}` (how full the pool is, for `kubectl get ippools`): a field
// our CRD adds and Go's CRD prunes; Go never writes it and ignores it. Sticky addresses add entry
// fields `owner` and `parkedat` and the pool's `spec.released` (offset key → RFC 3339 time of the
// address's last release): fields Go's decoder ignores and Go's patches (one /spec/allocations/<key>
// each) never touch; only an entry Go itself rewrites loses them.
import { createHash } from "node:crypto";
import type { PoolUsage } from "../../allocator/usage.ts";
import type { Allocation, PoolSnapshot, Reservation } from "../../pool/allocation.ts";
import { type PoolChange, sameAllocation } from "../store.ts";
import { parseStoredTime, storedTime } from "../stored-time.ts";

export const GROUP = "whereabouts.cni.cncf.io";
export const API_VERSION = `${GROUP}/v1alpha1`;
export const IPPOOLS = "ippools";
export const RESERVATIONS = "overlappingrangeipreservations";
/** Label on the reservations thereabouts writes: hex SHA-1 of `<podRef>/<ifName>/<containerId>`. */
export const OWNER_LABEL = "thereabouts.cni.cncf.io/owner";
/** Annotations on the reservations thereabouts writes: their claim (see ReservationClaim). */
export const CLAIM_ADDRESS = "thereabouts.cni.cncf.io/address";
export const CLAIM_NETWORK = "thereabouts.cni.cncf.io/network-name";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export interface ObjectMeta {
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  readonly labels: Readonly<Record<string, string>>;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

export function metaOf(obj: unknown): ObjectMeta {
  const meta = isObject(obj) && isObject(obj["metadata"]) ? obj["metadata"] : {};
  const labels = isObject(meta["labels"]) ? meta["labels"] : {};
  return {
    name: str(meta["name"]),
    uid: str(meta["uid"]),
    resourceVersion: str(meta["resourceVersion"]),
    labels: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, str(v)])),
  };
}

function specOf(obj: unknown): JsonObject {
  return isObject(obj) && isObject(obj["spec"]) ? obj["spec"] : {};
}

/** An IPPool entry as Go writes it (`ifname` left out when empty, `omitempty`), then our sticky fields when set. */
export function encodeEntry(a: Allocation): JsonObject {
  return {
    id: a.containerId,
    podref: a.podRef,
    ...(a.ifName === "" ? {} : { ifname: a.ifName }),
    ...(a.owner === undefined ? {} : { owner: a.owner }),
    ...(a.parkedAt === undefined ? {} : { parkedat: storedTime(a.parkedAt) }),
  };
}

/**
 * An entry as stored. A `parkedat` that is not a time (edited by hand) reads as parked at the
 * epoch: the address stays held, as parked, rather than being handed to someone else.
 */
export function decodeEntry(value: unknown): Allocation {
  const entry = isObject(value) ? value : {};
  const allocation = {
    containerId: str(entry["id"]),
    podRef: str(entry["podref"]),
    ifName: str(entry["ifname"]),
  };
  const owner = entry["owner"];
  const parkedat = entry["parkedat"];
  return {
    ...allocation,
    ...(typeof owner === "string" ? { owner } : {}),
    ...(parkedat === undefined || parkedat === null ? {} : { parkedAt: parseStoredTime(parkedat) ?? 0 }),
  };
}

/** spec.released as stored; records that are not times are left out (a hand edit): no cooldown for them. */
function decodeReleased(spec: JsonObject): Map<string, number> {
  const released = new Map<string, number>();
  const stored = isObject(spec["released"]) ? spec["released"] : {};
  for (const [key, value] of Object.entries(stored)) {
    const at = parseStoredTime(value);
    if (at !== undefined) released.set(key, at);
  }
  return released;
}

export interface DecodedPool {
  readonly snapshot: PoolSnapshot;
  /** Entries as stored, for `test` operations when a stored encoding differs from ours. */
  readonly raw: ReadonlyMap<string, Json>;
  /** `status` as stored (our last write's figures), when it is one we could have written. */
  readonly usage: PoolUsage | undefined;
  /** Whether spec.released exists (an object): release records are added into it, else it is added whole. */
  readonly hasReleased: boolean;
}

/** The IPPool `status` for a usage: `free` as a decimal string (an IPv6 count exceeds any integer). */
export function poolStatus(usage: PoolUsage): JsonObject {
  return usage.free === undefined ? { used: usage.used } : { used: usage.used, free: String(usage.free) };
}

function decodeUsage(obj: unknown): PoolUsage | undefined {
  const status = isObject(obj) && isObject(obj["status"]) ? obj["status"] : undefined;
  const used = status?.["used"];
  if (typeof used !== "number" || !Number.isSafeInteger(used) || used < 0) return undefined;
  const free = status?.["free"];
  return { used, free: typeof free === "string" && /^[0-9]+$/.test(free) ? BigInt(free) : undefined };
}

export function decodePool(obj: unknown): DecodedPool {
  const meta = metaOf(obj);
  const spec = specOf(obj);
  const allocations = new Map<string, Allocation>();
  const raw = new Map<string, Json>();
  const stored = isObject(spec["allocations"]) ? spec["allocations"] : {};
  for (const [key, value] of Object.entries(stored)) {
    allocations.set(key, decodeEntry(value));
    raw.set(key, value);
  }
  return {
    snapshot: {
      name: meta.name,
      range: str(spec["range"]),
      allocations,
      released: decodeReleased(spec),
      version: meta.resourceVersion || "0",
    },
    raw,
    usage: decodeUsage(obj),
    hasReleased: isObject(spec["released"]),
  };
}

export function poolObject(
  name: string,
  range: string,
  entries: readonly (readonly [string, Allocation])[],
  usage?: PoolUsage,
  released: readonly (readonly [string, number])[] = [],
): JsonObject {
  const spec: JsonObject = {
    range,
    allocations: Object.fromEntries(entries.map(([key, a]) => [key, encodeEntry(a)])),
  };
  if (released.length > 0) spec["released"] = releasedObject(released);
  return {
    apiVersion: API_VERSION,
    kind: "IPPool",
    metadata: { name },
    spec,
    ...(usage === undefined ? {} : { status: poolStatus(usage) }),
  };
}

function releasedObject(records: readonly (readonly [string, number])[]): JsonObject {
  return Object.fromEntries(records.map(([key, at]) => [key, storedTime(at)]));
}

export function decodeReservation(obj: unknown): Reservation {
  const spec = specOf(obj);
  const reservation = {
    name: metaOf(obj).name,
    podRef: str(spec["podref"]),
    ifName: str(spec["ifname"]),
    containerId: str(spec["containerid"]),
  };
  const meta = isObject(obj) && isObject(obj["metadata"]) ? obj["metadata"] : {};
  const notes = isObject(meta["annotations"]) ? meta["annotations"] : {};
  const address = notes[CLAIM_ADDRESS];
  const networkName = notes[CLAIM_NETWORK];
  // Both or nothing: half a claim (edited by hand) claims nothing, as on Go's reservations.
  if (typeof address !== "string" || typeof networkName !== "string") return reservation;
  return { ...reservation, claim: { address, networkName } };
}

/** The reservation's spec; empty fields left out, as Go's `omitempty` does. */
export function reservationSpec(r: Reservation): JsonObject {
  return {
    podref: r.podRef,
    ...(r.ifName === "" ? {} : { ifname: r.ifName }),
    ...(r.containerId === "" ? {} : { containerid: r.containerId }),
  };
}

export function reservationObject(r: Reservation, owner: string): JsonObject {
  const metadata: JsonObject = { name: r.name, labels: { [OWNER_LABEL]: owner } };
  if (r.claim !== undefined)
    metadata["annotations"] = { [CLAIM_ADDRESS]: r.claim.address, [CLAIM_NETWORK]: r.claim.networkName };
  return {
    apiVersion: API_VERSION,
    kind: "OverlappingRangeIPReservation",
    metadata,
    spec: reservationSpec(r),
  };
}

/**
 * A JSON merge patch that rewrites a reservation to `r` whole (a takeover, or its undo) at the
 * resourceVersion read: owner fields (empty ones removed, as Go's `omitempty` leaves them out),
 * the owner label, and the claim (removed when `r` records none).
 */
export function reservationMergePatch(r: Reservation, owner: string, resourceVersion: string): JsonObject {
  return {
    metadata: {
      resourceVersion,
      labels: { [OWNER_LABEL]: owner },
      annotations: {
        [CLAIM_ADDRESS]: r.claim?.address ?? null,
        [CLAIM_NETWORK]: r.claim?.networkName ?? null,
      },
    },
    spec: {
      podref: r.podRef,
      ifname: r.ifName === "" ? null : r.ifName,
      containerid: r.containerId === "" ? null : r.containerId,
    },
  };
}

/**
 * The owner label value: hex SHA-1 of `<podRef>/<ifName>/<containerId>` (40 characters, a valid
 * label value). A reservation carrying it is held by that pod and interface (ownsReservation), so
 * a delete selected by it needs no read first.
 */
export async function ownerHash(r: { podRef: string; ifName: string; containerId: string }): Promise<string> {
  // node:crypto's one-shot hash: WebCrypto's digest costs a job on the thread pool and a promise
  // per call (3% of an agent's CPU per ADD in the scale bench).
  return createHash("sha1").update(`${r.podRef}/${r.ifName}/${r.containerId}`).digest("hex");
}

/** RFC 6901 escaping of one reference token. */
export function pointerToken(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}

export type PatchOp =
  | { readonly op: "test"; readonly path: string; readonly value: Json }
  | { readonly op: "add" | "replace"; readonly path: string; readonly value: Json }
  | { readonly op: "remove"; readonly path: string };

/**
 * The JSON patch of a change's entries: every precondition as `test`s first, then the writes.
 * A new key: `test` null (the apiserver's json-patch treats a missing member as null; Go
 * Whereabouts relies on the same), then `add`. A rewritten or removed entry: `test` its id, podref
 * and ifname (null when empty, i.e. absent) — or, for keys in `guards`, the whole entry as stored
 * (an encoding of the same allocation that is not ours) — then `replace` or `remove`. No
 * resourceVersion test: writers of other keys do not conflict. The id/podref/ifname tests go with
 * `owner` and `parkedat` tests (null when absent), so parking or taking over an entry is a change
 * other writers' tests see. Release records (`records`: spec.released as this store last saw it,
 * undefined when it had none): set with `add` (which replaces), forgotten with `remove` where the
 * view shows one; with no spec.released, it is added whole behind a `test` that it is still
 * missing. No other test: the last writer wins; a view gone stale fails the patch (422) and the
 * caller patches again from a fresh read. With `usage`, last, `status` set to it (`add` replaces a
 * member that exists); never tested, so it never makes a write conflict.
 */
export function entryPatch(
  change: PoolChange,
  guards: ReadonlyMap<string, Json> = new Map(),
  usage?: PoolUsage,
  records?: ReadonlyMap<string, number>,
): PatchOp[] {
  const tests: PatchOp[] = [];
  const writes: PatchOp[] = [];
  const at = (key: string) => `/spec/allocations/${pointerToken(key)}`;
  const expect = (key: string, a: Allocation) => {
    const guard = guards.get(key);
    if (guard !== undefined) {
      tests.push({ op: "test", path: at(key), value: guard });
      return;
    }
    tests.push({ op: "test", path: `${at(key)}/id`, value: a.containerId });
    tests.push({ op: "test", path: `${at(key)}/podref`, value: a.podRef });
    tests.push({ op: "test", path: `${at(key)}/ifname`, value: a.ifName === "" ? null : a.ifName });
    tests.push({ op: "test", path: `${at(key)}/owner`, value: a.owner ?? null });
    tests.push({
      op: "test",
      path: `${at(key)}/parkedat`,
      value: a.parkedAt === undefined ? null : storedTime(a.parkedAt),
    });
  };
  for (const [key, a] of change.create) {
    tests.push({ op: "test", path: at(key), value: null });
    writes.push({ op: "add", path: at(key), value: encodeEntry(a) });
  }
  for (const u of change.update) {
    expect(u.key, u.from);
    writes.push({ op: "replace", path: at(u.key), value: encodeEntry(u.to) });
  }
  for (const [key, a] of change.remove) {
    expect(key, a);
    writes.push({ op: "remove", path: at(key) });
  }
  const release = change.release ?? [];
  if (records === undefined) {
    if (release.length > 0) {
      tests.push({ op: "test", path: "/spec/released", value: null });
      writes.push({ op: "add", path: "/spec/released", value: releasedObject(release) });
    }
  } else {
    const record = (key: string) => `/spec/released/${pointerToken(key)}`;
    for (const key of change.forget ?? [])
      if (records.has(key)) writes.push({ op: "remove", path: record(key) });
    for (const [key, at] of release) writes.push({ op: "add", path: record(key), value: storedTime(at) });
  }
  if (usage !== undefined) writes.push({ op: "add", path: "/status", value: poolStatus(usage) });
  return [...tests, ...writes];
}

/** The first key (create, update, remove order) whose precondition `pool` violates, if any. */
export function firstViolation(pool: PoolSnapshot, change: PoolChange): string | undefined {
  for (const [key] of change.create) if (pool.allocations.has(key)) return key;
  for (const u of change.update) {
    const held = pool.allocations.get(u.key);
    if (held === undefined || !sameAllocation(held, u.from)) return u.key;
  }
  for (const [key, a] of change.remove) {
    const held = pool.allocations.get(key);
    if (held === undefined || !sameAllocation(held, a)) return key;
  }
  return undefined;
}

/**
 * Whether `pool` shows the change's entries applied (a retried write whose first answer was lost).
 * A removed entry counts as applied once the key no longer holds the allocation removed: another
 * writer may have taken the freed key since, and only its holder ever removes an allocation.
 */
export function showsChange(pool: PoolSnapshot, change: PoolChange): boolean {
  const holds = (key: string, a: Allocation) => {
    const held = pool.allocations.get(key);
    return held !== undefined && sameAllocation(held, a);
  };
  return (
    change.create.every(([key, a]) => holds(key, a)) &&
    change.update.every((u) => holds(u.key, u.to)) &&
    change.remove.every(([key, a]) => !holds(key, a))
  );
}
