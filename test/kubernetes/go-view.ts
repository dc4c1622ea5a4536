// The whereabouts objects in the API double as Go Whereabouts reads them: IPPools and
// OverlappingRangeIPReservations straight from the double's raw dump (the control API, never
// faulted, never counted), offsets decoded relative to the IP written in spec.range
// (as Go does). `rawStore` wraps a dump as a read-only Store so the shared
// invariants (test/support/invariants.ts) check it without going through the plugin's own store.
import assert from "node:assert/strict";
import { viewPool } from "../../src/allocator/pool-view.ts";
import { formatIP, type IP, parseCidr } from "../../src/ip/index.ts";
import type { Allocation, PoolSnapshot, Reservation } from "../../src/pool/allocation.ts";
import { reservationName } from "../../src/pool/naming.ts";
import type { Store } from "../../src/store/store.ts";
import type { ApiDouble } from "../k8s-api/harness.ts";

export const IPPOOLS = "ippools.whereabouts.cni.cncf.io";
export const ORIPS = "overlappingrangeipreservations.whereabouts.cni.cncf.io";
export const GROUP_PATH = "/apis/whereabouts.cni.cncf.io/v1alpha1";

export interface RawMeta {
  readonly name: string;
  readonly namespace: string;
  readonly resourceVersion?: string;
  readonly [field: string]: unknown;
}

/** An IPPool allocation entry as stored: `{id, podref, ifname}` (podref/ifname absent in old data). */
export interface RawEntry {
  readonly id: string;
  readonly podref?: string;
  readonly ifname?: string;
}

export interface RawPool {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: RawMeta;
  readonly spec: { readonly range: string; readonly allocations: Readonly<Record<string, RawEntry>> };
}

export interface RawReservation {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: RawMeta;
  readonly spec: { readonly podref?: string; readonly ifname?: string; readonly containerid?: string };
}

export interface RawObjects {
  readonly pools: readonly RawPool[];
  readonly reservations: readonly RawReservation[];
}

/** The whereabouts objects of one namespace (all namespaces when none is given). */
export async function rawObjects(api: ApiDouble, namespace?: string): Promise<RawObjects> {
  const { collections } = await api.objects();
  const inNamespace = <T extends { metadata: RawMeta }>(items: unknown[] | undefined): T[] =>
    ((items ?? []) as T[]).filter((o) => namespace === undefined || o.metadata.namespace === namespace);
  return {
    pools: inNamespace<RawPool>(collections[IPPOOLS]),
    reservations: inNamespace<RawReservation>(collections[ORIPS]),
  };
}

export function allocationOf(entry: RawEntry): Allocation {
  return { containerId: entry.id, podRef: entry.podref ?? "", ifName: entry.ifname ?? "" };
}

export function snapshotOf(pool: RawPool): PoolSnapshot {
  const allocations = new Map<string, Allocation>();
  for (const [key, entry] of Object.entries(pool.spec.allocations ?? {}))
    allocations.set(key, allocationOf(entry));
  return {
    name: pool.metadata.name,
    range: pool.spec.range,
    allocations,
    released: new Map(),
    version: pool.metadata.resourceVersion,
  };
}

export function reservationOf(orip: RawReservation): Reservation {
  return {
    name: orip.metadata.name,
    podRef: orip.spec.podref ?? "",
    ifName: orip.spec.ifname ?? "",
    containerId: orip.spec.containerid ?? "",
  };
}

export interface RawHolding {
  readonly pool: string;
  readonly key: string;
  readonly ip: IP;
  /** IP text (Go's canonical form), no prefix. */
  readonly address: string;
  readonly allocation: Allocation;
}

/** Every entry of the pools with its decoded address; a key Go could not read fails the assertion. */
export function holdings(objects: RawObjects, poolFilter?: (name: string) => boolean): RawHolding[] {
  const out: RawHolding[] = [];
  for (const pool of objects.pools) {
    if (poolFilter !== undefined && !poolFilter(pool.metadata.name)) continue;
    const range = parseCidr(pool.spec.range);
    assert.ok(range, `pool ${pool.metadata.name} has a readable spec.range (${pool.spec.range})`);
    const view = viewPool(snapshotOf(pool), { family: range.family, value: range.address });
    assert.deepEqual(view.unreadableKeys, [], `pool ${pool.metadata.name} has only readable keys`);
    for (const e of view.entries)
      out.push({
        pool: pool.metadata.name,
        key: e.key,
        ip: e.address,
        address: formatIP(e.address),
        allocation: e.allocation,
      });
  }
  return out;
}

/**
 * A read-only Store over a dump, for assertNoDuplicates/assertEmpty. `pools` narrows it to some
 * pools (the shared invariant expects one address per pod, so a dual-stack dump is checked per family).
 */
export function rawStore(objects: RawObjects, pools?: (name: string) => boolean): Store {
  const unsupported = (what: string) => () => Promise.reject(new Error(`rawStore is read-only (${what})`));
  return {
    datastore: "kubernetes",
    getPool: unsupported("getPool"),
    getReservation: unsupported("getReservation"),
    commit: unsupported("commit"),
    dropReservations: unsupported("dropReservations"),
    dropReservationsOf: unsupported("dropReservationsOf"),
    ping: () => Promise.resolve(),
    close: () => Promise.resolve(),
    listPools: () =>
      Promise.resolve(
        objects.pools.filter((p) => pools === undefined || pools(p.metadata.name)).map(snapshotOf),
      ),
    listReservations: () => Promise.resolve(objects.reservations.map(reservationOf)),
  };
}

/**
 * Overlapping-range bookkeeping is exact: every entry of the given pools has the reservation
 * named after its address, owned by the same pod and interface, and (unless other pools may hold
 * some) every reservation belongs to such an entry.
 */
export function assertReservationsMatchEntries(
  objects: RawObjects,
  networkName: string,
  options: { pools?: (name: string) => boolean; exclusive?: boolean } = {},
): void {
  const byName = new Map(objects.reservations.map((r) => [r.metadata.name, reservationOf(r)]));
  const expected = new Set<string>();
  for (const h of holdings(objects, options.pools)) {
    const name = reservationName(h.ip, networkName);
    expected.add(name);
    const r = byName.get(name);
    assert.ok(r, `entry ${h.pool}/${h.key} (${h.address}, ${h.allocation.podRef}) has reservation ${name}`);
    assert.equal(r.podRef, h.allocation.podRef, `reservation ${name} is owned by the entry's pod`);
    if (r.ifName !== "" && h.allocation.ifName !== "")
      assert.equal(r.ifName, h.allocation.ifName, `reservation ${name} has the entry's interface`);
  }
  if (options.exclusive ?? true) {
    const orphans = [...byName.keys()].filter((n) => !expected.has(n));
    assert.deepEqual(orphans, [], "no reservation without a pool entry");
  }
}
