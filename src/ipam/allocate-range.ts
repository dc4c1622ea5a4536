// One range of an ADD: read the pool, decide (pure), commit with per-address preconditions. A lost
// race (the address was taken meanwhile) is retried at once with a fresh read, fanning out over
// the lowest free addresses; an address reserved by another network's range is skipped.
import { type AssignOptions, assign, type Claimant, type Decision } from "../allocator/assign.ts";
import { addressSet } from "../allocator/interval-set.ts";
import { assignOnPart, firstPart, mergeParts, type PartRead } from "../allocator/part-view.ts";
import { viewPool } from "../allocator/pool-view.ts";
import type { IpamConfig, IpRange } from "../config/types.ts";
import { StoredDataError, StoreUnavailableError } from "../errors/errors.ts";
import { formatIP, type IP, ipOf } from "../ip/index.ts";
import type { Logger } from "../log/logger.ts";
import { claimsAgree, type PoolSnapshot, type Reservation } from "../pool/allocation.ts";
import { reservationOf } from "../pool/naming.ts";
import { encodeOffsetKey } from "../pool/offset-key.ts";
import { releaseRecords } from "../pool/release-records.ts";
import {
  ownerOf,
  type PoolChange,
  type PoolPart,
  type PoolPartReader,
  poolChange,
  type Store,
} from "../store/store.ts";
import { type RetryObserver, unobserved } from "./observer.ts";
import { baseOf, type PoolRef, poolOf, rangeText } from "./pool-ref.ts";
import { type Deadline, expired, pause } from "./retry.ts";
import { oncePerView, verifiableBy } from "./view-decision.ts";

/** An address this ADD holds; `created` is false when the attachment already held it. */
export interface Held {
  readonly pool: PoolRef;
  readonly key: string;
  readonly address: IP;
  readonly prefix: number;
  readonly containerId: string;
  readonly created: boolean;
}

/**
 * How many of the lowest free addresses to spread over after `races` lost races: 8, 32, then 64.
 * Widening fast matters: everyone who lost a race read the same pool and would collide again
 * (measured on etcd at 32 in flight: doubling from 2 gave p99 ~660 ms, this ~400 ms).
 */
export function spreadAfter(races: number): number {
  return Math.min(8 * 4 ** (races - 1), 64);
}

/** What one attempt decided on one view of the pool. */
interface Attempt {
  readonly change: PoolChange;
  readonly held: Omit<Held, "created">;
  readonly isNew: boolean;
  readonly unreadableKeys: readonly string[];
}

/**
 * Where an address is allocated: the pool, the rule that says what it hands out (the configured
 * range's, or a node slice's: allocator/slice-rule.ts) and the prefix length reported with the
 * address (the configured range's, also for an address of a slice).
 */
export interface PoolTarget {
  readonly pool: PoolRef;
  readonly rule: IpRange;
  readonly prefix: number;
}

/** The whole-range pool of a configured range. */
export function rangeTarget(config: IpamConfig, rule: IpRange): PoolTarget {
  return { pool: poolOf(config, rule), rule, prefix: rule.range.prefix };
}

export function allocateInRange(
  store: Store,
  config: IpamConfig,
  rule: IpRange,
  claimant: Claimant,
  deadline: Deadline,
  log: Logger,
  observer: RetryObserver = unobserved,
): Promise<Held> {
  return allocateInPool(store, config, rangeTarget(config, rule), claimant, deadline, log, observer);
}

