import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCidr, parseIP } from "../ip/index.ts";
import { networkNameOf, nodeSlicePoolName, poolName, reservationName, reservationOf } from "./naming.ts";

test("poolName() matches Go's IPPool names (Whereabouts' naming test N3)", async (t) => {
  const rows: [string, string, string][] = [
    ["10.0.0.0/8", "", "10.0.0.0-8"],
    ["10.0.0.0/8", "test", "test-10.0.0.0-8"],
    ["192.168.2.225/28", "", "192.168.2.224-28"],
    ["192.168.2.225/28", "blue", "blue-192.168.2.224-28"],
    ["2001::1/116", "", "2001---116"],
    ["fd00:0:0:10:0:0:3:1/64", "", "fd00-0-0-10---64"],
    ["10.11.88.96/28", "", "10.11.88.96-28"],
  ];
  for (const [range, net, want] of rows) {
    await t.test(`${net}/${range}`, () => assert.equal(poolName(parseCidr(range)!, net), want));
  }
  assert.equal(nodeSlicePoolName(parseCidr("10.0.0.0/8")!, "testnode", ""), "testnode-10.0.0.0-8");
  assert.equal(
    nodeSlicePoolName(parseCidr("10.0.0.0/8")!, "testnode", "testnetwork"),
    "testnetwork-testnode-10.0.0.0-8",
  );
});

test("reservationName() matches Go's OverlappingRangeIPReservation names", async (t) => {
  const rows: [string, string, string][] = [
    ["10.0.0.5", "", "10.0.0.5"],
    ["10.0.0.5", "blue", "blue-10.0.0.5"],
    ["2001:db8::1", "", "2001-db8--1"],
    ["2001:db8::", "", "2001-db8--0"],
    ["fd00:0:0:10:0:0:3:1", "", "fd00--10-0-0-3-1"],
    ["2001:1b74:480:60b1::2", "", "2001-1b74-480-60b1--2"],
  ];
  for (const [ip, net, want] of rows) {
    await t.test(`${net}/${ip}`, () => assert.equal(reservationName(parseIP(ip)!, net), want));
  }
});

test("networkNameOf() reads the network_name part of a pool name for a given range", () => {
  const of = (pool: string, range: string) => networkNameOf(pool, parseCidr(range)!);
  assert.equal(of("10.0.0.0-8", "10.0.0.0/8"), "");
  assert.equal(of("blue-10.0.0.0-8", "10.0.0.0/8"), "blue");
  assert.equal(of("blue-10.0.0.0-8", "10.1.2.3/8"), "blue", "the range is masked first");
  assert.equal(of("blue-10.0.0.0-8", "10.0.0.0/16"), undefined);
  assert.equal(of("x-fd00-1---64", "fd00:1::/64"), "x");
  assert.equal(of("x-fd00-1---64", "1::/64"), "x-fd00");
  assert.equal(of("fd00-1---64", "1::/64"), "fd00");
  assert.equal(of("fd00-1---64", "fd00:1::/64"), "");
  assert.equal(of("xfd00-1---64", "fd00:1::/64"), undefined, "only a whole '-'-separated prefix");
});

test("reservationOf() names the reservation as Go does and records its claim", () => {
  const owner = { containerId: "c1", podRef: "ns/a", ifName: "net1" };
  assert.deepEqual(reservationOf(parseIP("fd00:1::5")!, "x", owner), {
    name: "x-fd00-1--5",
    ...owner,
    claim: { address: "fd00:1::5", networkName: "x" },
  });
  assert.equal(reservationOf(parseIP("1::5")!, "x-fd00", owner).name, "x-fd00-1--5");
  assert.deepEqual(reservationOf(parseIP("10.0.0.5")!, "", owner).claim, {
    address: "10.0.0.5",
    networkName: "",
  });
});
