// Which range takes each requested address: the first range of the network whose prefix holds it
// and that has none yet (one address is allocated per range, so a range takes at most one
// request). What the range then says about the address (its bounds, excludes, who holds it) is
// assign()'s to judge; an address no range holds is refused here, before anything is read.
import { ConfigError } from "../errors/errors.ts";
import { listed } from "../errors/message.ts";
import { contains, formatCidr, formatIP, type IP, masked } from "../ip/index.ts";
import type { RangeRule } from "./assign.ts";
import type { Candidates } from "./free-order.ts";
import { coveringEnd, type IntervalSet } from "./interval-set.ts";
import type { PoolView } from "./pool-view.ts";

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

/**
 * Refuses a requested address this range cannot hand out (code 7, saying what to do), unless it is
 * free: inside range_start..range_end (never the network or broadcast address), not excluded, not
 * the gateway, not held, not reserved by another range. The reuse cooldown does not apply: the
 * address was asked for by name. The attachment's own entry is not looked at here (assign's rules
 * 1 and 2 come first).
 */
export function checkRequested(
  rule: RangeRule,
  view: PoolView,
  candidates: Candidates,
  requested: IP,
  skip: IntervalSet | undefined,
): void {
  const address = formatIP(requested);
  const range = formatCidr(masked(rule.range));
  const refuse = (why: string, fix: string) => new ConfigError(`requested address ${address} ${why}: ${fix}`);
  const { first, last } = candidates.window;
  if (requested.family !== rule.range.family || requested.value < first || requested.value > last) {
    const ip = (value: bigint) => formatIP({ family: rule.range.family, value });
    throw refuse(
      `is outside the addresses range ${range} hands out (${ip(first)} to ${ip(last)})`,
      "request one of those, or widen range_start/range_end",
    );
  }
  if (coveringEnd(rule.exclude, requested.value) !== undefined) {
    throw refuse(
      `is excluded in range ${range} (exclude: [${listed(rule.excludeText)}])`,
      "request another address, or take it out of exclude",
    );
  }
  if (requested.value === candidates.gateway) {
    throw refuse("is the gateway of this network", "request another address");
  }
  // Before the holder: the attachment's own entry may sit at an address another range reserves.
  if (skip !== undefined && coveringEnd(skip, requested.value) !== undefined) {
    throw refuse(
      "is reserved through an overlapping range of another network",
      "request another address, or free it there first",
    );
  }
  if (coveringEnd(view.taken, requested.value) !== undefined) {
    // The refusal path only: one pass over the entries to name the holder.
    const holder = view.entries.find((e) => e.address.value === requested.value)?.allocation;
    const who =
      holder === undefined
        ? "another attachment"
        : `${holder.podRef}${holder.ifName === "" ? "" : ` (${holder.ifName})`}` +
          (holder.owner === undefined
            ? ""
            : holder.parkedAt === undefined
              ? `, kept for ${holder.owner}`
              : `, parked for ${holder.owner}`);
    throw refuse(
      `is held by ${who} in range ${range}`,
      "request another address, or free it first (delete that pod, or thereabouts release)",
    );
  }
}