export async function allocateInPool(
  store: Store,
  config: IpamConfig,
  target: PoolTarget,
  claimant: Claimant,
  deadline: Deadline,
  log: Logger,
  observer: RetryObserver = unobserved,
): Promise<Held> {
  const { pool } = target;
  const skipped: bigint[] = [];
  let races = 0;
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0 && expired(deadline)) {
      throw new StoreUnavailableError(`gave up allocating in pool ${pool.name} after ${attempt} attempts`);
    }
    const spread = races === 0 ? undefined : { among: spreadAfter(races), random: deadline.clock.random() };
    const nowMs = deadline.clock.now();
    const options = assignOptionsOf(config, skipped, spread, nowMs);
    const decide = oncePerView((snapshot) => decideOn(snapshot, target, config, claimant, options, nowMs));
    // A view from a cache (node agent) is fine for choosing a new address, or a new container id
    // for the one held: the commit's preconditions catch staleness. Keeping an address as it is
    // commits no entry precondition: for that, only the store's own answer will do. Nor does any
    // precondition cover release records: with a reuse cooldown, a new address is chosen on the
    // store's own view, so another node's release a moment ago is not missed.
    const cooling = config.reuseCooldownSeconds > 0;
    const { change, held, isNew, unreadableKeys } =
      (store.parts === undefined
        ? undefined
        : await decideOnParts(store.parts, target, config, claimant, options, nowMs, deadline, cooling)) ??
      decide(
        await store.getPool(pool.name, {
          deadline,
          verifiable: verifiableBy(
            decide,
            (a) => a.change.create.length + a.change.update.length > 0 && !(cooling && a.isNew),
          ),
        }),
      );
    for (const key of unreadableKeys)
      log.error(`pool ${pool.name}: ignoring unreadable offset key "${key}"`, { pool: pool.name });
    const address = formatIP(held.address);
    if (change.create.length + change.update.length + change.reserve.length === 0) {
      observer.allocated(attempt);
      return { ...held, created: false };
    }
    const result = await store.commit(change, { deadline });
    if (result.ok) {
      log.debug(`${claimant.podRef} ${claimant.ifName}: ${address} from pool ${pool.name}`, {
        pool: pool.name,
        address,
      });
      observer.allocated(attempt);
      return { ...held, created: isNew };
    }
    if (result.conflict === "reservation") {
      const wanted = change.reserve[0];
      if (wanted !== undefined) refuseCollision(result.holder, wanted);
      // Another network's range holds this address (overlapping ranges): never hand it out here.
      log.verbose(`${address} is reserved by ${result.holder.podRef}; trying the next address`, {
        pool: pool.name,
        address,
      });
      skipped.push(held.address.value);
      continue;
    }
    // Lost a race for this address: retry at once with a fresh read, spreading wider each time;
    // back off only when races keep being lost.
    observer.lostRace("allocate");
    races++;
    if (races > 3) await pause(deadline, races - 3);
  }
}

function assignOptionsOf(
  config: IpamConfig,
  skipped: readonly bigint[],
  spread: { readonly among: number; readonly random: number } | undefined,
  nowMs: number,
): AssignOptions {
  return {
    ...(config.gateway === undefined ? {} : { gateway: config.gateway }),
    skip: addressSet(skipped),
    ...(spread === undefined ? {} : { spread }),
    ...(config.reuseCooldownSeconds > 0 ? { cooldown: { nowMs, seconds: config.reuseCooldownSeconds } } : {}),
  };
}

/** The allocation decision (pure) on the whole pool as read, and the change that commits it. */
function decideOn(
  snapshot: PoolSnapshot,
  target: PoolTarget,
  config: IpamConfig,
  claimant: Claimant,
  options: AssignOptions,
  nowMs: number,
): Attempt {
  const base = baseOf(snapshot, target.pool);
  const view = viewPool(snapshot, base);
  const decision = assign(target.rule, view, claimant, options);
  return attemptOf(snapshot, base, decision, target, config, claimant, nowMs, view.unreadableKeys);
}

/**
 * The decision taken on parts of the pool (Store.parts): the first part, then the next ones as
 * long as the decision needs more of the window. Undefined when the pool's offsets do not count
 * from its network (host bits written in spec.range, which no writer of ours does): such a pool is
 * read whole. Parts come from separate reads; a change between them can only make the commit
 * lose a race, as a stale view can.
 */
