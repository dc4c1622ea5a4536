// ADD over several ranges on a scripted memory store: a later range failing takes back what the
// earlier ones created (and only that), a rollback that fails is logged, and a rollback after the
// call ran out of time still runs, within its grace.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { load } from "../config/test-support.ts";
import { ExhaustedError, StoreUnavailableError } from "../errors/errors.ts";
import { formatIP } from "../ip/index.ts";
import { lostRace, unreachable } from "../store/memory/script.ts";
import { type CallOptions, type PoolChange, poolChange } from "../store/store.ts";
import { addAttachment, ROLLBACK_GRACE_MS } from "./add.ts";
import { type Scene, scene } from "./test-support.ts";

const me = { containerId: "c-a", podRef: "ns/a", ifName: "eth0" };
const dualStack = load({ ipRanges: [{ range: "10.0.0.0/24" }, { range: "fd00::/120" }] });

function add(s: Scene, deadline = s.deadline()) {
  return addAttachment(s.store, dualStack, me, deadline, s.log);
}

async function holdings(s: Scene): Promise<{ pools: Record<string, string[]>; reservations: string[] }> {
  const pools: Record<string, string[]> = {};
  for (const pool of await s.store.listPools()) pools[pool.name] = [...pool.allocations.keys()];
  return { pools, reservations: (await s.store.listReservations()).map((r) => r.name) };
}

const unavailable = (error: unknown) => {
  assert.ok(error instanceof StoreUnavailableError, String(error));
  assert.equal(error.kind, "unavailable");
  return true;
};

describe("addAttachment()", () => {
  it("takes one address per range, in range order", async () => {
    const s = scene();
    const outcome = await add(s);
    assert.deepEqual(
      outcome.addresses.map((a) => `${formatIP(a.address)}/${a.prefix}`),
      ["10.0.0.1/24", "fd00::1/120"],
    );
    assert.deepEqual(await holdings(s), {
      pools: { "10.0.0.0-24": ["1"], "fd00---120": ["1"] },
      reservations: ["10.0.0.1", "fd00--1"],
    });
  });

  it("releases the earlier ranges' new addresses when a later range cannot be reached", async () => {
    const s = scene();
    s.store.next("commit", {}, unreachable());
    await assert.rejects(add(s), unavailable);
    assert.deepEqual(await holdings(s), { pools: { "10.0.0.0-24": [] }, reservations: [] });
    assert.deepEqual(
      s.store.calls.map((c) => c.call),
      ["getPool", "commit", "getPool", "commit", "getPool", "commit", "listPools", "listReservations"],
    );
  });

  it("releases them when a later range is full, and reports that range", async () => {
    const s = scene();
    const full = Object.fromEntries(
      Array.from({ length: 255 }, (_, i) => [
        String(i + 1),
        { containerId: `c${i}`, podRef: `ns/p${i}`, ifName: "eth0" },
      ]),
    );
    s.store.data.commit(poolChange("fd00---120", "fd00::/120", { create: Object.entries(full) }));
    await assert.rejects(add(s), ExhaustedError);
    const after = await holdings(s);
    assert.deepEqual(after.pools["10.0.0.0-24"], []);
    assert.deepEqual(after.reservations, []);
  });

  it("keeps an address the attachment already held before this ADD", async () => {
    const s = scene();
    s.store.data.commit(poolChange("10.0.0.0-24", "10.0.0.0/24", { create: [["9", me]] }));
    s.store.next("commit", {}, unreachable());
    await assert.rejects(add(s), unavailable);
    assert.deepEqual((await holdings(s)).pools["10.0.0.0-24"], ["9"]);
  });

  it("logs a rollback that fails and reports the ADD's own failure; the runtime's DEL cleans up", async () => {
    const s = scene();
    s.store.next("commit", {}, unreachable(), unreachable());
    await assert.rejects(add(s), (error: unknown) => {
      assert.ok(unavailable(error));
      assert.match((error as Error).message, /^Cannot commit memory store: unreachable/);
      return true;
    });
    assert.deepEqual(
      s.log.lines.filter((l) => l.startsWith("[error]")),
      ["[error] could not roll back 10.0.0.0-24 entry 1: Cannot commit memory store: unreachable (scripted)"],
    );
    assert.deepEqual((await holdings(s)).pools["10.0.0.0-24"], ["1"]);
  });

  it("still rolls back when the later range ran out of time, within the grace after the deadline", async () => {
    const s = scene();
    const deadline = s.deadline(1_000);
    const race = lostRace();
    // Every commit to the second range loses its race: that range runs out of time.
    s.store.always("commit", {
      before: (context) => {
        if ((context.args[0] as PoolChange).pool === "fd00---120") return race.before?.(context);
      },
    });
    await assert.rejects(add(s, deadline), unavailable);
    assert.ok(s.clock.now() >= deadline.at, "the ADD gave up at its deadline");
    assert.deepEqual((await holdings(s)).pools["10.0.0.0-24"], [], "and then took its first address back");
    assert.deepEqual(await s.store.getReservation("10.0.0.1"), undefined);
    assert.deepEqual(
      s.log.lines.filter((l) => l.startsWith("[error]")),
      [],
    );
    const rollback = s.store.calls.findLast((c) => c.call === "commit")!.args[1] as CallOptions;
    assert.equal(
      rollback.deadline!.at,
      deadline.at + ROLLBACK_GRACE_MS,
      "the rollback's deadline: its grace",
    );
  });
});
