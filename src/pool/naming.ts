// Object names exactly as Go Whereabouts derives them (whereabouts-spec.md §4.2), so pools and
// reservations written by either implementation are found by the other.
import { type Cidr, formatCidr, formatIP, type IP, masked } from "../ip/index.ts";

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

/** Node-slice IPPool name: `[<network_name>-]<node>-<slice>`. */
export function nodeSlicePoolName(slice: Cidr, nodeName: string, networkName: string): string {
  return withNetwork(networkName, `${nodeName}-${normalize(formatCidr(masked(slice)))}`);
}

/** OverlappingRangeIPReservation name: Go's canonical IP text, ':' → '-', a trailing ':' gets '0'. */
export function reservationName(addr: IP, networkName: string): string {
  return withNetwork(networkName, normalize(formatIP(addr)));
}