async function decideOnParts(
  parts: PoolPartReader,
  target: PoolTarget,
  config: IpamConfig,
  claimant: Claimant,
  options: AssignOptions,
  nowMs: number,
  deadline: Deadline,
  cooling: boolean,
): Promise<Attempt | undefined> {
  const { pool, rule } = target;
  const base = ipOf(pool.range);
  const first = firstPart(rule, base, claimant, options);
  const decideOn = (read: PartRead) =>
    baseOf(read.snapshot, pool).value === base.value
      ? assignOnPart(rule, base, read, claimant, options)
      : undefined;
  const decideFirst = oncePerView(decideOn);
  // A part from a cache (node agent) without this attachment's lookups will do for a new address
  // when the commit checks the rest: the address free (its create), the attachment holding no
  // entry elsewhere (`absent`). Not for keeping or giving up an entry the part shows, nor with a
  // reuse cooldown (no precondition covers release records).
  const firstRead: PoolPart = await parts.getPoolPart(pool.name, first, {
    deadline,
    verifiable: verifiableBy(decideFirst, (d) => d?.kind === "new" && d.givesUp === undefined && !cooling),
  });
  const absent =
    firstRead.withoutLookups === true ? [{ podRef: claimant.podRef, ifName: claimant.ifName }] : [];
  let part: PartRead = firstRead;
  for (;;) {
    const decision = part === firstRead ? decideFirst(part) : decideOn(part);
    if (decision === undefined) return undefined;
    if (decision.kind !== "more") {
      const attempt = attemptOf(part.snapshot, base, decision, target, config, claimant, nowMs, []);
      return absent.length === 0 ? attempt : { ...attempt, change: { ...attempt.change, absent } };
    }
    const next = await parts.getPoolPart(
      pool.name,
      { podRef: claimant.podRef, ifName: claimant.ifName, scan: decision.scan },
      { deadline },
    );
    part = mergeParts(part, next);
  }
}

/** The change that commits `decision`, taken on a view of `snapshot` (whole, or parts merged). */
function attemptOf(
  snapshot: PoolSnapshot,
  base: IP,
  decision: Decision,
  { pool, prefix }: PoolTarget,
  config: IpamConfig,
  claimant: Claimant,
  nowMs: number,
  unreadableKeys: readonly string[],
): Attempt {
  const cooling = config.reuseCooldownSeconds > 0;
  const isNew = decision.kind === "new";
  const address = isNew ? decision.address : decision.entry.address;
  const key = isNew ? encodeOffsetKey(base, address) : decision.entry.key;
  const holder = isNew ? decision.allocation : (decision.updated ?? decision.entry.allocation);
  // The entry given up for the new one: the held address turned out reserved by another range, or
  // another address was requested. Its reservation goes too (unreserve drops only our own).
  const givesUp = isNew ? decision.givesUp : undefined;
  // A new entry's address is in use again: its release record goes. An address given up was in
  // use: with a cooldown it gets one.
  const records = releaseRecords(
    snapshot.released,
    cooling && givesUp !== undefined ? [givesUp.key] : [],
    nowMs,
    isNew ? [key] : [],
  );
  const reservation = reservationOf(address, config.networkName, holder);
  const change = poolChange(
    pool.name,
    snapshot.version === undefined ? rangeText(pool.range) : snapshot.range,
    {
      create: isNew ? [[key, holder]] : [],
      update:
        !isNew && decision.updated !== undefined
          ? [{ key, from: decision.entry.allocation, to: decision.updated }]
          : [],
      remove: givesUp === undefined ? [] : [[givesUp.key, givesUp.allocation]],
      reserve: config.enableOverlappingRanges
        ? [
            !isNew && decision.takenOver
              ? { ...reservation, replaces: ownerOf(decision.entry.allocation) }
              : reservation,
          ]
        : [],
      unreserve:
        config.enableOverlappingRanges && givesUp !== undefined
          ? [reservationOf(givesUp.address, config.networkName, givesUp.allocation)]
          : [],
      ...(records.release.length > 0 ? { release: records.release } : {}),
      ...(records.forget.length > 0 ? { forget: records.forget } : {}),
      usable: pool.usable,
    },
  );
  return {
    change,
    held: { pool, key, address, prefix, containerId: claimant.containerId },
    isNew,
    unreadableKeys,
  };
}

/**
 * A reservation recorded for another address or network under the name this ADD needs: two
 * network_names map to one reservation name (`x` + fd00:1::5 and `x-fd00` + 1::5 are both
 * `x-fd00-1--5`). Skipping the address would hide that until one network runs out of addresses
 * it cannot see; refuse with both named. A holder without a claim (Go wrote it) is an overlap.
 */
function refuseCollision(holder: Reservation, wanted: Reservation): void {
  const theirs = holder.claim;
  const ours = wanted.claim;
  if (theirs === undefined || ours === undefined || claimsAgree(theirs, ours)) return;
  throw new StoredDataError(
    `reservation ${wanted.name} holds ${theirs.address} of network_name ${JSON.stringify(theirs.networkName)}; ` +
      `this network (network_name ${JSON.stringify(ours.networkName)}) needs it for ${ours.address}: ` +
      "reservation names collide, rename one network_name",
  );
}
