// Which range takes each requested address: the first range of the network whose prefix holds it
// and that has none yet (one address is allocated per range, so a range takes at most one
// request). What the range then says about the address (its bounds, excludes, who holds it) is
// assign()'s to judge; an address no range holds is refused here, before anything is read.
import { ConfigError } from "../errors/errors.ts";
import { contains, formatCidr, formatIP, type IP, masked } from "../ip/index.ts";
import type { RangeRule } from "./assign.ts";

/**
 * The requested address of each range, in the order of `ranges` (undefined where none was asked
 * for). `source` names where the request came from in messages (`runtimeConfig ips`). Throws
 * ConfigError (code 7) for an address outside every range and for more than one per range.
 */
export function requestedPerRange(
  ranges: readonly RangeRule[],
  requested: readonly IP[],
  source: string,
): (IP | undefined)[] {
  const out: (IP | undefined)[] = ranges.map(() => undefined);
  for (const address of requested) {
    const holding = ranges.flatMap((r, i) => (contains(r.range, address) ? [i] : []));
    if (holding.length === 0) {
      const configured = ranges.map((r) => formatCidr(masked(r.range))).join(", ");
      throw new ConfigError(
        `requested address ${formatIP(address)} (${source}) is outside every range of this network` +
          (configured === "" ? " (it has none)" : ` (${configured})`) +
          ": request an address inside one of them",
      );
    }
    const free = holding.find((i) => out[i] === undefined);
    if (free === undefined) {
      const i = holding[0]!;
      throw new ConfigError(
        `requested addresses ${formatIP(out[i]!)} and ${formatIP(address)} (${source}) are both in range ${formatCidr(masked(ranges[i]!.range))}: ` +
          "one address is allocated per range, so request at most one per range",
      );
    }
    out[free] = address;
  }
  return out;
}
