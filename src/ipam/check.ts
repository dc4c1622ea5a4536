// CHECK: the attachment must still hold an address in every configured range (and its
// reservation, when overlapping ranges are on); addresses the runtime cached in prevResult must
// be the ones held.

import type { Entry } from "../allocator/pool-view.ts";
import type { IpamConfig } from "../config/types.ts";
import { CniError } from "../errors/errors.ts";
import { formatIP } from "../ip/index.ts";
import type { Attachment } from "../pool/allocation.ts";
import { ownsReservation } from "../pool/allocation.ts";
import { reservationOf } from "../pool/naming.ts";
import type { Store } from "../store/store.ts";
import { belongsTo } from "./del.ts";
import { rangePools } from "./node-slices.ts";
import type { PoolRef } from "./pool-ref.ts";
import { storedEntries } from "./release.ts";
import type { Deadline } from "./retry.ts";

/** Plugin-specific CNI code: the attachment does not hold what it should. */
export const CHECK_FAILED = 101;

export async function checkAttachment(
  store: Store,
  config: IpamConfig,
  attachment: Attachment,
  prevResultAddresses: readonly string[] | undefined,
  deadline: Deadline,
  node?: string,
): Promise<void> {
  for (const rule of config.ranges) {
    const pools = await rangePools(store, config, rule, node, deadline);
    let found: { pool: PoolRef; entry: Entry } | undefined;
    for (const pool of pools) {
      const entry = storedEntries(await store.getPool(pool.name, { deadline }), pool).find(
        belongsTo(attachment),
      );
      if (entry !== undefined) {
        found = { pool, entry };
        break;
      }
    }
    const who = `container ${attachment.containerId} interface ${attachment.ifName}`;
    if (found === undefined) {
      const where =
        pools.length === 0
          ? `: node ${node ?? ""} holds no slice of the network`
          : ` in pool ${pools.map((p) => p.name).join(", ")}`;
      throw new CniError(CHECK_FAILED, `${who} holds no address${where}`);
    }
    const { pool, entry } = found;
    // Parked by the attachment's DEL: kept for the owner's next pod, no longer this attachment's.
    if (entry.allocation.parkedAt !== undefined)
      throw new CniError(
        CHECK_FAILED,
        `${who} holds no address in pool ${pool.name}: its ${formatIP(entry.address)} was parked by its DEL`,
      );
    const text = formatIP(entry.address);
    if (prevResultAddresses !== undefined && !prevResultAddresses.includes(text)) {
      throw new CniError(
        CHECK_FAILED,
        `${who} holds ${text} in pool ${pool.name}, which is not in prevResult`,
      );
    }
    if (config.enableOverlappingRanges) {
      const wanted = reservationOf(entry.address, config.networkName, entry.allocation);
      const reservation = await store.getReservation(wanted.name, { deadline });
      if (reservation === undefined || !ownsReservation(reservation, wanted)) {
        throw new CniError(
          CHECK_FAILED,
          `${who}: the reservation of ${text} is missing or held by another pod or network`,
        );
      }
    }
  }
}
