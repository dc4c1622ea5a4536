// The candidate window of a range, as Whereabouts (v0.6.2+) computes it: network+1 … broadcast−1 for both
// families, narrowed by range_start / range_end only when they fall inside it.
import { ConfigError } from "../errors/errors.ts";
import { broadcastOf, type Cidr, formatCidr, masked, networkOf } from "../ip/index.ts";

export interface Window {
  readonly first: bigint;
  readonly last: bigint;
}

export function candidateWindow(range: Cidr, start?: bigint, end?: bigint): Window {
  const network = networkOf(range);
  const broadcast = broadcastOf(range);
  if (broadcast - network < 2n) {
    throw new ConfigError(
      `net mask is too short, subnet ${formatCidr(masked(range))} has no usable IP addresses, it is too small`,
    );
  }
  const firstUsable = network + 1n;
  const lastUsable = broadcast - 1n;
  const first = start !== undefined && start >= firstUsable && start <= lastUsable ? start : firstUsable;
  const last = end !== undefined && end >= first && end <= lastUsable ? end : lastUsable;
  return { first, last };
}
