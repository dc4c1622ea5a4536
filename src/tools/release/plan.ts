// What `thereabouts release` would free: the entries holding an address (or held by a pod), the
// reservations that go with them, and the reservations of that address or pod that no entry goes
// with. Pure, over the store model of `check` (reservations matched to entries by owner).
import type { Entry } from "../../allocator/pool-view.ts";
import { formatIP, type IP } from "../../ip/index.ts";
import type { Reservation } from "../../pool/allocation.ts";
import { reservationName } from "../../pool/naming.ts";
import { entryId, type PoolModel, type StoreModel } from "../check/model.ts";

/** An address, a pod, or the address as held by the pod (one holder of an address held twice). */
export interface ReleaseTarget {
  readonly address?: IP;
  readonly podRef?: string;
}

/** Entries of one pool released together, with their reservations under one network name. */
export interface EntryRelease {
  readonly pool: string;
  /** The network the pool belongs to (undefined: not known, see PoolModel.network). */
  readonly network: string | undefined;
  /** The network name the entries' reservations are held under; undefined: none is held. */
  readonly reservedUnder: string | undefined;
  readonly entries: readonly Entry[];
}

export interface ReleasePlan {
  readonly entries: readonly EntryRelease[];
  /** Reservations of the target that no entry goes with. */
  readonly reservations: readonly Reservation[];
  /** The networks the held entries belong to (an address in two networks is ambiguous). */
  readonly networks: readonly (string | undefined)[];
}

/**
 * The plan for `target` among the pools and networks `scope` admits (--network; all without one). A reservation without an
 * entry counts for an address when its recorded claim is that address, or (one Go wrote, with no
 * claim) when it carries the name the address has in one of the networks in scope; never by
 * reading an address out of a name.
 */
export function planRelease(
  model: StoreModel,
  target: ReleaseTarget,
  scope:
    | { readonly pool: (pool: PoolModel) => boolean; readonly network: (network: string) => boolean }
    | undefined,
): ReleasePlan {
  const inScope = (pool: PoolModel) => scope?.pool(pool) ?? true;
  const networkInScope = (network: string) => scope?.network(network) ?? true;
  const { address, podRef } = target;
  const wanted = (e: Entry) =>
    (podRef === undefined || e.allocation.podRef === podRef) &&
    (address === undefined || (e.address.family === address.family && e.address.value === address.value));
  const groups = new Map<string, { pool: PoolModel; reservedUnder: string | undefined; entries: Entry[] }>();
  const networks = new Set<string | undefined>();
  for (const pool of model.pools) {
    if (pool.range === undefined || !inScope(pool)) continue;
    for (const entry of pool.entries) {
      if (!wanted(entry)) continue;
      const reservedUnder = model.held.get(entryId(pool.snapshot.name, entry.key))?.networkName;
      const id = `${pool.snapshot.name}\0${reservedUnder ?? "\0none"}`;
      const group = groups.get(id) ?? { pool, reservedUnder, entries: [] };
      group.entries.push(entry);
      groups.set(id, group);
      networks.add(pool.network);
    }
  }
  const known = new Set<string>([""]);
  for (const pool of model.pools) if (pool.network !== undefined) known.add(pool.network);
  const names =
    address === undefined
      ? undefined
      : new Set([...known].filter(networkInScope).map((n) => reservationName(address, n)));
  const text = address === undefined ? "" : formatIP(address);
  const reservations = model.unmatched.filter((r) => {
    if (podRef !== undefined && r.podRef !== podRef) return false;
    if (r.claim !== undefined)
      return (address === undefined || r.claim.address === text) && networkInScope(r.claim.networkName);
    // One Go wrote records neither address nor network: it is the address's when it carries the
    // name the address has in a network in scope; a pod's only when no --network narrows.
    return names === undefined ? scope === undefined : names.has(r.name);
  });
  return {
    entries: [...groups.values()].map((g) => ({
      pool: g.pool.snapshot.name,
      network: g.pool.network,
      reservedUnder: g.reservedUnder,
      entries: g.entries,
    })),
    reservations,
    networks: [...networks],
  };
}
