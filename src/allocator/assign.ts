// The allocation decision, Whereabouts' rules: pure, no I/O. Idempotency first (same podRef
// and interface get their address back), then the lowest free address of the window that is not
// excluded, not taken, not the gateway and not known to be reserved by another range.
import { ExhaustedError } from "../errors/errors.ts";
import { listed } from "../errors/message.ts";
import { type Cidr, formatCidr, formatIP, type IP, masked } from "../ip/index.ts";
import type { Allocation } from "../pool/allocation.ts";
import { coveringEnd, type IntervalSet } from "./interval-set.ts";
import { type Entry, type PoolView, podInterfaceKey } from "./pool-view.ts";
import { candidateWindow } from "./window.ts";

export interface RangeRule {
  readonly range: Cidr;
  readonly start?: bigint;
  readonly end?: bigint;
  readonly exclude: IntervalSet;
  /** exclude entries as configured, for the exhaustion message. */
  readonly excludeText: readonly string[];
}

export interface Claimant {
  readonly containerId: string;
  readonly podRef: string;
  readonly ifName: string;
}

export type Decision =
  /** The attachment already holds `entry`; `updated` is set when its container id must be rewritten. */
  | { readonly kind: "existing"; readonly entry: Entry; readonly updated: Allocation | undefined }
  | { readonly kind: "new"; readonly address: IP };

export function assign(
  rule: RangeRule,
  view: PoolView,
  claimant: Claimant,
  options: {
    gateway?: IP;
    skip?: IntervalSet;
    /**
     * After a lost race, take the k-th lowest free address with k drawn uniformly below `spread`
     * (k = floor(random · spread)), so concurrent ADDs fan out instead of all chasing the same
     * lowest address. Uncontended calls keep Whereabouts' lowest-free order.
     */
    spread?: { readonly among: number; readonly random: number };
  } = {},
): Decision {
  const held = view.byPodInterface.get(podInterfaceKey(claimant.podRef, claimant.ifName));
  // A held address that another range reserved (found out by a failed commit) is given up.
  const heldUsable =
    held !== undefined && !(options.skip && coveringEnd(options.skip, held.address.value) !== undefined);
  if (held !== undefined && heldUsable) {
    const stale = held.allocation.containerId !== claimant.containerId;
    return {
      kind: "existing",
      entry: held,
      updated: stale ? { ...held.allocation, containerId: claimant.containerId } : undefined,
    };
  }
  const { first, last } = candidateWindow(rule.range, rule.start, rule.end);
  const gateway = options.gateway?.family === rule.range.family ? options.gateway.value : undefined;
  const blockers: IntervalSet[] = [rule.exclude, view.taken];
  if (options.skip !== undefined) blockers.push(options.skip);
  let candidate = first;
  let pass = options.spread === undefined ? 0 : Math.floor(options.spread.random * options.spread.among);
  let lastFree: bigint | undefined;
  // Each pass moves the candidate strictly upwards past one interval, so the loop runs at most
  // once per interval met; each lookup is a binary search.
  while (candidate <= last) {
    let moved = false;
    for (const set of blockers) {
      const end = coveringEnd(set, candidate);
      if (end !== undefined) {
        candidate = end + 1n;
        moved = true;
      }
    }
    if (moved) continue;
    if (candidate === gateway) {
      candidate += 1n;
      continue;
    }
    if (pass > 0) {
      lastFree = candidate;
      pass--;
      candidate += 1n;
      continue;
    }
    return { kind: "new", address: { family: rule.range.family, value: candidate } };
  }
  // Fewer free addresses than the spread asked to pass over: the highest one found will do.
  if (lastFree !== undefined) return { kind: "new", address: { family: rule.range.family, value: lastFree } };
  const ip = (value: bigint) => formatIP({ family: rule.range.family, value });
  throw new ExhaustedError(
    `Could not allocate IP in range: ip: ${ip(first)} / - ${ip(last)} / range: ${formatCidr(masked(rule.range))} / excludeRanges: [${listed(rule.excludeText)}]`,
  );
}
