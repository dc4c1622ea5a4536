// The store as `check` and `release` read it: every pool decoded as the controller decodes it
// (offsets from the IP written in the stored range), and each reservation matched to the entry it
// goes with by owner and the network names the pool's name allows (the controller's reading,
// src/controller/plan.ts) — never by reading an address out of a reservation's name. Pure.
import { type Entry, viewPool } from "../../allocator/pool-view.ts";
import { heldReservation, networkCandidates } from "../../controller/plan.ts";
import { describe } from "../../errors/errors.ts";
import type { Cidr } from "../../ip/index.ts";
import { storedRange } from "../../ipam/pool-ref.ts";
import type { PoolSnapshot, Reservation } from "../../pool/allocation.ts";
import { networkNameOf } from "../../pool/naming.ts";

export interface PoolModel {
  readonly snapshot: PoolSnapshot;
  /** The stored range, the IP as written; undefined when it is not a CIDR (rangeError says so). */
  readonly range: Cidr | undefined;
  readonly rangeError?: string;
  readonly entries: readonly Entry[];
  readonly unreadableKeys: readonly string[];
  /**
   * The network_name the pool belongs to: the one its entries' reservations are held under, else
   * the one its name gives for its range; undefined when neither tells (a node-slice pool without
   * reservations, a pool renamed by hand).
   */
  readonly network: string | undefined;
}

/** An entry with the pool it is in. */
export interface Placed {
  readonly pool: PoolModel;
  readonly entry: Entry;
}

export interface HeldReservation {
  readonly networkName: string;
  readonly reservation: Reservation;
}

export interface StoreModel {
  readonly pools: readonly PoolModel[];
  /** The reservation each entry goes with, by entryId(pool, key). */
  readonly held: ReadonlyMap<string, HeldReservation>;
  /** Reservations no entry goes with. */
  readonly unmatched: readonly Reservation[];
  /** Reservations by name. */
  readonly reservations: ReadonlyMap<string, Reservation>;
  /**
   * Whether the network uses overlapping-range reservations: as configured where a configuration
   * is known, else whether the store shows any reservation of it (matched to an entry, or claimed
   * for it).
   */
  usesReservations(network: string): boolean;
}

export function entryId(pool: string, key: string): string {
  return `${pool}\0${key}`;
}

export function modelOf(
  pools: readonly PoolSnapshot[],
  reservations: readonly Reservation[],
  configured: (network: string) => boolean | undefined = () => undefined,
  progress?: (done: number, total: number) => void,
): StoreModel {
  const byName = new Map(reservations.map((r) => [r.name, r]));
  const covered = new Set<string>();
  const held = new Map<string, HeldReservation>();
  const seen = new Set<string>();
  for (const r of reservations) if (r.claim !== undefined) seen.add(r.claim.networkName);
  const models: PoolModel[] = [];
  for (const [done, snapshot] of pools.entries()) {
    progress?.(done, pools.length);
    let range: Cidr | undefined;
    try {
      range = storedRange(snapshot);
    } catch (error) {
      models.push({
        snapshot,
        range: undefined,
        rangeError: describe(error),
        entries: [],
        unreadableKeys: [],
        network: undefined,
      });
      continue;
    }
    if (range === undefined) continue; // a pool that does not exist
    const view = viewPool(snapshot, { family: range.family, value: range.address });
    const candidates = networkCandidates(snapshot);
    const votes = new Map<string, number>();
    for (const entry of view.entries) {
      const found = heldReservation(entry, candidates, byName, covered);
      if (found === undefined) continue;
      covered.add(found.reservation.name);
      held.set(entryId(snapshot.name, entry.key), found);
      votes.set(found.networkName, (votes.get(found.networkName) ?? 0) + 1);
      seen.add(found.networkName);
    }
    let network = networkNameOf(snapshot.name, range);
    let most = 0;
    for (const [name, n] of votes)
      if (n > most) {
        network = name;
        most = n;
      }
    models.push({
      snapshot,
      range,
      entries: view.entries,
      unreadableKeys: view.unreadableKeys,
      network,
    });
  }
  progress?.(pools.length, pools.length);
  return {
    pools: models,
    held,
    unmatched: reservations.filter((r) => !covered.has(r.name)),
    reservations: byName,
    usesReservations: (network) => configured(network) ?? seen.has(network),
  };
}
