// DEL: release this attachment's entries in every range (dual-stack: all of them, never stopping
// at the first range without one). Entries without an interface name (written by Whereabouts
// <= v0.7) are released on a container-id match, so upgrades do not strand them. A sticky entry
// (one with an owner: a StatefulSet slot, a VM) is parked instead, keeping its address and
// reservation for the owner's next pod; with a reuse cooldown, a released address gets a release
// record (a failed ADD's rollback writes none: its address was never used).
import type { Entry } from "../allocator/pool-view.ts";
import type { IpamConfig } from "../config/types.ts";
import type { Attachment } from "../pool/allocation.ts";
import type { Store } from "../store/store.ts";
import { rangePools } from "./node-slices.ts";
import type { RetryObserver } from "./observer.ts";
import { releaseEntries, type Selectable } from "./release.ts";
import type { Deadline } from "./retry.ts";

export function belongsTo(attachment: Attachment): (entry: Selectable) => boolean {
  return ({ allocation }) =>
    allocation.containerId === attachment.containerId &&
    (allocation.ifName === attachment.ifName || allocation.ifName === "");
}

/**
 * Releases the attachment's entries in every range, and with them every reservation their owner
 * holds, named by an entry or not (PoolChange.dropOwners: a writer killed between its requests can
 * leave one no entry names). When it holds no entry, reservations held by exactly this attachment
 * are dropped too: a failed ADD whose clean-up could not reach the store leaves its reservation
 * with no entry to find it by, and the runtime's DEL is the next chance. Entries with an owner are
 * parked, not released, and an attachment that has one keeps all its reservations. Returns the
 * entries let go (released or parked) as they were read: parked are those with an owner. On a
 * node-slice network every slice pool of `node` is looked in (the node may have grown).
 */
export async function deleteAttachment(
  store: Store,
  config: IpamConfig,
  attachment: Attachment,
  podRef: string | undefined,
  deadline: Deadline,
  observer?: RetryObserver,
  node?: string,
): Promise<readonly Entry[]> {
  const released: Entry[] = [];
  const options = {
    overlapping: config.enableOverlappingRanges,
    networkName: config.networkName,
    deadline,
    onePerPool: true,
    // With sticky addresses on, an attachment's entries in other ranges may be parked: dropping its
    // reservations by owner would take theirs too. The named ones still go (unreserve).
    dropOwners: !config.stickyAddresses,
    letGoAt: deadline.clock.now(),
    recordRelease: config.reuseCooldownSeconds > 0,
    // Stores that read parts look the attachment's entries up (release.ts, `attachment`).
    ...(podRef === undefined ? {} : { attachment: { podRef, ifName: attachment.ifName } }),
    ...(observer === undefined ? {} : { observer }),
  };
  for (const rule of config.ranges) {
    for (const pool of await rangePools(store, config, rule, node, deadline))
      released.push(...(await releaseEntries(store, pool, belongsTo(attachment), options)));
  }
  if (released.length === 0 && config.enableOverlappingRanges && podRef !== undefined) {
    await store.dropReservationsOf(
      { podRef, ifName: attachment.ifName, containerId: attachment.containerId },
      { deadline },
    );
  }
  return released;
}
