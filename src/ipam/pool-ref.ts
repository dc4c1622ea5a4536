// Ties a configured range to its pool: the pool name (Go-compatible) and the base IP that offset
// keys are relative to (the IP written in the stored spec.range, or the range network when new).

import type { IpamConfig, IpRange } from "../config/types.ts";
import { StoredDataError } from "../errors/errors.ts";
import { type Cidr, formatCidr, type IP, masked, parseCidr } from "../ip/index.ts";
import type { PoolSnapshot } from "../pool/allocation.ts";
import { poolName } from "../pool/naming.ts";

export function poolOf(config: IpamConfig, rule: IpRange): { name: string; range: Cidr } {
  return { name: poolName(rule.range, config.networkName), range: masked(rule.range) };
}

/** spec.range text to write when a change creates the pool. */
export function rangeText(range: Cidr): string {
  return formatCidr(masked(range));
}

export function baseOf(snapshot: PoolSnapshot, range: Cidr): IP {
  if (snapshot.range === "") return { family: range.family, value: masked(range).address };
  const stored = parseCidr(snapshot.range);
  if (stored === undefined || stored.family !== range.family) {
    throw new StoredDataError(
      `pool ${snapshot.name} has spec.range "${snapshot.range}", which is not a ${range.family === 4 ? "IPv4" : "IPv6"} CIDR: repair or delete the pool`,
    );
  }
  return { family: stored.family, value: stored.address };
}
