// Group commit for the node agent: changes to one pool that arrive while commits of that pool are
// in flight (up to MAX_IN_FLIGHT) wait, then go to the store together as one merged change (one etcd transaction, one
// IPPool patch, one sqlite transaction). A merged change is all-or-nothing, so when it conflicts
// or fails its parts are committed one by one and each gets its own answer; no change is ever
// reported committed that was not.
import type { Deadline } from "../ipam/retry.ts";
import {
  attachmentKey,
  type CallOptions,
  type CommitResult,
  type PoolChange,
  poolChange,
} from "../store/store.ts";

/** Changes per merged commit: etcd allows 128 operations per transaction (--max-txn-ops). */
export const MAX_BATCH = 16;

/**
 * Commits of one pool in flight at once. More than one, so a slow or retried request (a timeout, a
 * 503) delays only the calls in its group, not every call of the pool; their preconditions keep
 * concurrent groups as safe as concurrent plugin processes.
 */
export const MAX_IN_FLIGHT = 4;

type Commit = (change: PoolChange, options: CallOptions) => Promise<CommitResult>;

interface Waiting {
  readonly change: PoolChange;
  readonly deadline: Deadline | undefined;
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
  /** Commits in flight per pool. */
  readonly #running = new Map<string, number>();
  readonly stats: BatchStats;

  constructor(commit: Commit, stats: BatchStats = { commits: 0, changes: 0 }) {
    this.#commit = commit;
    this.stats = stats;
  }

  /** Commits `change` (alone or merged), never past its caller's `deadline`. */
  commit(change: PoolChange, deadline?: Deadline): Promise<CommitResult> {
    return new Promise((resolve, reject) => {
      const queue = this.#queues.get(change.pool) ?? [];
      queue.push({ change, deadline, resolve, reject });
      this.#queues.set(change.pool, queue);
      this.#pump(change.pool);
    });
  }

  /** Sends the pool's queue as groups while fewer than MAX_IN_FLIGHT commits of it are out. */
  #pump(pool: string): void {
    for (;;) {
      const running = this.#running.get(pool) ?? 0;
      const queue = this.#queues.get(pool) ?? [];
      if (queue.length === 0 || running >= MAX_IN_FLIGHT) return;
      const { batch, rest } = takeBatch(queue);
      if (rest.length === 0) this.#queues.delete(pool);
      else this.#queues.set(pool, rest);
      this.#running.set(pool, running + 1);
      void this.#send(batch).finally(() => {
        const left = (this.#running.get(pool) ?? 1) - 1;
        if (left === 0) this.#running.delete(pool);
        else this.#running.set(pool, left);
        this.#pump(pool);
      });
    }
  }

  async #send(batch: readonly Waiting[]): Promise<void> {
    if (batch.length === 1) {
      await this.#one(batch[0]!);
      return;
    }
    let result: CommitResult | undefined;
    try {
      // Bounded by the soonest deadline of the group: nobody waits on it past their own.
      result = await this.#counted(mergeChanges(batch.map((w) => w.change)), batch.length, soonest(batch));
    } catch {
      // A failed request (it may even have landed): each part tries alone and gets its own answer,
      // so one transient fault costs one call its retry, not the whole group.
    }
    if (result?.ok === true) {
      for (const w of batch) w.resolve(result);
      return;
    }
    // Someone else won a race for one of the parts, or the request failed: one change at a time.
    for (const w of batch) await this.#one(w);
  }

  async #one(w: Waiting): Promise<void> {
    try {
      w.resolve(await this.#counted(w.change, 1, w.deadline));
    } catch (error) {
      w.reject(error);
    }
  }

  #counted(change: PoolChange, parts: number, deadline: Deadline | undefined): Promise<CommitResult> {
    this.stats.commits++;
    this.stats.changes += parts;
    return this.#commit(change, { deadline });
  }
}

function soonest(batch: readonly Waiting[]): Deadline | undefined {
  let first: Deadline | undefined;
  for (const { deadline } of batch)
    if (deadline !== undefined && (first === undefined || deadline.at < first.at)) first = deadline;
  return first;
}

/**
 * The longest prefix-respecting batch whose parts touch disjoint entries, reservations and release
 * records (a store rejects a change that names one twice) and name disjoint `absent` attachments
 * (each is checked before the merged commit's writes: two ADDs of one attachment, merged, would
 * both pass); anything that overlaps waits for the next.
 */
export function takeBatch<T extends { readonly change: PoolChange }>(
  queue: readonly T[],
): { batch: T[]; rest: T[] } {
  const batch: T[] = [];
  const rest: T[] = [];
  const entries = new Set<string>();
  const reservations = new Set<string>();
  const records = new Set<string>();
  const attachments = new Set<string>();
  for (const item of queue) {
    const keys = entryKeys(item.change);
    const names = [...item.change.reserve, ...item.change.unreserve].map((r) => r.name);
    const recordKeys = [...(item.change.release ?? []).map(([k]) => k), ...(item.change.forget ?? [])];
    const absent = (item.change.absent ?? []).map(attachmentKey);
    const clash =
      keys.some((k) => entries.has(k)) ||
      names.some((n) => reservations.has(n)) ||
      recordKeys.some((k) => records.has(k)) ||
      absent.some((a) => attachments.has(a));
    if (batch.length >= MAX_BATCH || clash) {
      rest.push(item);
      continue;
    }
    batch.push(item);
    for (const k of keys) entries.add(k);
    for (const n of names) reservations.add(n);
    for (const k of recordKeys) records.add(k);
    for (const a of absent) attachments.add(a);
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
  const dropOwners = changes.flatMap((c) => c.dropOwners ?? []);
  const release = changes.flatMap((c) => c.release ?? []);
  const forget = changes.flatMap((c) => c.forget ?? []);
  const absent = changes.flatMap((c) => c.absent ?? []);
  return poolChange(first.pool, first.range, {
    create: changes.flatMap((c) => c.create),
    update: changes.flatMap((c) => c.update),
    remove: changes.flatMap((c) => c.remove),
    reserve: changes.flatMap((c) => c.reserve),
    unreserve: changes.flatMap((c) => c.unreserve),
    ...(dropOwners.length > 0 ? { dropOwners } : {}),
    ...(release.length > 0 ? { release } : {}),
    ...(forget.length > 0 ? { forget } : {}),
    ...(absent.length > 0 ? { absent } : {}),
    // One pool is one range of one network_name: the first part's usable set stands for all.
    ...(first.usable === undefined ? {} : { usable: first.usable }),
  });
}
