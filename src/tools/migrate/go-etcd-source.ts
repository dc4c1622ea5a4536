// Reads Go Whereabouts v0.5.4's allocations out of etcd (layout: go-etcd-layout.ts) with our etcd
// client: every key under `/whereabouts/` in one snapshot (a single revision, however many pages),
// so the ranges and their mutex keys are seen as they were at one instant. Reads only; never takes
// Go's mutex (a lock would not stop plugins that start after the read: they must be stopped, and
// a mutex key seen here says one is still running).
import { type Cidr, formatCidr } from "../../ip/index.ts";
import { decode, type RangeResponse } from "../../store/etcd/etcd-api.ts";
import { listUnder } from "../../store/etcd/etcd-client.ts";
import { connectEtcd } from "../../store/etcd/etcd-store.ts";
import type { EtcdSettings } from "../../store/settings.ts";
import { classifyKey, GO_ETCD_PREFIX, type GoRange, parseGoRange } from "./go-etcd-layout.ts";

/** A v0.5.4 plugin session waiting for or holding a range's mutex when the snapshot was taken. */
export interface GoLock {
  readonly range: Cidr;
  readonly lease: string;
}

export interface GoEtcdSnapshot {
  /** The etcd revision of the snapshot. */
  readonly revision: string;
  /** Ordered by range text. */
  readonly ranges: readonly GoRange[];
  readonly locks: readonly GoLock[];
  /** Keys under the prefix that are not v0.5.4's (left alone). */
  readonly otherKeys: number;
}

export async function readGoEtcd(settings: EtcdSettings): Promise<GoEtcdSnapshot> {
  const client = connectEtcd(settings);
  try {
    const { kvs, revision } = await listUnder(
      (request) =>
        client.call<RangeResponse>(
          "/v3/kv/range",
          request,
          "read Go Whereabouts v0.5.4's allocations (keys /whereabouts/…) from",
        ),
      GO_ETCD_PREFIX,
    );
    const ranges: GoRange[] = [];
    const locks: GoLock[] = [];
    let otherKeys = 0;
    for (const kv of kvs) {
      const key = classifyKey(decode(kv.key));
      if (key.kind === "range") ranges.push(parseGoRange(key.range, decode(kv.value)));
      else if (key.kind === "lock") locks.push({ range: key.range, lease: key.lease });
      else otherKeys++;
    }
    ranges.sort((a, b) => compareText(formatCidr(a.range), formatCidr(b.range)));
    return { revision: revision ?? "0", ranges, locks, otherKeys };
  } finally {
    client.close();
  }
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
