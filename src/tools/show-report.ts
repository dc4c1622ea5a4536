// What `thereabouts show` reports, built from the read model without I/O: the records that
// `-o json` / `-o yaml` print (their field names are documented in docs/tools.md and kept
// stable), and the tables people read. Counts that can exceed 2^53 (`size`, `free`) are decimal
// strings in json/yaml, as in the IPPool status.
import type { Entry } from "../allocator/pool-view.ts";
import { contains, formatCidr, formatIP, type IP } from "../ip/index.ts";
import type { Reservation } from "../pool/allocation.ts";
import { reservationName } from "../pool/naming.ts";
import type { PoolRecord } from "./inventory.ts";
import {
  type Cell,
  compactCount,
  humanAge,
  type Look,
  paint,
  printable,
  renderTable,
  truncate,
  utilisation,
  utilisationBar,
} from "./output.ts";
import type { PodInfo } from "./pods.ts";

/** A pool in `show` / `show pools`, and the head of `show pool NAME`. */
export interface PoolSummary {
  readonly name: string;
  readonly range: string;
  /** The network_name its name was made with (null: the name is not `[<network_name>-]<range>`). */
  readonly networkName: string | null;
  /** false: a range of the --config network that nothing has written to yet. */
  readonly exists: boolean;
  readonly size: bigint;
  readonly used: number;
  readonly free: bigint;
  /** used / size in percent, one decimal, rounded down. */
  readonly utilisation: number;
}

/** What the cluster says of an entry's pod: null where there is no cluster to ask (local, etcd). */
export interface PodRecord {
  readonly exists: boolean;
  readonly uid: string | null;
  readonly node: string | null;
  readonly phase: string | null;
  /** creationTimestamp (RFC 3339). */
  readonly created: string | null;
  /** Why the pod counts as gone (the controller's reading), null while it may run. */
  readonly gone: string | null;
}

export interface EntryRecord {
  readonly pool: string;
  readonly address: string;
  /** The offset key as stored. */
  readonly key: string;
  readonly podRef: string;
  readonly containerId: string;
  readonly ifName: string;
  /** A sticky address's owner (statefulset/… or vm/…); absent on other entries. */
  readonly owner?: string;
  /** When its holder's DEL parked it (RFC 3339); absent unless parked. */
  readonly parkedAt?: string;
  readonly pod: PodRecord | null;
}

/** One of a pod's addresses in `show pod`. */
export interface PodAddressRecord {
  readonly pool: string;
  readonly address: string;
  readonly key: string;
  readonly containerId: string;
  readonly ifName: string;
}

export interface ReservationRecord {
  readonly name: string;
  readonly podRef: string;
  readonly containerId: string;
  readonly ifName: string;
  /** The address and network_name thereabouts records with a reservation (null: Go wrote it). */
  readonly address: string | null;
  readonly networkName: string | null;
}

export function poolSummary(pool: PoolRecord): PoolSummary {
  return {
    name: pool.name,
    range: !pool.exists && pool.configured !== undefined ? formatCidr(pool.configured.range) : pool.range,
    networkName: pool.networkName ?? null,
    exists: pool.exists,
    size: pool.size,
    used: pool.used,
    free: pool.free,
    utilisation: utilisation(pool.used, pool.size),
  };
}

export function podRecord(pods: ReadonlyMap<string, PodInfo> | undefined, ref: string): PodRecord | null {
  if (pods === undefined) return null;
  const pod = pods.get(ref);
  if (pod === undefined)
    return { exists: false, uid: null, node: null, phase: null, created: null, gone: "not found" };
  return {
    exists: true,
    uid: pod.uid,
    node: pod.node === "" ? null : pod.node,
    phase: pod.phase === "" ? null : pod.phase,
    created: pod.created === "" ? null : pod.created,
    gone: pod.gone ?? null,
  };
}

export function entryRecord(
  pool: string,
  entry: Entry,
  pods: ReadonlyMap<string, PodInfo> | undefined,
): EntryRecord {
  const { podRef, containerId, ifName, owner, parkedAt } = entry.allocation;
  return {
    pool,
    address: formatIP(entry.address),
    key: entry.key,
    podRef,
    containerId,
    ifName,
    ...(owner === undefined ? {} : { owner }),
    ...(parkedAt === undefined ? {} : { parkedAt: new Date(parkedAt).toISOString() }),
    pod: podRecord(pods, podRef),
  };
}

export function podAddressRecord(pool: string, entry: Entry): PodAddressRecord {
  const { containerId, ifName } = entry.allocation;
  return { pool, address: formatIP(entry.address), key: entry.key, containerId, ifName };
}

export function reservationRecord(r: Reservation): ReservationRecord {
  return {
    name: r.name,
    podRef: r.podRef,
    containerId: r.containerId,
    ifName: r.ifName,
    address: r.claim?.address ?? null,
    networkName: r.claim?.networkName ?? null,
  };
}

/**
 * Whether a reservation is for `address` (in `network`, when given): by its recorded claim, else
 * (Go's, which record none) by its name, `[<network_name>-]<address>`.
 */
export function reservesAddress(r: Reservation, address: IP, network: string | undefined): boolean {
  if (r.claim !== undefined)
    return (
      r.claim.address === formatIP(address) && (network === undefined || r.claim.networkName === network)
    );
  const bare = reservationName(address, "");
  if (network !== undefined) return r.name === reservationName(address, network);
  return r.name === bare || r.name.endsWith(`-${bare}`);
}

/** Whether a reservation belongs to `network`: by its claim, else by its name's prefix. */
export function reservationInNetwork(r: Reservation, network: string): boolean {
  if (r.claim !== undefined) return r.claim.networkName === network;
  return network === "" || r.name.startsWith(`${network}-`);
}

