import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffDelay } from "./backoff.ts";

describe("backoffDelay()", () => {
  const backoff = { baseMs: 50, capMs: 1_000 };

  it("draws from [0, base·2^attempt): the lowest draw waits nothing, the highest just under the ceiling", () => {
    for (const [attempt, ceiling] of [
      [0, 50],
      [1, 100],
      [2, 200],
      [4, 800],
    ] as const) {
      assert.equal(backoffDelay(attempt, 0, backoff), 0, `attempt ${attempt}`);
      assert.equal(backoffDelay(attempt, 0.5, backoff), ceiling / 2, `attempt ${attempt}`);
      assert.equal(backoffDelay(attempt, 0.999_999, backoff), ceiling - 1, `attempt ${attempt}`);
    }
  });

  it("never exceeds the cap, however many attempts (no overflow to Infinity or NaN)", () => {
    for (const attempt of [5, 6, 31, 1_000, Number.MAX_SAFE_INTEGER])
      assert.equal(backoffDelay(attempt, 0.999_999, backoff), 999, `attempt ${attempt}`);
  });

  it("with base = cap it is a plain jitter over one period", () => {
    const period = { baseMs: 400, capMs: 400 };
    assert.deepEqual(
      [0, 3, 9].map((attempt) => backoffDelay(attempt, 0.25, period)),
      [100, 100, 100],
    );
  });

  it("returns whole milliseconds", () => {
    assert.equal(backoffDelay(0, 0.123, { baseMs: 3, capMs: 10 }), 0);
    assert.equal(backoffDelay(3, 0.3, { baseMs: 3, capMs: 10 }), 3);
  });
});
