// The allocation decision: pure, no I/O. In order:
// 1. the attachment (podRef + interface) already holds an entry: that one (Whereabouts' idempotency);
// 2. its sticky owner (a StatefulSet slot, a VM) holds one for this interface: that one, rewritten
//    to the new pod, which takes over its reservation too;
// 3. an address was requested in this range: that one, or a refusal that says why;
// 4. otherwise the first free address in hand-out order (free-order.ts): the lowest, as
//    Whereabouts, or with a reuse cooldown the least recently released one out of cooldown.
// Free means inside the window, not excluded, not taken, not the gateway and not known to be
// reserved by another range.
import { ExhaustedError } from "../errors/errors.ts";
import { listed } from "../errors/message.ts";
import { type Cidr, formatCidr, formatIP, type IP, masked } from "../ip/index.ts";
import type { Allocation } from "../pool/allocation.ts";
import {
  type Candidates,
  type Cooldown,
  type Cooling,
  leastRecentlyReleased,
  lowestFree,
  nth,
} from "./free-order.ts";
import { coveringEnd, type IntervalSet } from "./interval-set.ts";
import { type Entry, ownerInterfaceKey, type PoolView, podInterfaceKey } from "./pool-view.ts";
import { checkRequested } from "./requested.ts";
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
  /** The pod's sticky owner (pool/owner.ts: ownerText), when sticky_addresses is on and it has one. */
  readonly owner?: string;
  /** The address requested in this range (requestedPerRange), if any. */
  readonly requested?: IP;
}

export type Decision =
  /**
   * The attachment keeps `entry`. `updated` is set when the entry must be rewritten (a new
   * container id, unparked, now carrying the owner, or another pod's taken over); `takenOver` when
   * it was another pod's (rule 2): its reservation is taken over from that pod
   * (`replaces` = ownerOf(entry.allocation)).
   */
  | {
      readonly kind: "existing";
      readonly entry: Entry;
      readonly updated: Allocation | undefined;
      readonly takenOver: boolean;
    }
  /**
   * A new entry `allocation` at `address`. `givesUp` is an entry of the attachment or its owner
   * that this one replaces (a different address was requested, or the held one turned out to be
   * reserved by another range): remove it with its reservation.
   */
  | {
      readonly kind: "new";
      readonly address: IP;
      readonly allocation: Allocation;
      readonly givesUp: Entry | undefined;
    };

export interface AssignOptions {
  readonly gateway?: IP;
  readonly skip?: IntervalSet;
  /**
   * After a lost race, take the k-th free address in hand-out order with k drawn uniformly below
   * `among` (k = floor(random · among)), so concurrent ADDs fan out instead of all chasing the same
   * address. Uncontended calls take the first.
   */
  readonly spread?: { readonly among: number; readonly random: number };
  /** reuse_cooldown_seconds and the time now; absent or 0 seconds: Whereabouts' lowest-free order. */
  readonly cooldown?: Cooldown;
}

/** The entry a claimant writes: its attachment and owner; never parked. */
function holderOf(claimant: Claimant, keptOwner?: string): Allocation {
  const owner = claimant.owner ?? keptOwner;
  return {
    containerId: claimant.containerId,
    podRef: claimant.podRef,
    ifName: claimant.ifName,
    ...(owner === undefined ? {} : { owner }),
  };
}

function sameEntry(a: Allocation, b: Allocation): boolean {
  return (
    a.containerId === b.containerId &&
    a.podRef === b.podRef &&
    a.ifName === b.ifName &&
    a.owner === b.owner &&
    a.parkedAt === b.parkedAt
  );
}

/**
 * The entry the attachment or its owner holds (rules 1 and 2), unless another range turned out to
 * reserve its address.
 */
export function heldEntry(view: PoolView, claimant: Claimant, skip: IntervalSet | undefined) {
  const usable = (e: Entry | undefined) =>
    e !== undefined && !(skip !== undefined && coveringEnd(skip, e.address.value) !== undefined)
      ? e
      : undefined;
  const own = view.byPodInterface.get(podInterfaceKey(claimant.podRef, claimant.ifName));
  if (own !== undefined) return { entry: usable(own), stale: own, takenOver: false };
  const owned =
    claimant.owner === undefined
      ? undefined
      : view.byOwnerInterface.get(ownerInterfaceKey(claimant.owner, claimant.ifName));
  return { entry: usable(owned), stale: owned, takenOver: owned !== undefined };
}

