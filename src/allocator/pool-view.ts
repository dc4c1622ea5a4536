// A pool snapshot indexed for allocation decisions: which addresses are taken, and which entry an
// attachment already holds. Built once per read in O(n); every decision on it is O(log n).
import type { Family, IP } from "../ip/index.ts";
import type { Allocation, PoolSnapshot } from "../pool/allocation.ts";
import { decodeOffsetKey } from "../pool/offset-key.ts";
import { addressSet, type IntervalSet } from "./interval-set.ts";

export interface Entry {
  readonly key: string;
  readonly address: IP;
  readonly allocation: Allocation;
}

export interface PoolView {
  readonly snapshot: PoolSnapshot;
  readonly taken: IntervalSet;
  readonly entries: readonly Entry[];
  /** podRef + "\0" + ifName → entry (first one wins, as Go scans in order). */
  readonly byPodInterface: ReadonlyMap<string, Entry>;
  /** Keys Go would ignore too; reported so operators can repair the pool. */
  readonly unreadableKeys: readonly string[];
}

export function podInterfaceKey(podRef: string, ifName: string): string {
  return `${podRef}\0${ifName}`;
}

/** `base` is the IP written in the pool's spec.range (offsets are relative to it). */
export function viewPool(snapshot: PoolSnapshot, base: IP, family: Family = base.family): PoolView {
  const entries: Entry[] = [];
  const values: bigint[] = [];
  const byPodInterface = new Map<string, Entry>();
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
  }
  return { snapshot, taken: addressSet(values), entries, byPodInterface, unreadableKeys };
}
