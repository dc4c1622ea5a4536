import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCidr, parseIP } from "../ip/index.ts";
import { nodeSlicePoolName, poolName, reservationName } from "./naming.ts";

test("poolName() matches Go's IPPool names (§4.2, A.5 N3)", async (t) => {
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
