import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Admission, ByteBudget, CallGate, type GateClock, type GateLimits } from "./call-gate.ts";

/** A clock that moves only when told, firing the timers that fall due. */
function fakeClock(): GateClock & { advance(ms: number): void; timers(): number } {
  let now = 0;
  const timers = new Set<{ at: number; fire: () => void }>();
  return {
    now: () => now,
    after(ms, fire) {
      const timer = { at: now + ms, fire };
      timers.add(timer);
      return () => timers.delete(timer);
    },
    advance(ms) {
      const until = now + ms;
      for (const t of [...timers].sort((a, b) => a.at - b.at)) {
        if (t.at > until || !timers.delete(t)) continue;
        now = t.at; // each timer fires at its own time
        t.fire();
      }
      now = until;
    },
    timers: () => timers.size,
  };
}

/** Lets settled promises' callbacks run. */
const settle = () => new Promise((r) => setImmediate(r));

/** Enters and records the admission once it is decided. */
function track(gate: CallGate, first = false): { admission: Admission | undefined } {
  const out: { admission: Admission | undefined } = { admission: undefined };
  void gate.enter(first).then((a) => {
    out.admission = a;
  });
  return out;
}

function admitted(t: { admission: Admission | undefined }) {
  assert.ok(t.admission?.admitted === true, `admitted: ${JSON.stringify(t.admission)}`);
  return t.admission;
}

const limits = (running: number, queued: number, waitMs = 1000): GateLimits => ({ running, queued, waitMs });

