// Ties a configured range to its pool: the pool name (Go-compatible) and the base IP that offset
// keys are relative to (the IP written in the stored spec.range, or the range network when new).
// A stored pool is used only when its stored range is the configured one: offsets read against
// another range would record one address under two keys (an edited spec.range or etcd meta key),
// or hand out another network's addresses (two network_names whose pool names collide).
import type { IntervalSet } from "../allocator/interval-set.ts";
import { handedOut } from "../allocator/usage.ts";
import type { IpamConfig, IpRange } from "../config/types.ts";
import { StoredDataError } from "../errors/errors.ts";
import { type Cidr, formatCidr, type IP, masked, parseCidr } from "../ip/index.ts";
import type { PoolSnapshot } from "../pool/allocation.ts";
import { networkNameOf, poolName } from "../pool/naming.ts";

/** A configured range's pool. */
export interface PoolRef {
  readonly name: string;
  /** The configured range, host bits cleared. */
  readonly range: Cidr;
  readonly networkName: string;
  /** The addresses the configuration hands out here (every commit carries it: PoolChange.usable). */
  readonly usable: IntervalSet;
}

export function poolOf(config: IpamConfig, rule: IpRange): PoolRef {
  return {
    name: poolName(rule.range, config.networkName),
    range: masked(rule.range),
    networkName: config.networkName,
    usable: handedOut(rule, config.gateway),
  };
}

/** spec.range text to write when a change creates the pool. */
export function rangeText(range: Cidr): string {
  return formatCidr(masked(range));
}

/** Stored text quoted for a message: bounded, control characters escaped. */
function quoted(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

/**
 * The stored range as written (host bits kept: offsets count from the IP written), or undefined
 * when the pool does not exist. A stored range that is not a CIDR of the configured family throws
 * StoredDataError; with `configured`, so does one that is not the configured range (same network
 * and prefix; host bits in the stored text do not matter).
 */
export function storedRange(snapshot: PoolSnapshot, configured?: PoolRef): Cidr | undefined {
  if (snapshot.version === undefined) return undefined;
  const stored = parseCidr(snapshot.range);
  const family = configured?.range.family;
  if (stored === undefined || (family !== undefined && stored.family !== family)) {
    const what = family === undefined ? "a CIDR" : `an IPv${family} CIDR`;
    throw new StoredDataError(
      `pool ${snapshot.name} has spec.range ${quoted(snapshot.range)}, which is not ${what}: repair or delete the pool`,
    );
  }
  if (configured !== undefined && !sameRange(stored, configured.range))
    throw new StoredDataError(rangeMismatch(snapshot.name, stored, configured));
  return stored;
}

/** Same family, prefix and network: the ranges cover the same addresses. */
export function sameRange(a: Cidr, b: Cidr): boolean {
  const x = masked(a);
  const y = masked(b);
  return x.family === y.family && x.prefix === y.prefix && x.address === y.address;
}

/**
 * Why a pool holding `stored` cannot serve `configured`, and what to do. When the pool's name is
 * what another network_name gives for the stored range, two networks' pool names collide (a
 * Whereabouts naming property): name both. Otherwise the stored range was edited.
 */
export function rangeMismatch(pool: string, stored: Cidr, configured: PoolRef): string {
  const holds = formatCidr(masked(stored));
  const wants = formatCidr(configured.range);
  const other = networkNameOf(pool, stored);
  if (other !== undefined && other !== configured.networkName) {
    return (
      `pool ${pool} holds range ${holds} of network_name ${JSON.stringify(other)}; this network ` +
      `(network_name ${JSON.stringify(configured.networkName)}) configures ${wants}: pool names collide, rename one network_name`
    );
  }
  return (
    `pool ${pool} holds range ${formatCidr(stored)} but this network configures ${wants}: the pool's stored ` +
    `range was changed; restore it to ${wants}, or release the pool's addresses and delete it`
  );
}

/** The IP offset keys count from: the stored range's, or the configured network for a new pool. */
export function baseOf(snapshot: PoolSnapshot, pool: PoolRef): IP {
  const stored = storedRange(snapshot, pool);
  const range = stored ?? pool.range;
  return { family: range.family, value: range.address };
}
