import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ACTIVE_MS,
  type GateClock,
  GoLeaseGate,
  type GoLeaseRecord,
  goLeaseRecord,
  IDLE_RECHECK_MS,
  MAX_WAIT_MS,
} from "./go-lease-gate.ts";

/** Virtual time: sleeping moves the clock. */
class Clock implements GateClock {
  at = 1_000_000;
  now(): number {
    return this.at;
  }
  async sleep(ms: number): Promise<void> {
    this.at += ms;
  }
  random(): number {
    return 0.5;
  }
}

function lease(holder: string, renewedAt: number, durationMs = 1_000): GoLeaseRecord {
  return { holder, raw: JSON.stringify({ holder, renewedAt }), durationMs, renewedAt };
}

/** A gate whose reads answer `script(now)` and are counted. */
function gate(script: (now: number) => GoLeaseRecord | undefined | "forbidden" | Error) {
  const clock = new Clock();
  let reads = 0;
  const g = new GoLeaseGate(async () => {
    reads++;
    const answer = script(clock.now());
    if (answer instanceof Error) throw answer;
    return answer;
  }, clock);
  return { clock, gate: g, reads: () => reads };
}

describe("GoLeaseGate", () => {
  it("without a Lease (Go never ran here) lets writes through, and looks again only every 10 s", async () => {
    const h = gate(() => undefined);
    await h.gate.clear(h.clock.now() + 10_000);
    await h.gate.clear(h.clock.now() + 10_000);
    assert.equal(h.reads(), 1);
    h.clock.at += IDLE_RECHECK_MS;
    await h.gate.clear(h.clock.now() + 10_000);
    assert.equal(h.reads(), 2);
  });

  it("a Lease Go last renewed long ago counts as inactive", async () => {
    const h = gate((now) => lease("", now - ACTIVE_MS - 1));
    await h.gate.clear(h.clock.now() + 10_000);
    h.clock.at += 1_000;
    await h.gate.clear(h.clock.now() + 10_000);
    assert.equal(h.reads(), 1);
  });

  it("while Go is active, every write looks, and waits while a Go plugin holds the Lease", async () => {
    const start = 1_000_000;
    // A Go plugin takes the Lease at start, renews it every 500 ms, and releases it at +1.2 s.
    const h = gate((now) => {
      if (now >= start + 1_200) return lease("", start + 1_200);
      return lease("default/go-1", start + Math.floor((now - start) / 500) * 500);
    });
    await h.gate.clear(h.clock.now() + 10_000);
    assert.ok(h.clock.now() >= start + 1_200, `waited until the release (${h.clock.now() - start} ms)`);
    assert.equal(h.gate.waits, 1);
    assert.ok(h.gate.waitedMs >= 1_200);
    const reads = h.reads();
    await h.gate.clear(h.clock.now() + 10_000);
    assert.equal(h.reads(), reads + 1, "Go is active: the next write looks again");
  });

  it("does not wait for a holder whose record stopped changing for its lease duration (Go's expiry)", async () => {
    const start = 1_000_000;
    const h = gate(() => lease("default/crashed", start));
    await h.gate.clear(start + 10_000);
    const waited = h.clock.now() - start;
    assert.ok(waited >= 1_000 && waited < 1_500, `waited ${waited} ms`);
  });

  it("waits no longer than the call's deadline, nor MAX_WAIT_MS", async () => {
    let held = 0;
    // A holder that renews all the time.
    const h = gate(() => lease("default/busy", held++));
    await h.gate.clear(h.clock.now() + 300);
    assert.ok(h.clock.now() - 1_000_000 <= 300);
    const from = h.clock.now();
    await h.gate.clear(from + 60_000);
    assert.ok(h.clock.now() - from <= MAX_WAIT_MS);
  });

  it("never blocks a write when the Lease cannot be read, and stops looking when it is forbidden", async () => {
    const failing = gate(() => new Error("unreachable"));
    await failing.gate.clear(failing.clock.now() + 10_000);
    assert.equal(failing.clock.now(), 1_000_000, "no wait");
    const forbidden = gate(() => "forbidden");
    await forbidden.gate.clear(forbidden.clock.now() + 10_000);
    forbidden.clock.at += 10 * IDLE_RECHECK_MS;
    await forbidden.gate.clear(forbidden.clock.now() + 10_000);
    assert.equal(forbidden.reads(), 1);
  });

  it("reads a Lease object as the API serves it", () => {
    const record = goLeaseRecord({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "whereabouts" },
      spec: { holderIdentity: "ns/pod", leaseDurationSeconds: 1, renewTime: "2026-12-04T10:00:00.123000Z" },
    });
    assert.equal(record.holder, "ns/pod");
    assert.equal(record.durationMs, 1_000);
    assert.equal(record.renewedAt, Date.parse("2026-12-04T10:00:00.123Z"));
    assert.deepEqual(goLeaseRecord({}), { holder: "", raw: "{}", durationMs: 0, renewedAt: Number.NaN });
  });
});
