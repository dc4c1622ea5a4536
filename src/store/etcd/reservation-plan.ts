// Turns a change's `reserve` and `unreserve` lists into parts of one etcd transaction. Pure: it
// works from what the store knows of each reservation key (read from etcd, or guessed), and the
// transaction's compares verify every guess. A reservation to take is guarded in the outer
// compares, so a wrong guess fails the whole change; the else-branch reads the key and the plan is
// made again from what was read. A reservation only to drop is never a precondition (dropping
// one the owner no longer holds is a no-op): it becomes a nested transaction that deletes the key
// iff it still holds what was expected, and otherwise reads it back.
import { ownsReservation, type Reservation } from "../../pool/allocation.ts";
import { mayReserve, reserved, type Takeover } from "../store.ts";
import { encodeReservation } from "./documents.ts";
import {
  type Compare,
  compareAbsent,
  compareMod,
  compareValue,
  deleteOp,
  getOp,
  putOp,
  type RequestOp,
  txnOp,
} from "./etcd-api.ts";

/**
 * A reservation key as the store knows it: its holder (undefined = absent) and, when it was read
 * from etcd, its mod_revision. A holder without a revision is a guess, checked by value (every
 * reservation is written in one canonical encoding).
 */
export interface Known {
  readonly holder: Reservation | undefined;
  readonly modRevision?: string | undefined;
}

/** A reservation to drop that is not also reserved by the change: a nested conditional delete. */
export interface Drop {
  readonly name: string;
  readonly owner: Reservation;
  /** IF the key holds what is expected THEN delete it ELSE read it. */
  readonly op: RequestOp;
}

export type ReservationPlan =
  | { readonly ok: false; readonly holder: Reservation }
  | {
      readonly ok: true;
      /** Outer compares: one per reserved name. */
      readonly compares: readonly Compare[];
      /** Outer writes for reserved names. */
      readonly writes: readonly RequestOp[];
      /** The reserved names, in order: read back by the else-branch when the transaction fails. */
      readonly reads: readonly string[];
      readonly drops: readonly Drop[];
    };

/**
 * Applies the reservations as the Store contract says, in order: each `reserve` is created, or
 * kept (with the new container id) when held by the same owner, or rewritten when held by the
 * owner it replaces, or is a conflict naming its holder; each `unreserve` drops a reservation only when its owner still holds it. A name not in
 * `known` is guessed free.
 */
export function planReservations(
  reserve: readonly Takeover[],
  unreserve: readonly Reservation[],
  known: ReadonlyMap<string, Known>,
  keyOf: (name: string) => string,
): ReservationPlan {
  const state = new Map<string, Reservation | undefined>();
  for (const r of reserve) if (!state.has(r.name)) state.set(r.name, known.get(r.name)?.holder);
  const reads = [...state.keys()];
  for (const wanted of reserve) {
    const current = state.get(wanted.name);
    if (current !== undefined && mayReserve(current, wanted) === undefined)
      return { ok: false, holder: current };
    state.set(wanted.name, reserved(current, wanted));
  }

  const drops: Drop[] = [];
  const dropped = new Set<string>();
  for (const owner of unreserve) {
    if (state.has(owner.name)) {
      // Reserved by this change too: decided here, guarded by the outer compare.
      const current = state.get(owner.name);
      if (current !== undefined && ownsReservation(current, owner)) state.set(owner.name, undefined);
      continue;
    }
    if (dropped.has(owner.name)) continue;
    dropped.add(owner.name);
    const key = keyOf(owner.name);
    const seen = known.get(owner.name);
    let guard: Compare;
    if (seen === undefined) guard = compareValue(key, encodeReservation(owner));
    else if (seen.holder === undefined || !ownsReservation(seen.holder, owner)) continue;
    else guard = guardOf(key, seen);
    drops.push({ name: owner.name, owner, op: txnOp([guard], [deleteOp(key)], [getOp(key)]) });
  }

  const compares: Compare[] = [];
  const writes: RequestOp[] = [];
  for (const name of reads) {
    const key = keyOf(name);
    const before = known.get(name) ?? { holder: undefined };
    const after = state.get(name);
    compares.push(guardOf(key, before));
    const beforeText = before.holder === undefined ? undefined : encodeReservation(before.holder);
    const afterText = after === undefined ? undefined : encodeReservation(after);
    if (afterText !== beforeText)
      writes.push(afterText === undefined ? deleteOp(key) : putOp(key, afterText));
  }
  return { ok: true, compares, writes, reads, drops };
}

function guardOf(key: string, known: Known): Compare {
  if (known.holder === undefined) return compareAbsent(key);
  if (known.modRevision !== undefined) return compareMod(key, known.modRevision);
  return compareValue(key, encodeReservation(known.holder));
}
