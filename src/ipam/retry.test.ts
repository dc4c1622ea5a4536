// The conflict backoff and the deadline, on a virtual clock: what is slept is exactly what the
// formula gives for the random draw, and nothing sleeps past a deadline.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { capped, deadlineIn, expired, pause, remainingMs, systemClock } from "./retry.ts";
import { VirtualClock } from "./test-support.ts";

describe("pause()", () => {
  it("sleeps the backoff for the attempt, drawn from the deadline's clock", async () => {
    const clock = new VirtualClock([0.5, 0.25]);
    const deadline = deadlineIn(10_000, clock);
    await pause(deadline, 4);
    await pause(deadline, 10);
    assert.deepEqual(clock.sleeps, [16, 62]);
    assert.equal(clock.draws, 2);
  });

  it("never sleeps past the deadline, and not at all once it has passed", async () => {
    const clock = new VirtualClock([0.99, 0.99]);
    const deadline = deadlineIn(100, clock);
    await pause(deadline, 20); // 247 ms wanted, 100 left
    assert.deepEqual(clock.sleeps, [100]);
    assert.equal(expired(deadline), true);
    await pause(deadline, 20);
    assert.deepEqual(clock.sleeps, [100]);
  });
});

describe("deadlines", () => {
  it("expired() and remainingMs() read the deadline's own clock", () => {
    const clock = new VirtualClock();
    const deadline = deadlineIn(50, clock);
    assert.equal(remainingMs(deadline), 50);
    assert.equal(expired(deadline), false);
    clock.advance(49);
    assert.equal(expired(deadline), false);
    clock.advance(1);
    assert.equal(expired(deadline), true);
    assert.equal(remainingMs(deadline), 0);
  });

  it("capped() is the earlier of a store's own budget and the caller's deadline, on the system clock", () => {
    const before = Date.now();
    const own = capped(10_000);
    assert.equal(own.clock, systemClock);
    assert.ok(own.at >= before + 10_000 && own.at <= Date.now() + 10_000);
    const clock = new VirtualClock();
    const soon = capped(10_000, deadlineIn(300, clock));
    assert.ok(soon.at >= before + 300 && soon.at <= Date.now() + 300);
    const late = capped(10_000, deadlineIn(60_000, clock));
    assert.ok(late.at <= Date.now() + 10_000);
    assert.equal(expired(capped(10_000, deadlineIn(-5, clock))), true);
  });
});