describe("call gate", () => {
  it("lets `running` calls in at once; the next ones wait and start as slots free, in order", async () => {
    const clock = fakeClock();
    const gate = new CallGate(limits(2, 5), clock);
    const [a, b, c, d] = [track(gate), track(gate), track(gate), track(gate)];
    await settle();
    assert.equal(admitted(a).waitedMs, 0);
    admitted(b);
    assert.equal(c.admission, undefined);
    assert.equal(d.admission, undefined);
    assert.deepEqual([gate.running, gate.queued], [2, 2]);
    clock.advance(300);
    admitted(a).leave();
    admitted(a).leave(); // a second leave frees nothing more
    await settle();
    assert.equal(admitted(c).waitedMs, 300);
    assert.equal(d.admission, undefined, "one slot freed, one call started");
    assert.deepEqual([gate.running, gate.queued], [2, 1]);
    admitted(b).leave();
    await settle();
    admitted(d);
    admitted(c).leave();
    admitted(d).leave();
    assert.deepEqual([gate.running, gate.queued], [0, 0]);
    assert.equal(clock.timers(), 0, "no timer left behind by calls that started");
  });

  it("turns a call away at once when the queue is full, and with no queue when every slot is taken", async () => {
    const clock = fakeClock();
    const gate = new CallGate(limits(1, 1), clock);
    const running = track(gate);
    const waiting = track(gate);
    const refused = await gate.enter(false);
    assert.deepEqual(refused, { admitted: false, why: "queue full", waitedMs: 0 });
    await settle();
    admitted(running);
    assert.equal(waiting.admission, undefined);

    const none = new CallGate(limits(1, 0), clock);
    const only = await none.enter(false);
    assert.equal(only.admitted, true);
    assert.deepEqual(await none.enter(true), { admitted: false, why: "queue full", waitedMs: 0 });
  });

  it("turns away a waiting call not started within the wait; the queue has room again", async () => {
    const clock = fakeClock();
    const gate = new CallGate(limits(1, 2, 1000), clock);
    const running = track(gate);
    const early = track(gate);
    clock.advance(400);
    const late = track(gate);
    clock.advance(599);
    await settle();
    assert.equal(early.admission, undefined, "still within its wait");
    clock.advance(1);
    await settle();
    assert.deepEqual(early.admission, { admitted: false, why: "waited too long", waitedMs: 1000 });
    assert.equal(late.admission, undefined);
    assert.deepEqual([gate.running, gate.queued], [1, 1]);
    const another = track(gate);
    await settle();
    assert.equal(another.admission, undefined, "the expired call's place is free");
    admitted(running).leave();
    await settle();
    assert.equal(admitted(late).waitedMs, 600);
    clock.advance(2000);
    await settle();
    assert.deepEqual(another.admission, { admitted: false, why: "waited too long", waitedMs: 1000 });
    assert.equal(gate.queued, 0);
  });

  it("starts a waiting DEL before ADDs that waited longer", async () => {
    const clock = fakeClock();
    const gate = new CallGate(limits(1, 5), clock);
    const running = track(gate);
    const add1 = track(gate);
    const add2 = track(gate);
    const del1 = track(gate, true);
    const del2 = track(gate, true);
    await settle();
    admitted(running).leave();
    await settle();
    admitted(del1).leave();
    await settle();
    admitted(del2).leave();
    await settle();
    assert.equal(add2.admission, undefined);
    admitted(add1).leave();
    await settle();
    admitted(add2);
  });

  it("a DEL arriving to a full queue takes the newest waiting ADD's place; a full queue of DELs turns it away", async () => {
    const clock = fakeClock();
    const gate = new CallGate(limits(1, 2), clock);
    const running = track(gate);
    const older = track(gate);
    clock.advance(50);
    const newer = track(gate);
    clock.advance(50);
    const del1 = track(gate, true);
    await settle();
    assert.deepEqual(newer.admission, { admitted: false, why: "queue full", waitedMs: 50 });
    assert.equal(older.admission, undefined);
    const del2 = track(gate, true);
    await settle();
    assert.deepEqual(
      { ...older }.admission,
      { admitted: false, why: "queue full", waitedMs: 100 },
      "the last waiting ADD gives way too",
    );
    assert.equal(await gate.enter(true).then((a) => a.admitted), false, "only DELs wait: no room");
    assert.equal(await gate.enter(false).then((a) => a.admitted), false);
    assert.equal(clock.timers(), 2, "the displaced calls' timers are gone");
    admitted(running).leave();
    await settle();
    admitted(del1).leave();
    await settle();
    admitted(del2).leave();
    assert.deepEqual([gate.running, gate.queued], [0, 0]);
  });

  it("close turns every waiting call away at once and later ones too; running calls keep their slot", async () => {
    const clock = fakeClock();
    const gate = new CallGate(limits(1, 3), clock);
    const running = track(gate);
    const add = track(gate);
    const del = track(gate, true);
    clock.advance(10);
    gate.close();
    await settle();
    assert.deepEqual(add.admission, { admitted: false, why: "closing", waitedMs: 10 });
    assert.deepEqual(del.admission, { admitted: false, why: "closing", waitedMs: 10 });
    assert.deepEqual(await gate.enter(true), { admitted: false, why: "closing", waitedMs: 0 });
    assert.deepEqual([gate.running, gate.queued], [1, 0]);
    assert.equal(clock.timers(), 0);
    admitted(running).leave();
    assert.equal(gate.running, 0);
  });

  it("refuses limits it cannot work with", () => {
    assert.throws(() => new CallGate(limits(0, 1)), RangeError);
    assert.throws(() => new CallGate(limits(1, -1)), RangeError);
    assert.throws(() => new CallGate(limits(1, 1, Number.NaN)), RangeError);
  });
});

describe("byte budget for meta-plugin requests", () => {
  it("holds requests up to its limit; one that does not fit is refused until bytes are given back", () => {
    const budget = new ByteBudget(10_000);
    const a = budget.take(6_000);
    assert.ok(a !== undefined);
    assert.equal(budget.take(4_001), undefined, "would exceed the limit");
    const b = budget.take(4_000);
    assert.ok(b !== undefined);
    assert.equal(budget.held, 10_000);
    assert.equal(budget.take(1), undefined);
    a();
    a(); // given back once only
    assert.equal(budget.held, 4_000);
    assert.ok(budget.take(6_000) !== undefined);
    assert.equal(budget.take(20_000), undefined, "larger than the whole budget: never held");
  });
});
