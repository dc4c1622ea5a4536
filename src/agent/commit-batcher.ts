// Group commit for the node agent: changes to one pool that arrive while a commit of that pool is
// in flight wait, then go to the store together as one merged change (one etcd transaction, one
// IPPool patch, one sqlite transaction). A merged change is all-or-nothing, so when it conflicts
// its parts are committed one by one and each gets its own answer; no change is ever reported
// committed that was not.
import { type CommitResult, type PoolChange, poolChange } from "../store/store.ts";

/** Changes per merged commit: etcd allows 128 operations per transaction (--max-txn-ops). */
export const MAX_BATCH = 16;

type Commit = (change: PoolChange) => Promise<CommitResult>;

interface Waiting {
  readonly change: PoolChange;
  readonly resolve: (result: CommitResult) => void;
  readonly reject: (error: unknown) => void;
}

export interface BatchStats {
  /** Commits sent to the store (merged or single). */
  commits: number;
  /** Changes committed through them. */
  changes: number;
}

export class CommitBatcher {
  readonly #commit: Commit;
  readonly #queues = new Map<string, Waiting[]>();
  readonly #busy = new Set<string>();
  readonly stats: BatchStats = { commits: 0, changes: 0 };

  constructor(commit: Commit) {
    this.#commit = commit;
  }

  commit(change: PoolChange): Promise<CommitResult> {
    return new Promise((resolve, reject) => {
      const queue = this.#queues.get(change.pool) ?? [];
      queue.push({ change, resolve, reject });
      this.#queues.set(change.pool, queue);
      if (!this.#busy.has(change.pool)) void this.#drain(change.pool);
    });
  }

  /** Commits the pool's queue batch by batch until it is empty; one drain per pool at a time. */
  async #drain(pool: string): Promise<void> {
    this.#busy.add(pool);
    try {
      for (;;) {
        const queue = this.#queues.get(pool) ?? [];
        if (queue.length === 0) break;
        const { batch, rest } = takeBatch(queue);
        if (rest.length === 0) this.#queues.delete(pool);
        else this.#queues.set(pool, rest);
        await this.#send(batch);
      }
    } finally {
      this.#busy.delete(pool);
    }
  }

  async #send(batch: readonly Waiting[]): Promise<void> {
    if (batch.length === 1) {
      await this.#one(batch[0]!);
      return;
    }
    let result: CommitResult;
    try {
      result = await this.#counted(mergeChanges(batch.map((w) => w.change)), batch.length);
    } catch (error) {
      for (const w of batch) w.reject(error);
      return;
    }
    if (result.ok) {
      for (const w of batch) w.resolve(result);
      return;
    }
    // Someone else won a race for one of the parts: find out which, one change at a time.
    for (const w of batch) await this.#one(w);
  }

  async #one(w: Waiting): Promise<void> {
    try {
      w.resolve(await this.#counted(w.change, 1));
    } catch (error) {
      w.reject(error);
    }
  }

  #counted(change: PoolChange, parts: number): Promise<CommitResult> {
    this.stats.commits++;
    this.stats.changes += parts;
    return this.#commit(change);
  }
}

/**
 * The longest prefix-respecting batch whose parts touch disjoint entries and reservations (a
 * store rejects a change that names an entry twice); anything that overlaps waits for the next.
 */
export function takeBatch<T extends { readonly change: PoolChange }>(
  queue: readonly T[],
): { batch: T[]; rest: T[] } {
  const batch: T[] = [];
  const rest: T[] = [];
  const entries = new Set<string>();
  const reservations = new Set<string>();
  for (const item of queue) {
    const keys = entryKeys(item.change);
    const names = [...item.change.reserve, ...item.change.unreserve].map((r) => r.name);
    const clash = keys.some((k) => entries.has(k)) || names.some((n) => reservations.has(n));
    if (batch.length >= MAX_BATCH || clash) {
      rest.push(item);
      continue;
    }
    batch.push(item);
    for (const k of keys) entries.add(k);
    for (const n of names) reservations.add(n);
  }
  return { batch, rest };
}

function entryKeys(change: PoolChange): string[] {
  return [
    ...change.create.map(([k]) => k),
    ...change.update.map((u) => u.key),
    ...change.remove.map(([k]) => k),
  ];
}

/** One change holding every part of changes to the same pool. */
export function mergeChanges(changes: readonly PoolChange[]): PoolChange {
  const first = changes[0]!;
  return poolChange(first.pool, first.range, {
    create: changes.flatMap((c) => c.create),
    update: changes.flatMap((c) => c.update),
    remove: changes.flatMap((c) => c.remove),
    reserve: changes.flatMap((c) => c.reserve),
    unreserve: changes.flatMap((c) => c.unreserve),
  });
}
