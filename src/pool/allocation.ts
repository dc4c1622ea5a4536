// What a pool records per address. Field meanings match the IPPool CRD entry
// (`{id, podref, ifname}`); `ifName` is "" for entries written by Whereabouts <= v0.7.

export interface Allocation {
  readonly containerId: string;
  readonly podRef: string;
  readonly ifName: string;
}

/** A pool as read from a store: raw offset keys (kept verbatim, legacy forms included) and an opaque version. */
export interface PoolSnapshot {
  readonly name: string;
  /** spec.range as stored; offsets are relative to the IP written here. "" when the pool does not exist. */
  readonly range: string;
  readonly allocations: ReadonlyMap<string, Allocation>;
  /** undefined when the pool does not exist yet. */
  readonly version: string | undefined;
  /** Answered from a cache (ReadOptions.mayBeStale): entries may have changed in the store since. */
  readonly fromCache?: boolean;
}

/** An overlapping-range reservation (OverlappingRangeIPReservation): one address held across all ranges of a network. */
export interface Reservation {
  readonly name: string;
  readonly podRef: string;
  readonly ifName: string;
  readonly containerId: string;
}

/** The (container id, interface) pair a runtime uses to name an attachment. */
export interface Attachment {
  readonly containerId: string;
  readonly ifName: string;
}

/** An owner holds a reservation when the podRef matches and, where both recorded one, the interface too. */
export function ownsReservation(
  reservation: Reservation,
  owner: { podRef: string; ifName: string },
): boolean {
  if (reservation.podRef !== owner.podRef) return false;
  return reservation.ifName === "" || owner.ifName === "" || reservation.ifName === owner.ifName;
}
