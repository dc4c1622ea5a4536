// The etcd key layout and the JSON stored at each key (docs/etcd.md):
//   <prefix>/pools/<pool>                {"range": "...", "allocations": {"<offset key>": {"id", "podref", "ifname"?}}}
//   <prefix>/reservations/<name>         {"podref", "ifname", "containerid"}
// The allocation entries have the IPPool CRD's shape (ifname omitted when empty, as Go writes it).
import { StoredDataError } from "../../errors/errors.ts";
import type { Allocation, PoolSnapshot, Reservation } from "../../pool/allocation.ts";

export class EtcdKeys {
  readonly prefix: string;

  /** `prefix` as configured ("/thereabouts" by default); trailing slashes are ignored. */
  constructor(prefix: string) {
    this.prefix = prefix.replace(/\/+$/, "");
  }

  get pools(): string {
    return `${this.prefix}/pools/`;
  }

  get reservations(): string {
    return `${this.prefix}/reservations/`;
  }

  pool(name: string): string {
    return this.pools + name;
  }

  reservation(name: string): string {
    return this.reservations + name;
  }
}

interface EntryDocument {
  id: string;
  podref: string;
  ifname?: string;
}

export function encodePool(range: string, allocations: ReadonlyMap<string, Allocation>): string {
  const entry = (a: Allocation): EntryDocument =>
    a.ifName === ""
      ? { id: a.containerId, podref: a.podRef }
      : { id: a.containerId, podref: a.podRef, ifname: a.ifName };
  // fromEntries defines own properties, so no offset key can reach Object.prototype.
  const entries = Object.fromEntries([...allocations].map(([key, a]) => [key, entry(a)]));
  return JSON.stringify({ range, allocations: entries });
}

export function decodePool(name: string, key: string, text: string, version: string): PoolSnapshot {
  const doc = parseObject(key, text);
  const range = doc["range"];
  const entries = doc["allocations"] ?? {};
  if (typeof range !== "string" || !isObject(entries))
    throw new StoredDataError(
      `etcd key ${key} is not a pool: expected {"range": string, "allocations": object}`,
    );
  const allocations = new Map<string, Allocation>();
  for (const [offset, entry] of Object.entries(entries)) {
    if (
      !isObject(entry) ||
      typeof entry["id"] !== "string" ||
      !optionalString(entry["podref"]) ||
      !optionalString(entry["ifname"])
    )
      throw new StoredDataError(`etcd key ${key}: allocation "${offset}" is not {"id", "podref", "ifname"?}`);
    allocations.set(offset, {
      containerId: entry["id"],
      podRef: (entry["podref"] as string | undefined) ?? "",
      ifName: (entry["ifname"] as string | undefined) ?? "",
    });
  }
  return { name, range, allocations, version };
}

/** The canonical text of a reservation: the store compares stored values against it. */
export function encodeReservation(r: Reservation): string {
  return JSON.stringify({ podref: r.podRef, ifname: r.ifName, containerid: r.containerId });
}

export function decodeReservation(name: string, key: string, text: string): Reservation {
  const doc = parseObject(key, text);
  const { podref, ifname, containerid } = doc;
  if (typeof podref !== "string" || !optionalString(ifname) || !optionalString(containerid))
    throw new StoredDataError(
      `etcd key ${key} is not a reservation: expected {"podref", "ifname", "containerid"}`,
    );
  return {
    name,
    podRef: podref,
    ifName: (ifname as string | undefined) ?? "",
    containerId: (containerid as string | undefined) ?? "",
  };
}

function parseObject(key: string, text: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new StoredDataError(`etcd key ${key} does not hold JSON: ${(error as Error).message}`);
  }
  if (!isObject(doc)) throw new StoredDataError(`etcd key ${key} does not hold a JSON object`);
  return doc;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown): boolean {
  return value === undefined || typeof value === "string";
}
