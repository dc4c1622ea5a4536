// Admission for the meta-plugin's calls in the node agent. Multus' thick daemon serves every
// request at once, so a rebooted node whose pods all arrive together runs them all together and
// runs out of memory, again and again. Here at most `running` calls run, at most `queued` wait, a
// waiting call not started within `waitMs` is turned away, and a call arriving to a full queue is
// turned away at once. A call turned away is not lost: the agent answers "declined" and the plugin
// runs it alone, so the node still makes progress, only without the agent's help.
//
// DEL goes first: when a slot frees, waiting DELs start before waiting ADDs, and a DEL arriving to a
// full queue takes the place of the newest waiting ADD (which is turned away). A DEL is what lets a
// pod finish terminating and what frees its addresses, and it is the cheaper call; ADDs cannot
// starve behind DELs for long, since an ADD that waits `waitMs` runs alone in its plugin anyway.
//
// Pure: no I/O, the clock and the timer injected (unit-tested with a fake clock). IPAM calls never
// pass through here: a meta-plugin call's delegates call back into the agent for IPAM, and gating
// both together could leave every slot held by a call waiting for an IPAM call behind it.

export interface GateLimits {
  /** Calls running at once. */
  readonly running: number;
  /** Calls waiting for a slot; 0: a call that finds every slot taken is turned away at once. */
  readonly queued: number;
  /** How long a call may wait for a slot. */
  readonly waitMs: number;
}

export interface GateClock {
  now(): number;
  /** Runs `expire` after `ms`; the function returned cancels it. */
  after(ms: number, expire: () => void): () => void;
}

/** Why a call was turned away (a bounded set: it becomes part of a message, never a label). */
export type Shed = "queue full" | "waited too long" | "closing";

/** A call let in: it holds a slot until `leave` (idempotent). */
export interface Admitted {
  readonly admitted: true;
  /** Time spent waiting for the slot. */
  readonly waitedMs: number;
  leave(): void;
}

export interface Refused {
  readonly admitted: false;
  readonly why: Shed;
  readonly waitedMs: number;
}

export type Admission = Admitted | Refused;

interface Waiter {
  readonly since: number;
  readonly settle: (admission: Admission) => void;
  cancel: () => void;
}

export const systemClock: GateClock = {
  now: () => performance.now(),
  after: (ms, expire) => {
    const timer = setTimeout(expire, ms);
    // A waiting call must not keep a stopping process alive.
    timer.unref?.();
    return () => clearTimeout(timer);
  },
};

export class CallGate {
  readonly limits: GateLimits;
  readonly #clock: GateClock;
  #running = 0;
  #closed = false;
  /** First in, first out within each class. */
  readonly #dels: Waiter[] = [];
  readonly #adds: Waiter[] = [];

  constructor(limits: GateLimits, clock: GateClock = systemClock) {
    if (!(limits.running >= 1) || !(limits.queued >= 0) || !(limits.waitMs >= 0))
      throw new RangeError("a call gate needs at least one slot and no negative limit");
    this.limits = limits;
    this.#clock = clock;
  }

  /** Calls holding a slot now. */
  get running(): number {
    return this.#running;
  }

  /** Calls waiting for a slot now. */
  get queued(): number {
    return this.#dels.length + this.#adds.length;
  }

  /**
   * Lets the call in (now, or when a slot frees within the wait) or turns it away; `first`: a DEL,
   * which waits ahead of ADDs. Never rejects.
   */
  enter(first: boolean): Promise<Admission> {
    if (this.#closed) return Promise.resolve(this.#refused("closing", 0));
    if (this.#running < this.limits.running && this.queued === 0) return Promise.resolve(this.#admit(0));
    if (this.queued >= this.limits.queued) {
      // A DEL displaces the newest waiting ADD; anything else finds the queue full.
      const displaced = first ? this.#adds.pop() : undefined;
      if (displaced === undefined) return Promise.resolve(this.#refused("queue full", 0));
      displaced.cancel();
      displaced.settle(this.#refused("queue full", this.#clock.now() - displaced.since));
    }
    return new Promise<Admission>((settle) => {
      const queue = first ? this.#dels : this.#adds;
      const waiter: Waiter = { since: this.#clock.now(), settle, cancel: () => {} };
      waiter.cancel = this.#clock.after(this.limits.waitMs, () => {
        const at = queue.indexOf(waiter);
        if (at < 0) return;
        queue.splice(at, 1);
        settle(this.#refused("waited too long", this.#clock.now() - waiter.since));
      });
      queue.push(waiter);
    });
  }

  /** Turns every waiting call away (the agent is stopping); later calls too. Running ones finish. */
  close(): void {
    this.#closed = true;
    for (const waiter of [...this.#dels.splice(0), ...this.#adds.splice(0)]) {
      waiter.cancel();
      waiter.settle(this.#refused("closing", this.#clock.now() - waiter.since));
    }
  }

  #admit(waitedMs: number): Admitted {
    this.#running++;
    let left = false;
    return {
      admitted: true,
      waitedMs,
      leave: () => {
        if (left) return;
        left = true;
        this.#running--;
        this.#next();
      },
    };
  }

  #refused(why: Shed, waitedMs: number): Refused {
    return { admitted: false, why, waitedMs };
  }

  /** A slot freed: the first waiting DEL, else the first waiting ADD, takes it. */
  #next(): void {
    while (this.#running < this.limits.running) {
      const waiter = this.#dels.shift() ?? this.#adds.shift();
      if (waiter === undefined) return;
      waiter.cancel();
      waiter.settle(this.#admit(this.#clock.now() - waiter.since));
    }
  }
}

/**
 * The agent's defaults (agent --multus-max-calls, --multus-queue, --multus-queue-wait-seconds);
 * docs/agent.md, "Meta-plugin calls under load", gives the measurements behind them.
 */
export const DEFAULT_MULTUS_LIMITS: GateLimits = { running: 8, queued: 256, waitMs: 10_000 };

/**
 * Bytes held by meta-plugin requests between their head and their answer. The queue bounds how
 * many calls wait, but a request may carry up to 4 MiB (http-framing.ts): a burst of large ones
 * would hold gigabytes before the gate sees them. Each request takes its size from this budget as
 * soon as its head is read, before its body is taken in; one that does not fit is declined at once.
 */
export class ByteBudget {
  readonly limit: number;
  #held = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  get held(): number {
    return this.#held;
  }

  /** The function that gives the bytes back (idempotent), or undefined when they do not fit. */
  take(bytes: number): (() => void) | undefined {
    if (this.#held + bytes > this.limit) return undefined;
    this.#held += bytes;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.#held -= bytes;
    };
  }
}

/** What meta-plugin requests may hold at once: some thousand calls of a few KiB each. */
export const MULTUS_REQUEST_BYTES = 16 * 1024 * 1024;
