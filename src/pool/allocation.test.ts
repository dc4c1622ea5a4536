import assert from "node:assert/strict";
import { test } from "node:test";
import { claimsAgree, ownsReservation, type Reservation } from "./allocation.ts";

const x = { address: "fd00:1::5", networkName: "x" };
const xFd00 = { address: "1::5", networkName: "x-fd00" };

test("claimsAgree(): an unrecorded claim agrees with any; recorded ones must match in address and network", () => {
  assert.equal(claimsAgree(undefined, undefined), true);
  assert.equal(claimsAgree(x, undefined), true);
  assert.equal(claimsAgree(undefined, x), true);
  assert.equal(claimsAgree(x, { ...x }), true);
  assert.equal(claimsAgree(x, xFd00), false);
  assert.equal(claimsAgree(x, { ...x, networkName: "y" }), false);
  assert.equal(claimsAgree(x, { ...x, address: "fd00:1::6" }), false);
});

test("ownsReservation(): podRef, interface where both recorded one, and claim where both recorded one", () => {
  const held: Reservation = {
    name: "x-fd00-1--5",
    podRef: "ns/a",
    ifName: "net1",
    containerId: "c1",
    claim: x,
  };
  assert.equal(ownsReservation(held, { podRef: "ns/a", ifName: "net1" }), true);
  assert.equal(ownsReservation(held, { podRef: "ns/a", ifName: "net1", claim: x }), true);
  assert.equal(ownsReservation(held, { podRef: "ns/a", ifName: "", claim: x }), true);
  assert.equal(ownsReservation(held, { podRef: "ns/a", ifName: "net1", claim: xFd00 }), false);
  assert.equal(ownsReservation(held, { podRef: "ns/a", ifName: "net2", claim: x }), false);
  assert.equal(ownsReservation(held, { podRef: "ns/b", ifName: "net1", claim: x }), false);
  const goWritten: Reservation = { name: "x-fd00-1--5", podRef: "ns/a", ifName: "", containerId: "" };
  assert.equal(ownsReservation(goWritten, { podRef: "ns/a", ifName: "net1", claim: xFd00 }), true);
});
