// What the conflict-retry loops (allocate-range.ts, release.ts) tell whoever runs them: each race a
// commit lost, and how many tries an allocation took. The caller passes an observer in (the node
// agent's metrics); the core keeps no state of its own and does no I/O. A plugin working alone has
// no process to be scraped, and passes none.

export type RetriedOperation = "allocate" | "release";

export interface RetryObserver {
  /**
   * A commit lost a race: an entry it tested was changed by another writer since the pool was read
   * (in the datastore, or on a node agent by another call in flight), so the pool is read again.
   */
  lostRace(operation: RetriedOperation): void;
  /**
   * One range's address is held, after `retries` reads of the pool beyond the first: races lost,
   * and addresses found reserved by another network's range.
   */
  allocated(retries: number): void;
}

export const unobserved: RetryObserver = { lostRace: () => {}, allocated: () => {} };
