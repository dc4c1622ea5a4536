import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Clock } from "../ipam/retry.ts";
import type { PodState } from "./liveness.ts";
import type { Trigger } from "./metrics.ts";
import {
  DEFAULT_QUEUE_OPTIONS,
  type QueuedPod,
  type QueueOptions,
  type ReconcileOutcome,
  ReconcileQueue,
} from "./reconcile-queue.ts";

/** A clock that moves only when told to; `random` is fixed so backoff delays are known. */
class FakeClock implements Clock {
  #now = 0;
  readonly #timers: { at: number; resolve: () => void }[] = [];
  now(): number {
    return this.#now;
  }
  random(): number {
    return 0.5;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#timers.push({ at: this.#now + ms, resolve }));
  }
  /** Moves time forward, firing due timers in order and letting their continuations run. */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    for (;;) {
      await settle();
      this.#timers.sort((a, b) => a.at - b.at);
      const next = this.#timers[0];
      if (next === undefined || next.at > until) break;
      this.#timers.shift();
      this.#now = next.at;
      next.resolve();
    }
    this.#now = until;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

interface Call {
  readonly trigger: Trigger;
  readonly pods: readonly string[] | undefined;
  readonly at: number;
}

/** A queue whose reconciles are recorded and answered by `answer` (default: all released). */
function harness(
  answer: (call: Call, pods?: ReadonlyMap<string, QueuedPod>) => ReconcileOutcome | Error = () => ({
    errors: 0,
    failedPods: new Set(),
  }),
  options: Partial<QueueOptions> = {},
) {
  const clock = new FakeClock();
  const calls: Call[] = [];
  const failures: string[] = [];
  const givenUp: string[] = [];
  let leading = true;
  const queue = new ReconcileQueue(
    clock,
    {
      async reconcile(trigger, pods) {
        const call = {
          trigger,
          pods: pods === undefined ? undefined : [...pods.keys()].sort(),
          at: clock.now(),
        };
        calls.push(call);
        const outcome = answer(call, pods);
        if (outcome instanceof Error) throw outcome;
        return outcome;
      },
      failed: (trigger, error) => failures.push(`${trigger}: ${(error as Error).message}`),
      gaveUp: (ref, _state, attempts) => givenUp.push(`${ref} after ${attempts}`),
    },
    { ...DEFAULT_QUEUE_OPTIONS, batchMs: 200, admits: () => leading, ...options },
  );
  const running = queue.run();
  return {
    clock,
    queue,
    calls,
    failures,
    givenUp,
    running,
    setLeading(value: boolean) {
      leading = value;
    },
  };
}

const gone: PodState = { uid: "u1", gone: "not found" } as unknown as PodState;

describe("ReconcileQueue", () => {
  it("gathers gone pods for batchMs and reconciles them together, once each", async () => {
    const h = harness();
    h.queue.enqueuePod("ns/a", gone);
    await h.clock.advance(100);
    h.queue.enqueuePod("ns/b", gone);
    h.queue.enqueuePod("ns/a", gone);
    assert.deepEqual(h.calls, [], "nothing before the batch window closes");
    await h.clock.advance(100);
    assert.deepEqual(h.calls, [{ trigger: "fast", pods: ["ns/a", "ns/b"], at: 200 }]);
    await h.clock.advance(1_000);
    assert.equal(h.calls.length, 1, "nothing more to do");
    await h.queue.stop(0);
    await h.running;
  });

  it("runs a sweep before pending pods, which it covers; sweeps of one kind are not repeated", async () => {
    const h = harness();
    h.queue.enqueueSweep("startup");
    h.queue.enqueueSweep("startup");
    h.queue.enqueuePod("ns/a", gone);
    h.queue.enqueueSweep("cron");
    await h.clock.advance(1_000);
    assert.deepEqual(
      h.calls.map((c) => c.trigger),
      ["startup", "cron"],
      "the pod queued before the sweeps is covered by them",
    );
    h.queue.enqueuePod("ns/b", gone);
    await h.clock.advance(200);
    assert.deepEqual(h.calls.at(-1), { trigger: "fast", pods: ["ns/b"], at: 1_200 });
    await h.queue.stop(0);
    await h.running;
  });

  it("tries a pod whose release failed again with growing pauses, then gives it up to the next sweep", async () => {
    const h = harness((call) =>
      call.trigger === "fast"
        ? { errors: 1, failedPods: new Set(["ns/a"]) }
        : { errors: 0, failedPods: new Set() },
    );
    h.queue.enqueuePod("ns/a", gone);
    h.queue.enqueuePod("ns/b", gone);
    await h.clock.advance(60_000);
    const fast = h.calls.filter((c) => c.trigger === "fast");
    assert.deepEqual(fast[0]?.pods, ["ns/a", "ns/b"]);
    assert.ok(
      fast.slice(1).every((c) => c.pods?.join() === "ns/a"),
      "only the pod that failed is tried again",
    );
    assert.equal(fast.length, DEFAULT_QUEUE_OPTIONS.attempts, "one try per attempt");
    const gaps = fast.slice(1).map((c, i) => c.at - fast[i]!.at);
    for (let i = 1; i < gaps.length; i++)
      assert.ok(gaps[i]! > gaps[i - 1]!, `pauses grow: ${gaps.join(", ")}`);
    assert.deepEqual(h.givenUp, [`ns/a after ${DEFAULT_QUEUE_OPTIONS.attempts}`]);
    await h.queue.stop(0);
    await h.running;
  });

  it("keeps when a pod was first seen gone through its retries and repeated sightings (the leak age counts from it)", async () => {
    const seen: number[] = [];
    let fails = 2;
    const h = harness((_call, pods) => {
      seen.push(pods?.get("ns/a")?.seenGoneAt ?? -1);
      return fails-- > 0
        ? { errors: 1, failedPods: new Set(["ns/a"]) }
        : { errors: 0, failedPods: new Set() };
    });
    await h.clock.advance(500);
    h.queue.enqueuePod("ns/a", gone);
    await h.clock.advance(100);
    h.queue.enqueuePod("ns/a", gone); // seen gone again (a second watch event) before the batch
    await h.clock.advance(60_000);
    assert.deepEqual(seen, [500, 500, 500], "the first sighting, on every try");
    await h.queue.stop(0);
    await h.running;
  });

  it("a fast reconcile that throws tries the whole batch again; a failed startup sweep runs again later", async () => {
    let fails = 1;
    const h = harness((call) => {
      if (fails > 0) {
        fails--;
        return new Error(`${call.trigger} broke`);
      }
      return { errors: 0, failedPods: new Set() };
    });
    h.queue.enqueuePod("ns/a", gone);
    h.queue.enqueuePod("ns/b", gone);
    await h.clock.advance(3_000);
    assert.deepEqual(
      h.calls.map((c) => c.pods?.join()),
      ["ns/a,ns/b", "ns/a,ns/b"],
    );
    assert.deepEqual(h.failures, ["fast: fast broke"]);

    fails = 1;
    h.queue.enqueueSweep("startup");
    await h.clock.advance(4_999);
    assert.equal(h.calls.filter((c) => c.trigger === "startup").length, 1);
    await h.clock.advance(1);
    assert.deepEqual(
      h.calls.filter((c) => c.trigger === "startup").map((c) => c.at),
      [3_000, 8_000],
      "the startup sweep runs again after startupRetryMs",
    );
    await h.queue.stop(0);
    await h.running;
  });

  it("takes no work while not leading, nor pod refs that are not namespace/name", async () => {
    const h = harness();
    h.setLeading(false);
    h.queue.enqueuePod("ns/a", gone);
    h.queue.enqueueSweep("cron");
    h.setLeading(true);
    h.queue.enqueuePod("no-namespace", gone);
    await h.clock.advance(1_000);
    assert.deepEqual(h.calls, []);
    await h.queue.stop(0);
    await h.running;
  });

  it("stop() waits for the reconcile in progress, up to its grace period, and takes nothing after", async () => {
    let finish: (() => void) | undefined;
    const clock = new FakeClock();
    const calls: Trigger[] = [];
    const queue = new ReconcileQueue(
      clock,
      {
        reconcile: (trigger) => {
          calls.push(trigger);
          return new Promise((resolve) => {
            finish = () => resolve({ errors: 0, failedPods: new Set() });
          });
        },
        failed: () => {},
        gaveUp: () => {},
      },
      { ...DEFAULT_QUEUE_OPTIONS, admits: () => true },
    );
    const running = queue.run();
    queue.enqueueSweep("cron");
    await settle();
    let stopped = false;
    const stopping = queue.stop(5_000).then(() => {
      stopped = true;
    });
    await clock.advance(1_000);
    assert.equal(stopped, false, "still waiting for the reconcile");
    finish?.();
    await stopping;
    await running;
    queue.enqueueSweep("cron");
    await clock.advance(1_000);
    assert.deepEqual(calls, ["cron"]);
  });
});
