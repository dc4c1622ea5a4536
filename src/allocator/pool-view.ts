// A pool snapshot indexed for allocation decisions: which addresses are taken, which entry an
// attachment (or a sticky owner) already holds, and when addresses were last released. Built once
// per read in O(n); every decision on it is O(log n), plus one pass over the release records
// (at most MAX_RELEASE_RECORDS) when a reuse cooldown is configured.
import type { Family, IP } from "../ip/index.ts";
import type { Allocation, PoolSnapshot } from "../pool/allocation.ts";
import { decodeOffsetKey } from "../pool/offset-key.ts";
import { addressSet, type IntervalSet } from "./interval-set.ts";

export interface Entry {
  readonly key: string;
  readonly address: IP;
  readonly allocation: Allocation;
}

/** One release record: an address and when it was last released (ms since the epoch). */
export interface Release {
  readonly value: bigint;
  readonly atMs: number;
}

export interface PoolView {
  readonly snapshot: PoolSnapshot;
  readonly taken: IntervalSet;
  readonly entries: readonly Entry[];
  /** podRef + "\0" + ifName → entry (first one wins, as Go scans in order). */
  readonly byPodInterface: ReadonlyMap<string, Entry>;
  /** owner + "\0" + ifName → entry, for entries with a sticky owner (first one wins). */
  readonly byOwnerInterface: ReadonlyMap<string, Entry>;
  /** Release records, oldest first (equal times: lowest address first). */
  readonly releases: readonly Release[];
  /** The addresses that have a release record. */
  readonly recorded: IntervalSet;
  /** Keys Go would ignore too; reported so operators can repair the pool. */
  readonly unreadableKeys: readonly string[];
}

export function podInterfaceKey(podRef: string, ifName: string): string {
  return `${podRef}\0${ifName}`;
}

/** The key of byOwnerInterface: the same shape as podInterfaceKey, another namespace of names. */
export function ownerInterfaceKey(owner: string, ifName: string): string {
  return `${owner}\0${ifName}`;
}

function releasesOf(snapshot: PoolSnapshot, base: IP, family: Family): Release[] {
  const out: Release[] = [];
  for (const [key, atMs] of snapshot.released) {
    // A record whose key is not an address of this pool is of no use to anyone: skipped.
    const address = decodeOffsetKey(base, key);
    if (address !== undefined && address.family === family && Number.isFinite(atMs))
      out.push({ value: address.value, atMs });
  }
  return out.sort((a, b) => a.atMs - b.atMs || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
}

/** `base` is the IP written in the pool's spec.range (offsets are relative to it). */
export function viewPool(snapshot: PoolSnapshot, base: IP, family: Family = base.family): PoolView {
  const entries: Entry[] = [];
  const values: bigint[] = [];
  const byPodInterface = new Map<string, Entry>();
  const byOwnerInterface = new Map<string, Entry>();
  const unreadableKeys: string[] = [];
  for (const [key, allocation] of snapshot.allocations) {
    const address = decodeOffsetKey(base, key);
    if (address === undefined || address.family !== family) {
      unreadableKeys.push(key);
      continue;
    }
    const entry = { key, address, allocation };
    entries.push(entry);
    values.push(address.value);
    const id = podInterfaceKey(allocation.podRef, allocation.ifName);
    if (allocation.ifName !== "" && !byPodInterface.has(id)) byPodInterface.set(id, entry);
    if (allocation.owner !== undefined && allocation.ifName !== "") {
      const owned = ownerInterfaceKey(allocation.owner, allocation.ifName);
      if (!byOwnerInterface.has(owned)) byOwnerInterface.set(owned, entry);
    }
  }
  const releases = snapshot.released.size === 0 ? [] : releasesOf(snapshot, base, family);
  return {
    snapshot,
    taken: addressSet(values),
    entries,
    byPodInterface,
    byOwnerInterface,
    releases,
    recorded: addressSet(releases.map((r) => r.value)),
    unreadableKeys,
  };
}
