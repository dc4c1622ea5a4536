// `thereabouts check`, the decision: every finding of a store, computed from its pools, its
// reservations and (Kubernetes only) what was read of the pods they name. Pure; reading the store
// and the pods, printing and repairing are at the edge (run.ts, fix.ts).
import type { Entry } from "../../allocator/pool-view.ts";
import { contains, formatCidr, formatIP, masked } from "../../ip/index.ts";
import type { PoolSnapshot, Reservation } from "../../pool/allocation.ts";
import { reservationOf } from "../../pool/naming.ts";
import { sameAllocation } from "../../store/store.ts";
import { type Finding, ownerText, sortFindings } from "./findings.ts";
import { entryId, modelOf, type Placed, type PoolModel, type StoreModel } from "./model.ts";
import { type GoneJudge, goneJudge, type PodReading, podFindings } from "./pod-checks.ts";

export type { PodReading } from "./pod-checks.ts";

export interface CheckInput {
  readonly pools: readonly PoolSnapshot[];
  readonly reservations: readonly Reservation[];
  /**
   * Kubernetes: what was read of the cluster's pods (read.ts lists them all), and "not found" for
   * every podref of the store that names none. Absent: no pod checks (local, etcd).
   */
  readonly pods?: ReadonlyMap<string, PodReading>;
  /** Whether a network uses reservations, where its configuration is known. */
  readonly overlapping?: (network: string) => boolean | undefined;
  /** Called as pools are checked (a progress line for large stores). */
  readonly progress?: (done: number, total: number) => void;
}

export function checkStore(input: CheckInput): Finding[] {
  const model = modelOf(input.pools, input.reservations, input.overlapping, input.progress);
  const gone = goneJudge(input.pods);
  const findings: Finding[] = [...structure(model), ...podFindings(model, input.pods, gone)];
  const duplicated = new Set<string>();
  findings.push(...duplicates(model, gone, duplicated));
  findings.push(...bookkeeping(model, gone, duplicated, input.pods !== undefined));
  return sortFindings(findings);
}

