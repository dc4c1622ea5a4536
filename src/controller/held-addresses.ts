// Which pool holds an address inside a slice, for the node-slice plan of networks without
// overlapping-range reservations (node-slice-plan.ts, withholdHeld). Built from the IPPools the
// leader watches, once per plan and per network_name, and only when a plan asks.
import { broadcastOf, type Cidr, type Family, ipOf, networkOf, parseCidrSloppy } from "../ip/index.ts";
import type { PoolSnapshot } from "../pool/allocation.ts";
import { decodeOffsetKey } from "../pool/offset-key.ts";

interface Held {
  readonly family: Family;
  readonly value: bigint;
  readonly pool: string;
}

export class HeldAddresses {
  readonly #pools: () => Iterable<PoolSnapshot>;
  readonly #live: (networkName: string) => ReadonlyMap<string, string>;
  readonly #byNetwork = new Map<string, Held[]>();

  /**
   * `pools`: the IPPools of the namespace, read when a network is first asked about. `live`: the
   * network's slice pools of assigned slices (name → the slice as the NodeSlicePool writes it). One
   * whose range is its slice holds addresses in that assigned slice only, never in a free one, so
   * its entries are not read: with thousands of nodes they are nearly all the entries there are.
   */
  constructor(
    pools: () => Iterable<PoolSnapshot>,
    live: (networkName: string) => ReadonlyMap<string, string> = () => new Map(),
  ) {
    this.#pools = pools;
    this.#live = live;
  }

  /**
   * The pool holding an address inside `slice` among the IPPools of `networkName` (named
   * `<networkName>-…`; every pool when the network has no network_name, whose pools' names carry
   * no prefix to tell them apart), or undefined.
   */
  in(networkName: string, slice: Cidr): string | undefined {
    const held = this.#index(networkName);
    const low = networkOf(slice);
    const high = broadcastOf(slice);
    // First held address at or above the slice's start, in (family, value) order.
    let lo = 0;
    let hi = held.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const h = held[mid]!;
      if (h.family < slice.family || (h.family === slice.family && h.value < low)) lo = mid + 1;
      else hi = mid;
    }
    const h = held[lo];
    return h !== undefined && h.family === slice.family && h.value <= high ? h.pool : undefined;
  }

  #index(networkName: string): Held[] {
    let held = this.#byNetwork.get(networkName);
    if (held !== undefined) return held;
    held = [];
    const prefix = `${networkName}-`;
    const live = this.#live(networkName);
    for (const pool of this.#pools()) {
      if (pool.allocations.size === 0) continue;
      if (networkName !== "" && !pool.name.startsWith(prefix)) continue;
      const slice = live.get(pool.name);
      // Compared as written first: parsing every pool's range on every plan is what would cost.
      if (slice === pool.range) continue;
      const range = parseCidrSloppy(pool.range);
      if (range === undefined) continue;
      const sliceCidr = slice === undefined ? undefined : parseCidrSloppy(slice);
      if (sliceCidr !== undefined && sameNetwork(sliceCidr, range)) continue;
      const base = ipOf(range);
      for (const key of pool.allocations.keys()) {
        const address = decodeOffsetKey(base, key);
        if (address !== undefined)
          held.push({ family: address.family, value: address.value, pool: pool.name });
      }
    }
    held.sort((a, b) => a.family - b.family || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    this.#byNetwork.set(networkName, held);
    return held;
  }
}

function sameNetwork(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.prefix === b.prefix && networkOf(a) === networkOf(b);
}
