// What a pool records per address. Field meanings match the IPPool CRD entry
// (`{id, podref, ifname}`); `ifName` is "" for entries written by Whereabouts <= v0.7.
// `owner` and `parkedAt` are thereabouts' own (sticky addresses): stored where Go's decoder does
// not look, and absent on every other entry, so such entries stay exactly as Go wrote them.

export interface Allocation {
  readonly containerId: string;
  readonly podRef: string;
  readonly ifName: string;
  /**
   * Whom the address sticks to beyond one pod: `statefulset/<ns>/<name>/<ordinal>` or
   * `vm/<ns>/<vm name>`. Absent for an address that goes with its pod.
   */
  readonly owner?: string;
  /**
   * Milliseconds since the epoch at which the holder's DEL parked the entry instead of freeing it:
   * the address stays taken (Go sees it held) with the last holder's podRef, id and ifName, for
   * the owner's next pod.
   */
  readonly parkedAt?: number;
}

/**
 * The most release records a pool keeps. The writer keeps to it (it forgets the oldest beyond it,
 * see releaseRecords); a store keeps whatever it is given.
 */
export const MAX_RELEASE_RECORDS = 1024;

/** A pool as read from a store: raw offset keys (kept verbatim, legacy forms included) and an opaque version. */
export interface PoolSnapshot {
  readonly name: string;
  /** spec.range as stored; offsets are relative to the IP written here. "" when the pool does not exist. */
  readonly range: string;
  readonly allocations: ReadonlyMap<string, Allocation>;
  /**
   * When each address was last released (offset key, as in `allocations` → ms since the epoch),
   * for the reuse cooldown. Empty when none is recorded (and always for a pool Go alone wrote).
   */
  readonly released: ReadonlyMap<string, number>;
  /** undefined when the pool does not exist yet. */
  readonly version: string | undefined;
}

/**
 * What a reservation was taken for, recorded by thereabouts next to it (Go records nothing): the
 * address and the network_name. Reservation names are `[<network_name>-]<address>` with ':' → '-',
 * so two networks can map different addresses to one name (`x` + fd00:1::5 and `x-fd00` + 1::5
 * both give `x-fd00-1--5`); the claim tells such a collision apart from a real overlap.
 */
export interface ReservationClaim {
  /** The address in Go's canonical text. */
  readonly address: string;
  readonly networkName: string;
}

/** An overlapping-range reservation (OverlappingRangeIPReservation): one address held across all ranges of a network. */
export interface Reservation {
  readonly name: string;
  readonly podRef: string;
  readonly ifName: string;
  readonly containerId: string;
  /** Absent on reservations Go wrote (and on ours from before claims were recorded). */
  readonly claim?: ReservationClaim;
}

/** The (container id, interface) pair a runtime uses to name an attachment. */
export interface Attachment {
  readonly containerId: string;
  readonly ifName: string;
}

/** Whether two claims may be the same: unknown (unrecorded) claims agree with anything. */
export function claimsAgree(a: ReservationClaim | undefined, b: ReservationClaim | undefined): boolean {
  return a === undefined || b === undefined || (a.address === b.address && a.networkName === b.networkName);
}

/**
 * An owner holds a reservation when the podRef matches and, where both recorded one, the interface
 * and the claim too: a reservation recorded for another address or network is never this owner's,
 * whoever its pod is.
 */
export function ownsReservation(
  reservation: Reservation,
  owner: { podRef: string; ifName: string; claim?: ReservationClaim | undefined },
): boolean {
  if (reservation.podRef !== owner.podRef || !claimsAgree(reservation.claim, owner.claim)) return false;
  return reservation.ifName === "" || owner.ifName === "" || reservation.ifName === owner.ifName;
}
