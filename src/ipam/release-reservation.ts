// Releasing overlapping-range reservations that no pool entry goes with: the one release the
// controller needs that releaseEntries (release.ts) cannot do, since releaseEntries drops a
// reservation only together with an entry it removes. Such reservations are leaks (an ADD or DEL
// that died between its writes, Go's DEL that skipped its reservation, a pool deleted by hand).
// It uses the Store contract as it is — a change whose only part is `unreserve`, each dropped only
// while its owner (podref + interface) still holds it — committed through `carrier`, an existing
// pool the change leaves as it is (its entries are not touched; backends may bump its revision).
import type { PoolSnapshot, Reservation } from "../pool/allocation.ts";
import { poolChange, type Store } from "../store/store.ts";
import { RELEASE_BATCH } from "./release.ts";

/**
 * Drops each reservation still held by the owner recorded in it; returns those now absent.
 * `carrier` must exist (version defined): a commit to a missing pool would create it.
 */
export async function releaseReservations(
  store: Store,
  carrier: PoolSnapshot,
  reservations: readonly Reservation[],
): Promise<readonly Reservation[]> {
  if (reservations.length === 0) return [];
  if (carrier.version === undefined)
    throw new Error(`releaseReservations: pool ${carrier.name} does not exist`);
  const released: Reservation[] = [];
  for (let i = 0; i < reservations.length; i += RELEASE_BATCH) {
    const batch = reservations.slice(i, i + RELEASE_BATCH);
    const result = await store.commit(poolChange(carrier.name, carrier.range, { unreserve: batch }));
    if (!result.ok) continue;
    for (const r of batch) if ((await store.getReservation(r.name)) === undefined) released.push(r);
  }
  return released;
}
