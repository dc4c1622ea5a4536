// One range of an ADD: read the pool, decide (pure), commit conditionally; on a pool conflict
// back off and retry, on a reservation held by another pod skip that address and retry.
import { assign, type Claimant } from "../allocator/assign.ts";
import { addressSet } from "../allocator/interval-set.ts";
import { podInterfaceKey, viewPool } from "../allocator/pool-view.ts";
import type { IpamConfig, IpRange } from "../config/types.ts";
import { StoreUnavailableError } from "../errors/errors.ts";
import { formatIP, type IP } from "../ip/index.ts";
import type { Logger } from "../log/logger.ts";
import { reservationName } from "../pool/naming.ts";
import { encodeOffsetKey } from "../pool/offset-key.ts";
import type { Store } from "../store/store.ts";
import { baseOf, poolOf, rangeText } from "./pool-ref.ts";
import { type Deadline, expired, pause } from "./retry.ts";

/** An address this ADD holds; `created` is false when the attachment already held it. */
export interface Held {
  readonly pool: string;
  readonly key: string;
  readonly address: IP;
  readonly prefix: number;
  readonly containerId: string;
  readonly created: boolean;
}

export async function allocateInRange(
  store: Store,
  config: IpamConfig,
  rule: IpRange,
  claimant: Claimant,
  deadline: Deadline,
  log: Logger,
): Promise<Held> {
  const pool = poolOf(config, rule);
  const skipped: bigint[] = [];
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0 && expired(deadline)) {
      throw new StoreUnavailableError(
        `gave up allocating in pool ${pool.name} after ${attempt} conflicting writes`,
      );
    }
    const snapshot = await store.getPool(pool.name);
    const base = baseOf(snapshot, pool.range);
    const view = viewPool(snapshot, base);
    for (const key of view.unreadableKeys)
      log.error(`pool ${pool.name}: ignoring unreadable offset key "${key}"`);
    const decision = assign(rule, view, claimant, {
      ...(config.gateway === undefined ? {} : { gateway: config.gateway }),
      skip: addressSet(skipped),
    });
    // The attachment's old entry, when its address turned out to be reserved elsewhere.
    const stale = view.byPodInterface.get(podInterfaceKey(claimant.podRef, claimant.ifName));
    const remove = decision.kind === "new" && stale !== undefined ? [stale.key] : [];
    const address = decision.kind === "new" ? decision.address : decision.entry.address;
    const key = decision.kind === "new" ? encodeOffsetKey(base, address) : decision.entry.key;
    const allocation = {
      containerId: claimant.containerId,
      podRef: claimant.podRef,
      ifName: claimant.ifName,
    };
    const set = decision.kind === "new" || decision.updated !== undefined ? [[key, allocation] as const] : [];
    const reserve = config.enableOverlappingRanges
      ? [{ name: reservationName(address, config.networkName), ...allocation }]
      : [];
    const held = {
      pool: pool.name,
      key,
      address,
      prefix: rule.range.prefix,
      containerId: claimant.containerId,
    };
    if (set.length === 0 && reserve.length === 0) return { ...held, created: false };
    const result = await store.commit({
      pool: pool.name,
      range: snapshot.version === undefined ? rangeText(pool.range) : snapshot.range,
      expectedVersion: snapshot.version,
      set,
      remove,
      reserve,
      unreserve: [],
    });
    if (result.ok) {
      log.debug(`${claimant.podRef} ${claimant.ifName}: ${formatIP(address)} from pool ${pool.name}`);
      return { ...held, created: decision.kind === "new" };
    }
    if (result.conflict === "reservation") {
      // Another network's range holds this address (overlapping ranges): never hand it out here.
      log.verbose(`${formatIP(address)} is reserved by ${result.holder.podRef}; trying the next address`);
      skipped.push(address.value);
      continue;
    }
    await pause(deadline, attempt);
  }
}
