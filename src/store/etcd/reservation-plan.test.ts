import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Reservation } from "../../pool/allocation.ts";
import { encodeReservation } from "./documents.ts";
import { compareAbsent, compareMod, compareValue, deleteOp, getOp, putOp, txnOp } from "./etcd-api.ts";
import { type Known, planReservations } from "./reservation-plan.ts";

const key = (name: string) => `/t/reservations/${name}`;

function r(name: string, podRef: string, ifName = "eth0", containerId = "c1"): Reservation {
  return { name, podRef, ifName, containerId };
}

function read(holder: Reservation | undefined, modRevision?: string): Known {
  return { holder, modRevision };
}

/** The nested transaction that drops `name` iff `guard` holds, else reads it. */
function drop(owner: Reservation, guard = compareValue(key(owner.name), encodeReservation(owner))) {
  return {
    name: owner.name,
    owner,
    op: txnOp([guard], [deleteOp(key(owner.name))], [getOp(key(owner.name))]),
  };
}

describe("planReservations()", () => {
  it("guesses a reservation to take is free", () => {
    const wanted = r("10.0.0.1", "ns/a");
    assert.deepEqual(planReservations([wanted], [], new Map(), key), {
      ok: true,
      compares: [compareAbsent(key("10.0.0.1"))],
      writes: [putOp(key("10.0.0.1"), encodeReservation(wanted))],
      reads: ["10.0.0.1"],
      drops: [],
    });
  });

  it("checks a guessed holder by value and rewrites its container id", () => {
    const guessed = new Map([["10.0.0.1", read(r("10.0.0.1", "ns/a", "eth0", "old"))]]);
    const plan = planReservations([r("10.0.0.1", "ns/a", "eth0", "new")], [], guessed, key);
    assert.deepEqual(plan, {
      ok: true,
      compares: [compareValue(key("10.0.0.1"), encodeReservation(r("10.0.0.1", "ns/a", "eth0", "old")))],
      writes: [putOp(key("10.0.0.1"), encodeReservation(r("10.0.0.1", "ns/a", "eth0", "new")))],
      reads: ["10.0.0.1"],
      drops: [],
    });
  });

  it("keeps a reservation read as held by the same owner, with the new container id, at its revision", () => {
    const known = new Map([["10.0.0.1", read(r("10.0.0.1", "ns/a", ""), "41")]]);
    const plan = planReservations([r("10.0.0.1", "ns/a", "net1", "c2")], [], known, key);
    assert.deepEqual(plan, {
      ok: true,
      compares: [compareMod(key("10.0.0.1"), "41")],
      writes: [putOp(key("10.0.0.1"), encodeReservation(r("10.0.0.1", "ns/a", "", "c2")))],
      reads: ["10.0.0.1"],
      drops: [],
    });
  });

  it("guards an unchanged reservation of the same owner without writing it", () => {
    const known = new Map([["10.0.0.1", read(r("10.0.0.1", "ns/a"), "7")]]);
    assert.deepEqual(planReservations([r("10.0.0.1", "ns/a")], [], known, key), {
      ok: true,
      compares: [compareMod(key("10.0.0.1"), "7")],
      writes: [],
      reads: ["10.0.0.1"],
      drops: [],
    });
  });

  it("reports the holder of a reservation held by another owner", () => {
    const holder = r("10.0.0.1", "ns/a", "eth0");
    for (const wanted of [r("10.0.0.1", "ns/b"), r("10.0.0.1", "ns/a", "net1")]) {
      const known = new Map([["10.0.0.1", read(holder, "3")]]);
      assert.deepEqual(planReservations([r("10.0.0.2", "ns/b"), wanted], [], known, key), {
        ok: false,
        holder,
      });
    }
  });

  it("drops a reservation only in a nested transaction, never as a precondition", () => {
    const owner = r("10.0.0.1", "ns/a");
    assert.deepEqual(planReservations([], [owner], new Map(), key), {
      ok: true,
      compares: [],
      writes: [],
      reads: [],
      drops: [drop(owner)],
    });
  });

  it("drops a reservation read as held by its owner at its revision, whatever the container id", () => {
    const known = new Map([["10.0.0.1", read(r("10.0.0.1", "ns/a", "eth0", "old"), "9")]]);
    const owner = r("10.0.0.1", "ns/a", "eth0", "new");
    const plan = planReservations([], [owner], known, key);
    assert.deepEqual(plan, {
      ok: true,
      compares: [],
      writes: [],
      reads: [],
      drops: [drop(owner, compareMod(key("10.0.0.1"), "9"))],
    });
  });

  it("leaves alone a reservation to drop read as absent or another owner's", () => {
    const known = new Map([
      ["10.0.0.1", read(undefined)],
      ["10.0.0.2", read(r("10.0.0.2", "ns/other"), "5")],
    ]);
    const plan = planReservations([], [r("10.0.0.1", "ns/a"), r("10.0.0.2", "ns/a")], known, key);
    assert.deepEqual(plan, { ok: true, compares: [], writes: [], reads: [], drops: [] });
  });

  it("applies reserve before unreserve of the same name, as one change under one compare", () => {
    const plan = planReservations([r("10.0.0.1", "ns/a")], [r("10.0.0.1", "ns/a")], new Map(), key);
    assert.deepEqual(plan, {
      ok: true,
      compares: [compareAbsent(key("10.0.0.1"))],
      writes: [],
      reads: ["10.0.0.1"],
      drops: [],
    });
  });

  it("checks a name reserved twice in one change against the first", () => {
    const first = r("10.0.0.1", "ns/a");
    assert.deepEqual(planReservations([first, r("10.0.0.1", "ns/b")], [], new Map(), key), {
      ok: false,
      holder: first,
    });
  });
});
