// The IPAM sections the namespace tests hand to plugins (thereabouts on the embedded store,
// host-local per node, static), and read-outs of the embedded store.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { Node } from "./netns-harness.ts";

/** The thereabouts ipam section on the embedded (sqlite) store. */
export function localIpam(storePath: string, type: "thereabouts" | "whereabouts", range: object): object {
  return { type, ...range, datastore: "local", local: { path: storePath } };
}

/** One host-local range: the subnet, optionally narrowed to [rangeStart, rangeEnd]. */
export interface HostLocalRange {
  readonly subnet: string;
  readonly rangeStart?: string;
  readonly rangeEnd?: string;
  readonly gateway?: string;
}

/**
 * host-local IPAM keeping its reservations in the node's directory (each node has its own, as on
 * real nodes); one range set per range given (e.g. one IPv4 and one IPv6 range: dual stack).
 */
export function hostLocalIpam(node: Node, ranges: readonly HostLocalRange[], extra: object = {}): object {
  return { type: "host-local", ranges: ranges.map((r) => [r]), dataDir: hostLocalDir(node), ...extra };
}

export function hostLocalDir(node: Node): string {
  return join(node.dir, "host-local");
}

/** static IPAM: these addresses (CIDR, optional gateway) and routes. */
export function staticIpam(
  addresses: readonly { address: string; gateway?: string }[],
  routes: readonly { dst: string; gw?: string }[] = [],
): object {
  return { type: "static", addresses, ...(routes.length > 0 ? { routes } : {}) };
}

export interface StoreRows {
  readonly allocations: number;
  readonly reservations: number;
  readonly pools: number;
}

/** Row counts of the local store (src/store/local/schema.ts); all zero when the file was never made. */
export function storeRows(path: string): StoreRows {
  if (!existsSync(path)) return { allocations: 0, reservations: 0, pools: 0 };
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const count = (table: string) =>
      Number((db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number | bigint }).n);
    return { allocations: count("allocations"), reservations: count("reservations"), pools: count("pools") };
  } finally {
    db.close();
  }
}

/** The allocations of the local store, for messages. */
export function storeAllocations(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare("SELECT * FROM allocations ORDER BY pool, key").all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

/** `192.0.2.1/24` → `192.0.2.1`. */
export function bare(cidr: string): string {
  return cidr.split("/")[0]!;
}
