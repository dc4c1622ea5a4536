// Helpers for the unit tests of the retry and rollback core: a virtual clock (time moves only by
// what the code under test sleeps, so deadlines and backoff are exact and instant), a logger that
// keeps its lines, and a memory store on that clock.
import type { Logger } from "../log/logger.ts";
import { MemoryStore } from "../store/memory/memory-store.ts";
import { type Clock, type Deadline, deadlineIn } from "./retry.ts";

export class VirtualClock implements Clock {
  #now = 1_000_000;
  readonly #random: number[];
  /** Every sleep asked for, in order. */
  readonly sleeps: number[] = [];
  /** How many random numbers were drawn. */
  draws = 0;

  /** `random` values are handed out in order; once used up, 0.5. */
  constructor(random: readonly number[] = []) {
    this.#random = [...random];
  }

  now(): number {
    return this.#now;
  }

  random(): number {
    this.draws++;
    return this.#random.shift() ?? 0.5;
  }

  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.#now += ms;
  }

  /** Moves time forward without anyone sleeping (work that took time). */
  advance(ms: number): void {
    this.#now += ms;
  }
}

export interface Scene {
  readonly clock: VirtualClock;
  readonly store: MemoryStore;
  readonly log: Logger & { readonly lines: string[] };
  /** A deadline `ms` from now on the scene's clock. */
  deadline(ms?: number): Deadline;
}

/** `parts`: the store reads parts of pools (Store.parts), as local and etcd do. */
export function scene(random: readonly number[] = [], options: { parts?: boolean } = {}): Scene {
  const clock = new VirtualClock(random);
  const lines: string[] = [];
  const keep = (level: string) => (message: string) => lines.push(`[${level}] ${message}`);
  return {
    clock,
    store: new MemoryStore(undefined, { clock, parts: options.parts === true }),
    log: { lines, debug: keep("debug"), verbose: keep("verbose"), error: keep("error") },
    deadline: (ms = 60_000) => deadlineIn(ms, clock),
  };
}
