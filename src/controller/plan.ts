// What one reconcile releases, decided from a read of every pool and reservation and the set of
// pods confirmed gone. Pure. Pool entries are released through releaseEntries (src/ipam/release.ts)
// together with their reservation in the same commit; that needs the network name the reservation
// was written under, which a pool does not record. It is found, not guessed: among the names the
// pool's own name allows (`[<network_name>-]<range>`, node slices `[<network_name>-]<node>-<slice>`)
// the one under which the entry's owner really holds a reservation for the entry's address.
// Reservations are matched to pods by their spec.podref, never by turning their names back into
// addresses (Go's reconciler does that and deletes every named network's reservations).
// An entry with a sticky `owner` is never released for its pod being gone, and neither is the
// reservation that goes with it: only `sticky` (its owner gone for good, sticky-run.ts) frees it.
import type { Entry } from "../allocator/pool-view.ts";
import { describe } from "../errors/errors.ts";
import { parseCidr } from "../ip/index.ts";
import { storedEntries } from "../ipam/release.ts";
import { ownsReservation, type PoolSnapshot, type Reservation } from "../pool/allocation.ts";
import { networkNameOf, reservationOf } from "../pool/naming.ts";

/** Entries of one pool released in one releaseEntries call (one network name). */
export interface EntryGroup {
  readonly pool: string;
  readonly networkName: string;
  /** Whether a reservation is dropped with each entry (an owned one was found under networkName). */
  readonly overlapping: boolean;
  readonly entries: readonly Entry[];
}

export interface ReleasePlan {
  readonly groups: readonly EntryGroup[];
  /** Reservations of gone pods that no planned entry covers (Store.dropReservations drops them). */
  readonly reservations: readonly Reservation[];
  /** Pools that could not be read (an invalid spec.range), with why: reported, left alone. */
  readonly unreadable: readonly { readonly pool: string; readonly error: string }[];
}

/**
 * The network names a pool's name allows, longest first, "" last. The name is
 * `[<network_name>-]<range>` or, for a node slice, `[<network_name>-]<node>-<slice>`; node names and
 * network names may both contain '-', so every '-'-delimited head of the part before the range is
 * a candidate. Only a reservation actually held decides which one is right.
 */
export function networkCandidates(pool: PoolSnapshot): readonly string[] {
  const range = parseCidr(pool.range);
  const head = (range === undefined ? undefined : networkNameOf(pool.name, range)) ?? pool.name;
  const names: string[] = [];
  if (head !== "") {
    names.push(head);
    for (let i = head.lastIndexOf("-"); i > 0; i = head.lastIndexOf("-", i - 1)) names.push(head.slice(0, i));
  }
  names.push("");
  return names;
}

/**
 * The reservation the entry's owner holds for the entry's address under the first of the pool's
 * network-name `candidates` that has one (ownsReservation), skipping names another entry already
 * matched (`covered`): the one reading of which reservation goes with which entry (the controller's
 * releases, `thereabouts check`).
 */
export function heldReservation(
  entry: Entry,
  candidates: readonly string[],
  byName: ReadonlyMap<string, Reservation>,
  covered: ReadonlySet<string>,
): { readonly networkName: string; readonly reservation: Reservation } | undefined {
  for (const candidate of candidates) {
    const wanted = reservationOf(entry.address, candidate, entry.allocation);
    const held = byName.get(wanted.name);
    if (held !== undefined && !covered.has(wanted.name) && ownsReservation(held, wanted))
      return { networkName: candidate, reservation: held };
  }
  return undefined;
}

/**
 * What to release: entries without an owner whose pod is `gone`, entries with one that `sticky`
 * picks, each with the reservation its holder holds; and the reservations of gone pods no entry
 * covers, except those of a sticky entry that stays.
 */
export function planReleases(
  pools: readonly PoolSnapshot[],
  reservations: readonly Reservation[],
  gone: (podRef: string) => boolean,
  sticky: (entry: Entry) => boolean = () => false,
): ReleasePlan {
  const byName = new Map(reservations.map((r) => [r.name, r]));
  const covered = new Set<string>();
  /** podRef + ifName of sticky entries that stay: their holder's reservations stay too. */
  const staying = new Set<string>();
  const groups: EntryGroup[] = [];
  const unreadable: { pool: string; error: string }[] = [];
  for (const pool of pools) {
    let entries: readonly Entry[];
    try {
      entries = storedEntries(pool);
    } catch (error) {
      unreadable.push({ pool: pool.name, error: describe(error) });
      continue;
    }
    const candidates = networkCandidates(pool);
    const byNetwork = new Map<string, { overlapping: boolean; entries: Entry[] }>();
    for (const entry of entries) {
      const { podRef, owner } = entry.allocation;
      const release = owner === undefined ? podRef !== "" && gone(podRef) : sticky(entry);
      const held =
        release || owner !== undefined ? heldReservation(entry, candidates, byName, covered) : undefined;
      if (!release) {
        if (owner !== undefined) {
          staying.add(`${podRef}\0${entry.allocation.ifName}`);
          if (held !== undefined) covered.add(held.reservation.name);
        }
        continue;
      }
      const networkName = held?.networkName ?? "";
      const overlapping = held !== undefined;
      if (held !== undefined) covered.add(held.reservation.name);
      const id = `${overlapping}\0${networkName}`;
      let group = byNetwork.get(id);
      if (group === undefined) {
        group = { overlapping, entries: [] };
        byNetwork.set(id, group);
      }
      group.entries.push(entry);
    }
    for (const [id, group] of byNetwork) {
      const networkName = id.slice(id.indexOf("\0") + 1);
      groups.push({ pool: pool.name, networkName, overlapping: group.overlapping, entries: group.entries });
    }
  }
  const left = reservations.filter(
    (r) =>
      r.podRef !== "" && !covered.has(r.name) && !staying.has(`${r.podRef}\0${r.ifName}`) && gone(r.podRef),
  );
  return { groups, reservations: left, unreadable };
}

/**
 * Every podref that entries or reservations name: the pods whose being gone may free something
 * (entries without a podref are never reclaimed; sticky entries not for their pod being gone).
 */
export function referencedPods(
  pools: readonly PoolSnapshot[],
  reservations: readonly Reservation[],
): ReadonlySet<string> {
  const refs = new Set<string>();
  const sticky = new Set<string>();
  for (const pool of pools)
    for (const a of pool.allocations.values())
      if (a.owner !== undefined) sticky.add(`${a.podRef}\0${a.ifName}`);
      else if (a.podRef !== "") refs.add(a.podRef);
  for (const r of reservations)
    if (r.podRef !== "" && !sticky.has(`${r.podRef}\0${r.ifName}`)) refs.add(r.podRef);
  return refs;
}
