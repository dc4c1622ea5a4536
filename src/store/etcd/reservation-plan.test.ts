import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Reservation } from "../../pool/allocation.ts";
import { encodeReservation } from "./documents.ts";
import { compareAbsent, compareMod, compareValue, deleteOp, putOp } from "./etcd-api.ts";
import { type Observed, planReservations } from "./reservation-plan.ts";

const key = (name: string) => `/t/reservations/${name}`;

function r(name: string, podRef: string, ifName = "eth0", containerId = "c1"): Reservation {
  return { name, podRef, ifName, containerId };
}

function seen(holder: Reservation | undefined, modRevision?: string): Observed {
  return { holder, modRevision };
}

describe("planReservations()", () => {
  it("guesses a reservation to take is free", () => {
    const wanted = r("10.0.0.1", "ns/a");
    assert.deepEqual(planReservations([wanted], [], new Map(), key), {
      ok: true,
      compares: [compareAbsent(key("10.0.0.1"))],
      writes: [putOp(key("10.0.0.1"), encodeReservation(wanted))],
      names: ["10.0.0.1"],
    });
  });

  it("guesses a reservation to drop holds exactly what its owner wrote", () => {
    const owner = r("10.0.0.1", "ns/a");
    assert.deepEqual(planReservations([], [owner], new Map(), key), {
      ok: true,
      compares: [compareValue(key("10.0.0.1"), encodeReservation(owner))],
      writes: [deleteOp(key("10.0.0.1"))],
      names: ["10.0.0.1"],
    });
  });

  it("keeps a reservation seen held by the same owner, with the new container id, at its revision", () => {
    const observed = new Map([["10.0.0.1", seen(r("10.0.0.1", "ns/a", ""), "41")]]);
    const plan = planReservations([r("10.0.0.1", "ns/a", "net1", "c2")], [], observed, key);
    assert.deepEqual(plan, {
      ok: true,
      compares: [compareMod(key("10.0.0.1"), "41")],
      writes: [putOp(key("10.0.0.1"), encodeReservation(r("10.0.0.1", "ns/a", "", "c2")))],
      names: ["10.0.0.1"],
    });
  });

  it("guards an unchanged reservation of the same owner without writing it", () => {
    const observed = new Map([["10.0.0.1", seen(r("10.0.0.1", "ns/a"), "7")]]);
    const plan = planReservations([r("10.0.0.1", "ns/a")], [], observed, key);
    assert.deepEqual(plan, {
      ok: true,
      compares: [compareMod(key("10.0.0.1"), "7")],
      writes: [],
      names: ["10.0.0.1"],
    });
  });

  it("reports the holder of a reservation seen held by another owner", () => {
    const holder = r("10.0.0.1", "ns/a", "eth0");
    for (const wanted of [r("10.0.0.1", "ns/b"), r("10.0.0.1", "ns/a", "net1")]) {
      const observed = new Map([["10.0.0.1", seen(holder, "3")]]);
      assert.deepEqual(planReservations([r("10.0.0.2", "ns/b"), wanted], [], observed, key), {
        ok: false,
        holder,
      });
    }
  });

  it("drops a reservation seen held by its owner at its revision, whatever the container id", () => {
    const observed = new Map([["10.0.0.1", seen(r("10.0.0.1", "ns/a", "eth0", "old"), "9")]]);
    const plan = planReservations([], [r("10.0.0.1", "ns/a", "eth0", "new")], observed, key);
    assert.deepEqual(plan, {
      ok: true,
      compares: [compareMod(key("10.0.0.1"), "9")],
      writes: [deleteOp(key("10.0.0.1"))],
      names: ["10.0.0.1"],
    });
  });

  it("leaves alone a reservation to drop that is absent or another owner's", () => {
    const observed = new Map([
      ["10.0.0.1", seen(undefined)],
      ["10.0.0.2", seen(r("10.0.0.2", "ns/other"), "5")],
    ]);
    const plan = planReservations([], [r("10.0.0.1", "ns/a"), r("10.0.0.2", "ns/a")], observed, key);
    assert.deepEqual(plan, { ok: true, compares: [], writes: [], names: ["10.0.0.1", "10.0.0.2"] });
  });

  it("applies reserve before unreserve, as one change", () => {
    const plan = planReservations([r("10.0.0.1", "ns/a")], [r("10.0.0.1", "ns/a")], new Map(), key);
    assert.deepEqual(plan, {
      ok: true,
      compares: [compareAbsent(key("10.0.0.1"))],
      writes: [],
      names: ["10.0.0.1"],
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
