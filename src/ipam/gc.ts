// GC (CNI 1.1.0): release this network's entries whose attachment the runtime no longer knows.
// Only the host-local store holds nothing but this runtime's attachments; pools in a shared
// store (Kubernetes, etcd) hold other hosts' attachments too, which this runtime's list cannot
// vouch for, so there GC is left to the cluster controller.
import type { IpamConfig } from "../config/types.ts";
import type { Attachment } from "../pool/allocation.ts";
import type { Store } from "../store/store.ts";
import { poolOf } from "./pool-ref.ts";
import { releaseEntries } from "./release.ts";
import type { Deadline } from "./retry.ts";

/**
 * How many entries were released, or "shared" when nothing was done because the store is shared
 * (its callers must not report "released 0" for a GC that did not look).
 */
export async function collectGarbage(
  store: Store,
  config: IpamConfig,
  valid: readonly Attachment[],
  deadline: Deadline,
): Promise<number | "shared"> {
  if (store.datastore !== "local") return "shared";
  const live = new Set(valid.map((a) => `${a.containerId}\0${a.ifName}`));
  const liveContainers = new Set(valid.map((a) => a.containerId));
  // As DEL: a sticky entry is parked for its owner's next pod, a released address recorded.
  const options = {
    overlapping: config.enableOverlappingRanges,
    networkName: config.networkName,
    deadline,
    letGoAt: deadline.clock.now(),
    recordRelease: config.reuseCooldownSeconds > 0,
  };
  let released = 0;
  for (const rule of config.ranges) {
    const gone = await releaseEntries(
      store,
      poolOf(config, rule),
      ({ allocation: a }) =>
        a.ifName === "" ? !liveContainers.has(a.containerId) : !live.has(`${a.containerId}\0${a.ifName}`),
      options,
    );
    // Parked entries are kept, not released.
    released += gone.filter((e) => e.allocation.owner === undefined).length;
  }
  return released;
}
