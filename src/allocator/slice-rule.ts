// What one node slice hands out. Go allocates in a slice from its first to its last usable
// address and drops the configured range_start, range_end and exclude; here the slice's usable
// addresses are intersected with the configured range's window, and exclude (and, through
// assign, the gateway) apply inside it, so a sliced network hands out exactly the addresses the
// same network would hand out whole.
import type { Cidr, IP } from "../ip/index.ts";
import type { RangeRule } from "./assign.ts";
import { countOf } from "./interval-set.ts";
import { handedOut } from "./usage.ts";
import { candidateWindow } from "./window.ts";

/**
 * The rule of `slice` (a subnet of `rule.range`): its usable addresses within the configured
 * window, the configured exclude. Undefined when the window leaves nothing of the slice.
 */
export function sliceRule(rule: RangeRule, slice: Cidr): RangeRule | undefined {
  const whole = candidateWindow(rule.range, rule.start, rule.end);
  const own = candidateWindow(slice);
  const first = whole.first > own.first ? whole.first : own.first;
  const last = whole.last < own.last ? whole.last : own.last;
  if (first > last) return undefined;
  return { range: slice, start: first, end: last, exclude: rule.exclude, excludeText: rule.excludeText };
}

/** Whether a slice hands out any address at all (claiming one that does not would be useless). */
export function handsOutAny(rule: RangeRule | undefined, gateway?: IP): boolean {
  return rule !== undefined && countOf(handedOut(rule, gateway)) > 0n;
}
