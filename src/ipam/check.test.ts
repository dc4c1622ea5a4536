// CHECK over a memory store: the attachment must hold an address in every range, the one the
// runtime cached, and its reservation.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { load } from "../config/test-support.ts";
import type { IpamConfig } from "../config/types.ts";
import { CniError, StoreUnavailableError } from "../errors/errors.ts";
import { unreachable } from "../store/memory/script.ts";
import { poolChange } from "../store/store.ts";
import { CHECK_FAILED, checkAttachment } from "./check.ts";
import { type Scene, scene } from "./test-support.ts";

const me = { containerId: "c-a", podRef: "ns/a", ifName: "eth0" };
const attachment = { containerId: me.containerId, ifName: me.ifName };
const dualStack = load({ ipRanges: [{ range: "10.0.0.0/24" }, { range: "fd00::/120" }] });

function check(s: Scene, prev?: string[], config: IpamConfig = dualStack) {
  return checkAttachment(s.store, config, attachment, prev, s.deadline());
}

function failed(message: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof CniError, String(error));
    assert.equal(error.code, CHECK_FAILED);
    assert.match(error.message, message);
    return true;
  };
}

function holding(reservations = true): Scene {
  const s = scene();
  for (const [pool, range, name] of [
    ["10.0.0.0-24", "10.0.0.0/24", "10.0.0.3"],
    ["fd00---120", "fd00::/120", "fd00--3"],
  ] as const)
    s.store.data.commit(
      poolChange(pool, range, { create: [["3", me]], reserve: reservations ? [{ name, ...me }] : [] }),
    );
  return s;
}

describe("checkAttachment()", () => {
  it("passes when every range holds the attachment's address and reservation, as cached", async () => {
    const s = holding();
    await check(s);
    await check(s, ["10.0.0.3", "fd00::3"]);
    const reads = s.store.calls.filter((c) => c.call === "getPool" || c.call === "getReservation");
    assert.ok(reads.every((c) => (c.args[1] as { deadline?: unknown }).deadline !== undefined));
  });

  it("fails with code 101 when a range holds nothing, or another address than cached", async () => {
    const s = holding();
    await assert.rejects(
      check(s, ["10.0.0.9", "fd00::3"]),
      failed(/holds 10\.0\.0\.3 in pool 10\.0\.0\.0-24, which is not in prevResult/),
    );
    s.store.data.commit(poolChange("fd00---120", "", { remove: [["3", me]] }));
    await assert.rejects(
      check(s),
      failed(/^container c-a interface eth0 holds no address in pool fd00---120$/),
    );
  });

  it("fails with code 101 when the reservation is missing or held by another pod; ignores it without overlapping ranges", async () => {
    const s = holding(false);
    await assert.rejects(
      check(s),
      failed(/the reservation of 10\.0\.0\.3 is missing or held by another pod or network/),
    );
    await check(
      s,
      undefined,
      load({ ipRanges: [{ range: "10.0.0.0/24" }], enable_overlapping_ranges: false }),
    );
    s.store.data.commit(
      poolChange("x", "", {
        reserve: [{ name: "10.0.0.3", containerId: "c-b", podRef: "ns/b", ifName: "eth0" }],
      }),
    );
    await assert.rejects(check(s), failed(/missing or held by another pod/));
  });

  it("reports an unreachable store as code 11, not as a failed check", async () => {
    const s = holding();
    s.store.next("getPool", unreachable());
    await assert.rejects(check(s), StoreUnavailableError);
  });

  it("fails with code 101 when the attachment's entry was parked by its DEL (kept for its owner, not its)", async () => {
    const s = scene();
    const parked = { ...me, owner: "vm/ns/a", parkedAt: 1_000 };
    s.store.data.commit(
      poolChange("10.0.0.0-24", "10.0.0.0/24", {
        create: [["3", parked]],
        reserve: [{ name: "10.0.0.3", ...me }],
      }),
    );
    await assert.rejects(
      check(s, undefined, load({ range: "10.0.0.0/24" })),
      failed(
        /^container c-a interface eth0 holds no address in pool 10\.0\.0\.0-24: its 10\.0\.0\.3 was parked by its DEL$/,
      ),
    );
    s.store.data.commit(
      poolChange("10.0.0.0-24", "", {
        update: [{ key: "3", from: parked, to: { ...me, owner: "vm/ns/a" } }],
      }),
    );
    await check(s, ["10.0.0.3"], load({ range: "10.0.0.0/24" }));
  });
});
