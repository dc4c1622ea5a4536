// What `thereabouts migrate` will write, decided from a snapshot of the v0.5.4 ranges and a read of
// the target pools and reservations. Pure. Each v0.5.4 allocation becomes the pool entry and the
// overlapping-range reservation an ADD of the target network would write for it: the offset key
// from the pool's stored range, `{id: containerID, podref: "", ifname: ""}` (v0.5.4 recorded no
// pod and no interface, and nothing is invented: an empty podref is never reclaimed by the
// controller nor by Go's reconciler, and DEL releases such an entry, with its reservation, by the
// container id alone; docs/tools.md, migrate). An address the target already holds for the same
// container is left as it is (a second run changes nothing); one held or reserved for anyone else
// is a problem, never overwritten. A plan with any problem is not written at all.

import { intervalSet } from "../../allocator/interval-set.ts";
import { type Entry, viewPool } from "../../allocator/pool-view.ts";
import { handedOut } from "../../allocator/usage.ts";
import { describe } from "../../errors/errors.ts";
import { quote } from "../../errors/message.ts";
import { type Cidr, formatCidr, formatIP, type IP } from "../../ip/index.ts";
import { baseOf, type PoolRef, rangeText } from "../../ipam/pool-ref.ts";
import { type Allocation, claimsAgree, type PoolSnapshot, type Reservation } from "../../pool/allocation.ts";
import { poolName, reservationOf } from "../../pool/naming.ts";
import { encodeOffsetKey } from "../../pool/offset-key.ts";
import { emptyPool } from "../../store/store.ts";
import { type GoEntry, type GoRange, goRangeKey } from "./go-etcd-layout.ts";
import type { GoLock } from "./go-etcd-source.ts";

/** A v0.5.4 allocation as the target records it. */
export interface PlannedEntry {
  readonly key: string;
  readonly address: IP;
  readonly allocation: Allocation;
  /** The reservation written with it; absent when the target already holds it for this container. */
  readonly reserve?: Reservation;
}

export interface PoolPlan {
  readonly pool: PoolRef;
  /** spec.range of the changes: as stored, or the range when the pool is new. */
  readonly rangeText: string;
  /** Allocations of the v0.5.4 range. */
  readonly source: number;
  readonly add: readonly PlannedEntry[];
  /** Reservations missing beside entries the target already holds (`present`). */
  readonly reserve: readonly Reservation[];
  /** Allocations the target already holds for the same container. */
  readonly present: readonly GoEntry[];
}

export const PROBLEM_KINDS = [
  "locked",
  "unconfigured",
  "pool",
  "unreadable",
  "duplicate",
  "held",
  "reserved",
] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

/** Why something cannot be migrated as it is; the message says what to do. */
export interface Problem {
  readonly kind: ProblemKind;
  /** The v0.5.4 range. */
  readonly range: string;
  readonly pool?: string;
  readonly address?: string;
  readonly containerId?: string;
  readonly message: string;
}

export interface MigrationPlan {
  readonly pools: readonly PoolPlan[];
  readonly problems: readonly Problem[];
}

export interface PlanInput {
  /** The v0.5.4 ranges to migrate. */
  readonly ranges: readonly GoRange[];
  readonly locks: readonly GoLock[];
  /** The target network's pool for a range; undefined when it must be configured and is not. */
  readonly poolFor: (range: Cidr) => PoolRef | undefined;
  /** Target pools by name, as read (a missing one is new). */
  readonly pools: ReadonlyMap<string, PoolSnapshot>;
  /** Every reservation of the target (read only when `overlapping`). */
  readonly reservations: readonly Reservation[];
  /** The target's enable_overlapping_ranges: reservations go with the entries, as ADD writes them. */
  readonly overlapping: boolean;
  readonly networkName: string;
}

/**
 * The pool a range gets when the target network does not configure it (every v0.5.4 range is
 * migrated): the name the target's network_name gives it, and the addresses a configuration of
 * just that range would hand out (for the pool status the Kubernetes store keeps).
 */
export function unconfiguredPool(range: Cidr, networkName: string): PoolRef {
  let usable = intervalSet([]);
  try {
    usable = handedOut({ range, exclude: intervalSet([]), excludeText: [] });
  } catch {
    // A /31, /32 (or IPv6 /127, /128) hands nothing out; its entries are migrated all the same.
  }
  return { name: poolName(range, networkName), range, networkName, usable };
}

const NO_POD: Omit<Allocation, "containerId"> = { podRef: "", ifName: "" };

