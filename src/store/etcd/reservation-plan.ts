// Turns a change's `reserve` and `unreserve` lists into the compares and writes of one etcd
// transaction. Pure: it works from what the store has seen of each reservation key, and for keys
// not seen yet from an optimistic guess (a reservation to take is free; one to drop holds exactly
// what its owner wrote), which the transaction's compares verify. When a guess is wrong the
// transaction fails, its else-branch reads the keys, and the plan is made again from what was read.
import { ownsReservation, type Reservation } from "../../pool/allocation.ts";
import { encodeReservation } from "./documents.ts";
import {
  type Compare,
  compareAbsent,
  compareMod,
  compareValue,
  deleteOp,
  putOp,
  type RequestOp,
} from "./etcd-api.ts";

/** A reservation key as read from etcd: its holder (undefined = absent) and mod_revision. */
export interface Observed {
  readonly holder: Reservation | undefined;
  readonly modRevision: string | undefined;
}

export type ReservationPlan =
  | { readonly ok: false; readonly holder: Reservation }
  | {
      readonly ok: true;
      readonly compares: readonly Compare[];
      readonly writes: readonly RequestOp[];
      /** Every reservation name the change touches, in order (read back when the txn fails). */
      readonly names: readonly string[];
    };

type Guess =
  | { readonly kind: "seen"; readonly seen: Observed }
  | { readonly kind: "free" }
  | { readonly kind: "holds"; readonly text: string };

/**
 * Applies the reservations as the Store contract says, in order: each `reserve` is created, or
 * kept (with the new container id) when held by the same owner, or is a conflict naming its
 * holder; each `unreserve` drops a reservation only when its owner still holds it.
 */
export function planReservations(
  reserve: readonly Reservation[],
  unreserve: readonly Reservation[],
  observed: ReadonlyMap<string, Observed>,
  keyOf: (name: string) => string,
): ReservationPlan {
  const guesses = new Map<string, Guess>();
  const reserved = new Set(reserve.map((r) => r.name));
  for (const r of [...reserve, ...unreserve]) {
    if (guesses.has(r.name)) continue;
    const seen = observed.get(r.name);
    guesses.set(
      r.name,
      seen !== undefined
        ? { kind: "seen", seen }
        : reserved.has(r.name)
          ? { kind: "free" }
          : { kind: "holds", text: encodeReservation(r) },
    );
  }
  const initial = (name: string): Reservation | undefined => {
    const guess = guesses.get(name)!;
    if (guess.kind === "seen") return guess.seen.holder;
    if (guess.kind === "free") return undefined;
    return unreserve.find((r) => r.name === name);
  };

  const state = new Map<string, Reservation | undefined>();
  for (const name of guesses.keys()) state.set(name, initial(name));
  for (const wanted of reserve) {
    const current = state.get(wanted.name);
    if (current === undefined) state.set(wanted.name, wanted);
    else if (ownsReservation(current, wanted))
      state.set(wanted.name, { ...current, containerId: wanted.containerId });
    else return { ok: false, holder: current };
  }
  for (const owner of unreserve) {
    const current = state.get(owner.name);
    if (current !== undefined && ownsReservation(current, owner)) state.set(owner.name, undefined);
  }

  const compares: Compare[] = [];
  const writes: RequestOp[] = [];
  for (const [name, guess] of guesses) {
    const before = initial(name);
    const after = state.get(name);
    const beforeText = before === undefined ? undefined : encodeReservation(before);
    const afterText = after === undefined ? undefined : encodeReservation(after);
    const key = keyOf(name);
    if (afterText !== beforeText)
      writes.push(afterText === undefined ? deleteOp(key) : putOp(key, afterText));
    else if (!reserved.has(name)) continue; // an unreserve that changes nothing needs no guard
    if (guess.kind === "free") compares.push(compareAbsent(key));
    else if (guess.kind === "holds") compares.push(compareValue(key, guess.text));
    else if (guess.seen.modRevision === undefined) compares.push(compareAbsent(key));
    else compares.push(compareMod(key, guess.seen.modRevision));
  }
  return { ok: true, compares, writes, names: [...guesses.keys()] };
}