function quoted(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/** A pool whose range or keys cannot be read, and entries outside their pool's range. */
function structure(model: StoreModel): Finding[] {
  const out: Finding[] = [];
  for (const pool of model.pools) {
    const name = pool.snapshot.name;
    if (pool.range === undefined) {
      out.push({
        kind: "unreadable-range",
        pool: name,
        address: "",
        detail: `${pool.rangeError ?? "the stored range is not a CIDR"} (${pool.snapshot.allocations.size} entries cannot be read)`,
        action:
          "restore the pool's range by hand (the network configuration's range), or delete the pool once its pods are gone",
      });
      continue;
    }
    for (const key of pool.unreadableKeys) {
      out.push({
        kind: "unreadable-key",
        pool: name,
        address: "",
        key,
        owner: pool.snapshot.allocations.get(key)!,
        detail: `key ${quoted(key)} is not an offset into ${formatCidr(pool.range)}: no plugin can read or release it`,
        action: "correct or remove the entry by hand",
      });
    }
    for (const entry of pool.entries) {
      if (contains(masked(pool.range), entry.address)) continue;
      out.push({
        kind: "outside-range",
        pool: name,
        address: formatIP(entry.address),
        key: entry.key,
        owner: entry.allocation,
        detail: `key ${entry.key} is ${formatIP(entry.address)}, outside the pool's range ${formatCidr(masked(pool.range))}`,
        action: "remove the entry by hand (the pool's own range never hands it out)",
      });
    }
  }
  return out;
}

/**
 * One address held by more than one entry among the pools of one network (pools of an unknown
 * network are compared with themselves only), and one attachment holding two entries of a pool.
 * Never repaired: which holder really uses an address is for an operator to say. The entries
 * found are added to `duplicated`, so the bookkeeping checks do not report them again.
 */
function duplicates(model: StoreModel, gone: GoneJudge, duplicated: Set<string>): Finding[] {
  const out: Finding[] = [];
  const byAddress = new Map<string, Placed[]>();
  for (const pool of model.pools) {
    if (pool.range === undefined) continue;
    const network = pool.network === undefined ? `\0pool ${pool.snapshot.name}` : pool.network;
    const byAttachment = new Map<string, Entry[]>();
    for (const entry of pool.entries) {
      const id = `${network}\0${entry.address.family}\0${entry.address.value}`;
      byAddress.set(id, [...(byAddress.get(id) ?? []), { pool, entry }]);
      const { podRef, ifName } = entry.allocation;
      if (podRef === "" || ifName === "") continue; // Go's rule keys attachments by pod + interface
      const attachment = `${podRef}\0${ifName}`;
      byAttachment.set(attachment, [...(byAttachment.get(attachment) ?? []), entry]);
    }
    for (const held of byAttachment.values()) {
      if (held.length < 2) continue;
      for (const entry of held) {
        duplicated.add(entryId(pool.snapshot.name, entry.key));
        const others = held.filter((e) => e !== entry).map((e) => `${formatIP(e.address)} (key ${e.key})`);
        out.push({
          kind: "duplicate-attachment",
          pool: pool.snapshot.name,
          address: formatIP(entry.address),
          key: entry.key,
          owner: entry.allocation,
          detail: `${ownerText(entry.allocation)} also holds ${others.join(", ")} in this pool; an attachment holds one address per pool`,
          action: gone(entry.allocation.podRef)
            ? "the pod is gone: check --fix frees both"
            : "the pod uses one (see its network-status): remove the other entry by hand, or delete and re-create the pod",
        });
      }
    }
  }
  for (const holders of byAddress.values()) {
    if (holders.length < 2) continue;
    const owners = holders.filter(
      (h, i) => holders.findIndex((o) => sameAllocation(o.entry.allocation, h.entry.allocation)) === i,
    );
    for (const h of holders) {
      duplicated.add(entryId(h.pool.snapshot.name, h.entry.key));
      const others = holders
        .filter((o) => o !== h)
        .map((o) => `${ownerText(o.entry.allocation)} in pool ${o.pool.snapshot.name} (key ${o.entry.key})`);
      const anyGone = owners.some((o) => gone(o.entry.allocation.podRef) !== undefined);
      out.push({
        kind: "duplicate-address",
        pool: h.pool.snapshot.name,
        address: formatIP(h.entry.address),
        key: h.entry.key,
        owner: h.entry.allocation,
        detail: `${networkText(h.pool)}also held by ${others.join("; ")}`,
        action:
          owners.length === 1
            ? "one attachment recorded twice: remove one of the entries by hand"
            : anyGone
              ? "check --fix frees the gone pod's entry; the live holder keeps it"
              : `if this pod does not use it: thereabouts release ${formatIP(h.entry.address)} --pod ${h.entry.allocation.podRef} --force (or delete and re-create the pod: its DEL frees the entry)`,
      });
    }
  }
  return out;
}

function networkText(pool: PoolModel): string {
  if (pool.network === undefined) return "";
  return pool.network === "" ? "network without network_name: " : `network ${pool.network}: `;
}

/**
 * Reservations no entry goes with, and entries of a network that uses reservations without theirs.
 * A reservation whose owner is gone is released by --fix; a missing reservation is created by it.
 */
function bookkeeping(
  model: StoreModel,
  gone: GoneJudge,
  duplicated: ReadonlySet<string>,
  podChecks: boolean,
): Finding[] {
  const out: Finding[] = [];
  for (const r of model.unmatched) {
    const owner = { podRef: r.podRef, ifName: r.ifName, containerId: r.containerId };
    const judged = r.podRef === "" ? undefined : gone(r.podRef);
    const what =
      r.claim === undefined
        ? ""
        : ` for ${r.claim.address}${r.claim.networkName === "" ? "" : ` (network ${r.claim.networkName})`}`;
    out.push({
      kind: "orphan-reservation",
      pool: "",
      address: r.claim?.address ?? "",
      reservation: r.name,
      owner,
      detail:
        judged === undefined
          ? `reservation ${r.name}${what} is held by ${ownerText(owner)}, but no pool entry of it goes with it`
          : `reservation ${r.name}${what} of ${ownerText(owner)} has no pool entry and the pod is ${judged.why}`,
      action:
        judged !== undefined
          ? "check --fix drops it"
          : r.podRef === ""
            ? "delete the reservation by hand (it names no pod)"
            : podChecks
              ? `the pod lives: its DEL drops it, or the controller once the pod is gone; to free it now: thereabouts release --pod ${r.podRef} --force`
              : `if the pod is gone: thereabouts release --pod ${r.podRef} --force`,
      ...(judged === undefined ? {} : { repair: { kind: "release", podRef: r.podRef, uid: judged.uid } }),
    });
  }
  for (const pool of model.pools) {
    const network = pool.network;
    if (pool.range === undefined || network === undefined || !model.usesReservations(network)) continue;
    const range = masked(pool.range);
    for (const entry of pool.entries) {
      const id = entryId(pool.snapshot.name, entry.key);
      const { podRef } = entry.allocation;
      if (model.held.has(id) || duplicated.has(id) || !contains(range, entry.address)) continue;
      if (podRef === "" || gone(podRef) !== undefined) continue;
      const reservation = reservationOf(entry.address, network, entry.allocation);
      const holder = model.reservations.get(reservation.name);
      out.push({
        kind: "missing-reservation",
        pool: pool.snapshot.name,
        address: formatIP(entry.address),
        key: entry.key,
        reservation: reservation.name,
        owner: entry.allocation,
        detail:
          holder === undefined
            ? `no reservation ${reservation.name}: another range of the network could hand the address out again`
            : `reservation ${reservation.name} is held by ${ownerText(holder)}, not by this entry's pod`,
        action:
          holder === undefined
            ? "check --fix creates the reservation"
            : "free the address from one of the two (the pod that does not use it: delete and re-create it)",
        ...(holder === undefined
          ? {
              repair: {
                kind: "reserve",
                pool: pool.snapshot.name,
                range: pool.snapshot.range,
                key: entry.key,
                allocation: entry.allocation,
                reservation,
              },
            }
          : {}),
      });
    }
  }
  return out;
}