export function planMigration(input: PlanInput): MigrationPlan {
  const problems: Problem[] = [];
  const pools: PoolPlan[] = [];
  const held = new Map(input.reservations.map((r) => [r.name, r]));
  for (const source of input.ranges) {
    const range = formatCidr(source.range);
    for (const lock of input.locks.filter((l) => formatCidr(l.range) === range)) {
      problems.push({
        kind: "locked",
        range,
        message:
          `a Go Whereabouts v0.5.4 plugin holds or waits for the lock of range ${range} (etcd key ` +
          `${goRangeKey(source.range)}/${lock.lease}): stop every v0.5.4 plugin, wait for its lease to ` +
          "expire (60 s), then run again",
      });
    }
    for (const bad of source.bad) {
      problems.push({
        kind: "unreadable",
        range,
        message: `etcd key ${goRangeKey(source.range)}, line ${bad.line}: ${bad.reason}; correct or delete that line, then run again`,
      });
    }
    const pool = input.poolFor(source.range);
    if (pool === undefined) {
      problems.push({
        kind: "unconfigured",
        range,
        message: `the --to network does not configure range ${range}: add it there (range or ipRanges), or leave out --only-configured`,
      });
      continue;
    }
    const snapshot = input.pools.get(pool.name) ?? emptyPool(pool.name);
    let base: IP;
    try {
      base = baseOf(snapshot, pool);
    } catch (error) {
      problems.push({ kind: "pool", range, pool: pool.name, message: describe(error) });
      continue;
    }
    const stored = new Map<bigint, Entry>();
    for (const e of viewPool(snapshot, base).entries)
      if (!stored.has(e.address.value)) stored.set(e.address.value, e);
    const plan = { add: [] as PlannedEntry[], reserve: [] as Reservation[], present: [] as GoEntry[] };
    for (const entry of withoutDuplicates(source, pool.name, problems)) {
      const address = formatIP(entry.address);
      const allocation: Allocation = { containerId: entry.containerId, ...NO_POD };
      const where = { range, pool: pool.name, address, containerId: entry.containerId };
      const existing = stored.get(entry.address.value);
      if (existing !== undefined && existing.allocation.containerId !== entry.containerId) {
        problems.push({
          kind: "held",
          ...where,
          message: `${address} of container ${quote(entry.containerId)} is held in pool ${pool.name} by ${holderText(existing.allocation)}: find which pod really has it and release the other, then run again`,
        });
        continue;
      }
      let reserve: Reservation | undefined;
      if (input.overlapping) {
        const wanted = reservationOf(entry.address, input.networkName, allocation);
        const holder = held.get(wanted.name);
        if (holder === undefined) {
          reserve = wanted;
          held.set(wanted.name, wanted);
        } else if (holder.containerId !== entry.containerId || !claimsAgree(holder.claim, wanted.claim)) {
          problems.push({
            kind: "reserved",
            ...where,
            message: `${address} of container ${quote(entry.containerId)} is reserved (reservation ${wanted.name}) by ${holderText(holder)}${holder.claim === undefined ? "" : ` for ${holder.claim.address} of network_name ${quote(holder.claim.networkName)}`}: an overlapping range holds it; find which pod really has it and release the other, then run again`,
          });
          continue;
        }
      }
      if (existing !== undefined) {
        plan.present.push(entry);
        if (reserve !== undefined) plan.reserve.push(reserve);
        continue;
      }
      plan.add.push({
        key: encodeOffsetKey(base, entry.address),
        address: entry.address,
        allocation,
        ...(reserve === undefined ? {} : { reserve }),
      });
    }
    pools.push({
      pool,
      rangeText: snapshot.version === undefined ? rangeText(pool.range) : snapshot.range,
      source: source.entries.length,
      ...plan,
    });
  }
  return { pools, problems };
}

/**
 * The range's allocations without addresses listed for several containers: nothing tells which
 * one has it, so none is migrated and the address is reported.
 */
function withoutDuplicates(source: GoRange, pool: string, problems: Problem[]): GoEntry[] {
  const owners = new Map<bigint, GoEntry[]>();
  for (const e of source.entries) owners.set(e.address.value, [...(owners.get(e.address.value) ?? []), e]);
  const range = formatCidr(source.range);
  const kept: GoEntry[] = [];
  for (const list of owners.values()) {
    if (list.length === 1) {
      kept.push(list[0]!);
      continue;
    }
    const address = formatIP(list[0]!.address);
    const ids = list.map((e) => quote(e.containerId)).join(" and ");
    problems.push({
      kind: "duplicate",
      range,
      pool,
      address,
      message: `etcd key ${goRangeKey(source.range)} lists ${address} for containers ${ids}: delete the lines of those that do not have it, then run again`,
    });
  }
  return kept;
}

function holderText(holder: { containerId: string; podRef: string }): string {
  const pod = holder.podRef === "" ? "" : ` (pod ${holder.podRef})`;
  return `container ${quote(holder.containerId)}${pod}`;
}

/** Totals of a plan, for the summary line and the records. */
export function planTotals(plan: MigrationPlan): {
  source: number;
  add: number;
  reservations: number;
  present: number;
} {
  let source = 0;
  let add = 0;
  let reservations = 0;
  let present = 0;
  for (const p of plan.pools) {
    source += p.source;
    add += p.add.length;
    reservations += p.add.filter((e) => e.reserve !== undefined).length + p.reserve.length;
    present += p.present.length;
  }
  return { source, add, reservations, present };
}
