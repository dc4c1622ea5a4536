// A decision taken on a pool (or a part of one) as read, and what it tells a caching store. The
// core says, per read, which views it can act on without reading the store (ReadOptions and
// PartReadOptions.verifiable): those on which everything it would do is checked by its commit's
// preconditions. Answering that means taking the decision, which may cost an index over every
// entry; it is taken once per view, so the store's question and the caller's own use of the view
// it gets share it.
import type { PoolSnapshot } from "../pool/allocation.ts";

type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/** `decide`, computed once for the last view it was given (its value or its error). */
export function oncePerView<T, V extends object = PoolSnapshot>(decide: (view: V) => T): (view: V) => T {
  let last: { readonly view: V; readonly outcome: Outcome<T> } | undefined;
  return (view) => {
    if (last?.view !== view) {
      let outcome: Outcome<T>;
      try {
        outcome = { ok: true, value: decide(view) };
      } catch (error) {
        outcome = { ok: false, error };
      }
      last = { view, outcome };
    }
    if (!last.outcome.ok) throw last.outcome.error;
    return last.outcome.value;
  };
}

/**
 * The ReadOptions.verifiable of a caller that acts on `decide(view)`: true when `verified` holds
 * of the decision. A view the decision fails on (no free address, a pool it cannot use) is not:
 * no commit verifies a failure, so it is only reported from the store's own answer.
 */
export function verifiableBy<T, V extends object = PoolSnapshot>(
  decide: (view: V) => T,
  verified: (decision: T) => boolean,
): (view: V) => boolean {
  return (view) => {
    try {
      return verified(decide(view));
    } catch {
      return false;
    }
  };
}
