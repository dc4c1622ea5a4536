// ADD: one address per configured range, each committed with optimistic concurrency. An address
// is reported only after its pool entry (and reservation) is committed; if a later range fails,
// the entries this ADD created are released again, so a failed ADD leaves nothing behind.
import type { Claimant } from "../allocator/assign.ts";
import { requestedPerRange } from "../allocator/requested.ts";
import type { IpamConfig } from "../config/types.ts";
import { describe } from "../errors/errors.ts";
import { formatIP, type IP } from "../ip/index.ts";
import type { Logger } from "../log/logger.ts";
import type { Store } from "../store/store.ts";
import { allocateInRange, type Held } from "./allocate-range.ts";
import { allocateInSlices, nodeOf, refuseWholeOnSliced } from "./node-slices.ts";
import { type RetryObserver, unobserved } from "./observer.ts";
import { releaseEntries } from "./release.ts";
import { type Deadline, deadlineIn, remainingMs } from "./retry.ts";

/**
 * How long a rollback may run past the call's deadline: an ADD that ran out of time (code 11)
 * should still leave nothing behind, and both the plugin's watchdog and the node agent give a
 * call 5 s past its deadline before they answer for it.
 */
export const ROLLBACK_GRACE_MS = 2_000;

/**
 * Who ADDs: the attachment, the owner of its sticky addresses (pool/owner.ts) when it has one, and
 * the addresses it requests (at most one per range, matched to ranges here; `source` names where
 * they came from in messages: `runtimeConfig ips`, the pod's annotation).
 */
export interface AddClaimant extends Omit<Claimant, "requested"> {
  readonly requested?: { readonly addresses: readonly IP[]; readonly source: string };
}

export interface AddOutcome {
  /** One address per range, in range order, with the range's prefix length. */
  readonly addresses: readonly { readonly address: IP; readonly prefix: number }[];
}

/** `node`: the node's name, needed on a node-slice network (its slices are the node's). */
export async function addAttachment(
  store: Store,
  config: IpamConfig,
  who: AddClaimant,
  deadline: Deadline,
  log: Logger,
  observer: RetryObserver = unobserved,
  node?: string,
): Promise<AddOutcome> {
  // Before anything is written: a requested address outside every range is refused here.
  const { requested: wants, ...attachment } = who;
  const requested = requestedPerRange(config.ranges, wants?.addresses ?? [], wants?.source ?? "");
  await refuseWholeOnSliced(store, config, deadline);
  const held: Held[] = [];
  try {
    for (const [i, rule] of config.ranges.entries()) {
      const wanted = requested[i];
      const claimant: Claimant = { ...attachment, ...(wanted === undefined ? {} : { requested: wanted }) };
      held.push(
        config.nodeSlices === undefined
          ? await allocateInRange(store, config, rule, claimant, deadline, log, observer)
          : await allocateInSlices(store, config, rule, claimant, nodeOf(node), deadline, log, observer),
      );
    }
  } catch (error) {
    const grace =
      remainingMs(deadline) < ROLLBACK_GRACE_MS ? deadlineIn(ROLLBACK_GRACE_MS, deadline.clock) : deadline;
    await rollBack(
      store,
      config,
      held.filter((h) => h.created),
      grace,
      log,
      observer,
    );
    throw error;
  }
  return { addresses: held.map((h) => ({ address: h.address, prefix: h.prefix })) };
}

async function rollBack(
  store: Store,
  config: IpamConfig,
  created: readonly Held[],
  deadline: Deadline,
  log: Logger,
  observer: RetryObserver,
): Promise<void> {
  for (const h of created) {
    try {
      await releaseEntries(
        store,
        h.pool,
        (e) => e.key === h.key && e.allocation.containerId === h.containerId,
        {
          overlapping: config.enableOverlappingRanges,
          networkName: config.networkName,
          deadline,
          observer,
        },
      );
    } catch (error) {
      // The runtime follows a failed ADD with DEL, which retries this release.
      log.error(`could not roll back ${h.pool.name} entry ${h.key}: ${describe(error)}`, {
        pool: h.pool.name,
        address: formatIP(h.address),
      });
    }
  }
}
