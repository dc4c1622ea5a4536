// An in-memory Store for unit tests of the code above the stores: the contract's rules (it runs
// the conformance suite beside the real backends) with nothing to start, and scriptable, so a
// test can put a race, an outage, a lost answer or a slow call exactly where it wants one
// (script.ts). Several MemoryStores may share one MemoryData, as processes share a datastore.
// Never used outside tests.
import { StoreUnavailableError } from "../../errors/errors.ts";
import { type Clock, expired, remainingMs, systemClock } from "../../ipam/retry.ts";
import type { PoolSnapshot, Reservation } from "../../pool/allocation.ts";
import { partOf } from "../part-of.ts";
import type { Datastore } from "../settings.ts";
import type {
  CallOptions,
  CommitResult,
  NodeSliceStore,
  Owner,
  PoolChange,
  PoolPartReader,
  ReadOptions,
  Store,
} from "../store.ts";
import { MemoryData } from "./memory-data.ts";
import type { Step, StoreCall } from "./script.ts";

export interface MemoryStoreOptions {
  /** Whose delays the scripted slow calls wait on (a test's fake clock). Default: the system's. */
  readonly clock?: Clock;
  /** The datastore it stands for (what `datastore` says). Default: local. */
  readonly datastore?: Datastore;
  /**
   * Whether it reads parts of pools (Store.parts, cut from the whole pool: part-of.ts), as local
   * and etcd do. Default: no, so a test's scripted getPool meets every read of an ADD.
   */
  readonly parts?: boolean;
}

export interface CallRecord {
  readonly call: StoreCall;
  readonly args: readonly unknown[];
}

export class MemoryStore implements Store {
  readonly datastore: Datastore;
  readonly data: MemoryData;
  /** Every call made, in order, with its arguments. */
  readonly calls: CallRecord[] = [];
  readonly parts?: PoolPartReader;
  readonly #clock: Clock;
  readonly #queued = new Map<StoreCall, Step[]>();
  readonly #always = new Map<StoreCall, Step>();
  #closed = false;

  constructor(data: MemoryData = new MemoryData(), options: MemoryStoreOptions = {}) {
    this.data = data;
    this.datastore = options.datastore ?? "local";
    this.#clock = options.clock ?? systemClock;
    if (options.parts === true)
      this.parts = {
        getPoolPart: (name, query, callOptions) =>
          this.#run("getPoolPart", [name, query, callOptions], callOptions, () =>
            partOf(this.data.pool(name), query),
          ),
      };
  }

  /** Queues steps for the next calls of `call`, one step per call, in order. */
  next(call: StoreCall, ...steps: Step[]): this {
    this.#queued.set(call, [...(this.#queued.get(call) ?? []), ...steps]);
    return this;
  }

  /** `step` for every call of `call` once the queued ones are used, until cleared. */
  always(call: StoreCall, step: Step | undefined): this {
    if (step === undefined) this.#always.delete(call);
    else this.#always.set(call, step);
    return this;
  }

  /** How many times `call` was made. */
  count(call: StoreCall): number {
    return this.calls.filter((c) => c.call === call).length;
  }

  /** NodeSlicePools (a test puts them in `data`, as a controller would). */
  readonly nodeSlices: NodeSliceStore = {
    getNodeSlicePool: (name, options) =>
      this.#run("getNodeSlicePool", [name, options], options, () => this.data.nodeSlicePool(name)),
    claimNodeSlice: (name, index, sliceRange, nodeName, options) =>
      this.#run("claimNodeSlice", [name, index, sliceRange, nodeName, options], options, () =>
        this.data.claimNodeSlice(name, index, sliceRange, nodeName),
      ),
  };

  getPool(name: string, options?: ReadOptions): Promise<PoolSnapshot> {
    return this.#run("getPool", [name, options], options, () => this.data.pool(name));
  }

  listPools(options?: CallOptions): Promise<readonly PoolSnapshot[]> {
    return this.#run("listPools", [options], options, () => this.data.pools());
  }

  getReservation(name: string, options?: CallOptions): Promise<Reservation | undefined> {
    return this.#run("getReservation", [name, options], options, () => this.data.reservation(name));
  }

  listReservations(options?: CallOptions): Promise<readonly Reservation[]> {
    return this.#run("listReservations", [options], options, () => this.data.reservations());
  }

  commit(change: PoolChange, options?: CallOptions): Promise<CommitResult> {
    return this.#run("commit", [change, options], options, () => this.data.commit(change));
  }

  dropReservations(
    reservations: readonly Reservation[],
    options?: CallOptions,
  ): Promise<readonly Reservation[]> {
    return this.#run("dropReservations", [reservations, options], options, () =>
      this.data.dropReservations(reservations),
    );
  }

  dropReservationsOf(owner: Owner, options?: CallOptions): Promise<number> {
    return this.#run("dropReservationsOf", [owner, options], options, () =>
      this.data.dropReservationsOf(owner),
    );
  }

  ping(options?: CallOptions): Promise<void> {
    return this.#run("ping", [options], options, () => undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  async #run<T>(
    call: StoreCall,
    args: unknown[],
    options: CallOptions | undefined,
    apply: () => T,
  ): Promise<T> {
    this.calls.push({ call, args });
    const step = this.#queued.get(call)?.shift() ?? this.#always.get(call);
    const fail = (why: string) => new StoreUnavailableError(`Cannot ${call} memory store: ${why}`);
    if (this.#closed) throw fail("the store is closed");
    const deadline = options?.deadline;
    if (deadline !== undefined && expired(deadline)) throw fail("the call's deadline has passed");
    if (step?.delayMs !== undefined) {
      const wait = deadline === undefined ? step.delayMs : Math.min(step.delayMs, remainingMs(deadline));
      if (wait > 0) await this.#clock.sleep(wait);
      if (wait < step.delayMs) throw fail(`no answer within the call's deadline (${wait} ms)`);
    }
    const context = { call, args, data: this.data };
    await step?.before?.(context);
    const result = apply();
    await step?.after?.(context);
    return result;
  }
}
