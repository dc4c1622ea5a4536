// Object names exactly as Go Whereabouts derives them (docs/kubernetes-store.md, Objects), so pools and
// reservations written by either implementation are found by the other.
import { type Cidr, formatCidr, formatIP, type IP, masked } from "../ip/index.ts";
import type { Allocation, Reservation } from "./allocation.ts";

function normalize(text: string): string {
  const s = text.endsWith(":") ? `${text}0` : text;
  return s.replaceAll(":", "-").replaceAll("/", "-");
}

function withNetwork(networkName: string, name: string): string {
  return networkName === "" ? name : `${networkName}-${name}`;
}

/** IPPool name: `[<network_name>-]<range>` with ':' and '/' turned into '-'. */
export function poolName(range: Cidr, networkName: string): string {
  return withNetwork(networkName, normalize(formatCidr(masked(range))));
}

/**
 * The network_name a pool name was made with for `range` ("" for none), or undefined when the name
 * is not `[<network_name>-]<range>`. Names collide across networks (`x` + fd00:1::/64 and
 * `x-fd00` + 1::/64 are both `x-fd00-1---64`): the stored range says which one a pool belongs to.
 */
export function networkNameOf(pool: string, range: Cidr): string | undefined {
  const suffix = poolName(range, "");
  if (pool === suffix) return "";
  return pool.endsWith(`-${suffix}`) ? pool.slice(0, -suffix.length - 1) : undefined;
}

/** Node-slice IPPool name: `[<network_name>-]<node>-<slice>`. */
export function nodeSlicePoolName(slice: Cidr, nodeName: string, networkName: string): string {
  return withNetwork(networkName, `${nodeName}-${normalize(formatCidr(masked(slice)))}`);
}

/** OverlappingRangeIPReservation name: Go's canonical IP text, ':' → '-', a trailing ':' gets '0'. */
export function reservationName(addr: IP, networkName: string): string {
  return withNetwork(networkName, normalize(formatIP(addr)));
}

/**
 * The reservation of `addr` in a network for the attachment holding an entry, with the claim
 * thereabouts records on it. Only the attachment goes into it: an entry's sticky fields (owner,
 * parkedAt) are the pool's, not the reservation's.
 */
export function reservationOf(addr: IP, networkName: string, holder: Allocation): Reservation {
  const { containerId, podRef, ifName } = holder;
  return {
    name: reservationName(addr, networkName),
    containerId,
    podRef,
    ifName,
    claim: { address: formatIP(addr), networkName },
  };
}