/** Whether the attachment keeps the entry it (or its owner) holds: rules 1 and 2 decide. */
export function keepsHeld(
  held: ReturnType<typeof heldEntry>,
  claimant: Claimant,
): held is {
  entry: Entry;
  stale: Entry;
  takenOver: boolean;
} {
  return (
    held.entry !== undefined &&
    (claimant.requested === undefined || claimant.requested.value === held.entry.address.value)
  );
}

/** What no new entry may take in `view` (rule 4's "free"), and the window it is taken from. */
export function candidatesOf(rule: RangeRule, view: PoolView, options: AssignOptions): Candidates {
  const window = candidateWindow(rule.range, rule.start, rule.end);
  const gateway = options.gateway?.family === rule.range.family ? options.gateway.value : undefined;
  const blockers: IntervalSet[] = [rule.exclude, view.taken];
  if (options.skip !== undefined) blockers.push(options.skip);
  return { window, blockers, gateway };
}

/** Which of the free addresses rule 4 takes: the k-th in hand-out order (0 when uncontended). */
export function spreadIndex(options: AssignOptions): number {
  return options.spread === undefined ? 0 : Math.floor(options.spread.random * options.spread.among);
}

export function assign(
  rule: RangeRule,
  view: PoolView,
  claimant: Claimant,
  options: AssignOptions = {},
): Decision {
  const held = heldEntry(view, claimant, options.skip);
  if (keepsHeld(held, claimant)) {
    // A repeated ADD keeps an owner the entry has even when this call found none (sticky_addresses
    // turned off meanwhile): only the controller decides when an owner's address goes.
    const updated = holderOf(claimant, held.entry.allocation.owner);
    return {
      kind: "existing",
      entry: held.entry,
      updated: sameEntry(updated, held.entry.allocation) ? undefined : updated,
      takenOver: held.takenOver,
    };
  }
  const candidates = candidatesOf(rule, view, options);
  const { window } = candidates;
  const family = rule.range.family;
  const allocation = holderOf(claimant, held.stale?.allocation.owner);
  if (claimant.requested !== undefined) {
    checkRequested(rule, view, candidates, claimant.requested, options.skip);
    return { kind: "new", address: claimant.requested, allocation, givesUp: held.stale };
  }
  const k = spreadIndex(options);
  const cooldown =
    options.cooldown !== undefined && options.cooldown.seconds > 0 ? options.cooldown : undefined;
  const cooling: Cooling = { count: 0, firstFreeAtMs: undefined };
  const order =
    cooldown === undefined
      ? lowestFree(candidates)
      : leastRecentlyReleased(candidates, view, cooldown, cooling);
  const value = nth(order, k);
  if (value !== undefined)
    return { kind: "new", address: { family, value }, allocation, givesUp: held.stale };
  throw exhausted(rule, window.first, window.last, cooldown, cooling);
}

/** Go's AssignmentError text (users search for it), and why when the free addresses are cooling. */
function exhausted(
  rule: RangeRule,
  first: bigint,
  last: bigint,
  cooldown: Cooldown | undefined,
  cooling: Cooling,
): ExhaustedError {
  const ip = (value: bigint) => formatIP({ family: rule.range.family, value });
  const text = `Could not allocate IP in range: ip: ${ip(first)} / - ${ip(last)} / range: ${formatCidr(masked(rule.range))} / excludeRanges: [${listed(rule.excludeText)}]`;
  if (cooldown === undefined || cooling.firstFreeAtMs === undefined) return new ExhaustedError(text);
  const inSeconds = Math.max(1, Math.ceil((cooling.firstFreeAtMs - cooldown.nowMs) / 1000));
  const addresses = cooling.count === 1 ? "1 free address was" : `${cooling.count} free addresses were`;
  return new ExhaustedError(
    `${text}: ${addresses} released less than reuse_cooldown_seconds (${cooldown.seconds}) ago; ` +
      `the first is handed out again in ${inSeconds} s (at ${new Date(cooling.firstFreeAtMs).toISOString()})`,
  );
}