/** The pools whose range holds `address`. */
export function poolsHolding(pools: readonly PoolRecord[], address: IP): readonly PoolRecord[] {
  return pools.filter((p) => p.cidr !== undefined && contains(p.cidr, address));
}

// ---- tables ---------------------------------------------------------------------------------

const SHORT_ID = 12;

/** A container id as docker and crictl show it: its first 12 characters. */
export function shortId(id: string): string {
  return id.slice(0, SHORT_ID);
}

function dash(text: string | null | undefined): string {
  return text === null || text === undefined || text === "" ? "-" : text;
}

function ageOf(pod: PodRecord | null, now: number): string {
  if (pod?.created === null || pod?.created === undefined) return "-";
  const at = Date.parse(pod.created);
  return Number.isNaN(at) ? "-" : humanAge(now - at);
}

function podCell(ref: string, pod: PodRecord | null): Cell {
  return { text: dash(ref), style: pod?.gone ? "red" : undefined };
}

export function poolsTable(pools: readonly PoolSummary[], look: Look): string {
  if (pools.length === 0) return "no pools\n";
  return renderTable(
    [
      { header: "POOL", shrink: 2 },
      { header: "RANGE", shrink: 0 },
      { header: "SIZE", align: "right", shrink: 0 },
      { header: "USED", align: "right", shrink: 0 },
      { header: "FREE", align: "right", shrink: 0 },
      { header: "UTILISATION", shrink: 0 },
    ],
    pools.map((p) => [
      p.name,
      p.range,
      compactCount(p.size),
      compactCount(p.used),
      compactCount(p.free),
      utilisationBar(p.used, p.size),
    ]),
    look,
  );
}

/** One line, fitted to the width (stored text made printable). */
export function line(text: string, look: Look): string {
  return `${truncate(printable(text), look.width)}\n`;
}

/** Two lines: the pool (and its network), then its range and usage with the bar. */
export function poolHead(pool: PoolSummary, look: Look): string {
  const network =
    pool.networkName === null || pool.networkName === "" ? "" : ` (network ${pool.networkName})`;
  const missing = pool.exists ? "" : ", not created yet";
  const bar = utilisationBar(pool.used, pool.size);
  const usage = `range ${pool.range}${missing}: ${compactCount(pool.used)} used, ${compactCount(pool.free)} free of ${compactCount(pool.size)}  `;
  const room = Math.max(0, look.width - bar.text.length);
  return (
    line(`pool ${pool.name}${network}`, look) +
    truncate(printable(usage), room) +
    paint(bar.text, bar.style, look.colour) +
    "\n"
  );
}

/**
 * One row per entry; `withPool` adds the pool as the first column (an address in several pools).
 * OWNER and PARKED (how long ago) only when some entry is sticky.
 */
export function entriesTable(
  entries: readonly EntryRecord[],
  look: Look,
  now: number,
  options: { withPool?: boolean } = {},
): string {
  if (entries.length === 0) return "no entries\n";
  const pool = options.withPool === true;
  const sticky = entries.some((e) => e.owner !== undefined || e.parkedAt !== undefined);
  return renderTable(
    [
      ...(pool ? [{ header: "POOL", shrink: 2 }] : []),
      { header: "ADDRESS", shrink: 0 },
      { header: "POD", shrink: 2 },
      { header: "CONTAINER", shrink: 1 },
      { header: "IFACE", shrink: 1 },
      { header: "NODE", shrink: 2 },
      { header: "AGE", shrink: 0 },
      ...(sticky
        ? [
            { header: "OWNER", shrink: 2 },
            { header: "PARKED", shrink: 0 },
          ]
        : []),
    ],
    entries.map((e) => [
      ...(pool ? [e.pool] : []),
      e.address,
      podCell(e.podRef, e.pod),
      dash(shortId(e.containerId)),
      dash(e.ifName),
      dash(e.pod?.node),
      ageOf(e.pod, now),
      ...(sticky
        ? [dash(e.owner), e.parkedAt === undefined ? "-" : humanAge(now - Date.parse(e.parkedAt))]
        : []),
    ]),
    look,
  );
}

export function podAddressesTable(entries: readonly PodAddressRecord[], look: Look): string {
  return renderTable(
    [
      { header: "POOL", shrink: 2 },
      { header: "ADDRESS", shrink: 0 },
      { header: "IFACE", shrink: 1 },
      { header: "CONTAINER", shrink: 1 },
    ],
    entries.map((e) => [e.pool, e.address, dash(e.ifName), dash(shortId(e.containerId))]),
    look,
  );
}

export function reservationsTable(reservations: readonly ReservationRecord[], look: Look): string {
  return renderTable(
    [
      { header: "RESERVATION", shrink: 2 },
      { header: "POD", shrink: 2 },
      { header: "CONTAINER", shrink: 1 },
      { header: "IFACE", shrink: 1 },
    ],
    reservations.map((r) => [r.name, dash(r.podRef), dash(shortId(r.containerId)), dash(r.ifName)]),
    look,
  );
}

export function podHead(ref: string, pod: PodRecord | null, look: Look, now: number): string {
  if (pod === null) return line(`pod ${ref}`, look);
  if (!pod.exists) return line(`pod ${ref}: not found in the cluster`, look);
  const facts = [
    pod.node === null ? "not scheduled" : `node ${pod.node}`,
    dash(pod.phase),
    `age ${ageOf(pod, now)}`,
    ...(pod.gone === null ? [] : [`gone (${pod.gone})`]),
  ];
  return line(`pod ${ref}: ${facts.join(", ")}`, look);
}
