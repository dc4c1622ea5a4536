import assert from "node:assert/strict";
import { test } from "node:test";
import { formatIP } from "./address.ts";
import {
  broadcastOf,
  contains,
  formatCidr,
  masked,
  networkOf,
  overlaps,
  parseCidr,
  parseCidrSloppy,
} from "./cidr.ts";

const v = (family: 4 | 6, value: bigint) => formatIP({ family, value });

test("networkOf() / broadcastOf() match Go (A.3 H3)", async (t) => {
  const rows: [string, string, string][] = [
    ["192.168.0.0/32", "192.168.0.0", "192.168.0.0"],
    ["192.168.0.0/31", "192.168.0.0", "192.168.0.1"],
    ["192.168.0.0/30", "192.168.0.0", "192.168.0.3"],
    ["192.168.0.0/23", "192.168.0.0", "192.168.1.255"],
    ["2000::/128", "2000::", "2000::"],
    ["2000::/127", "2000::", "2000::1"],
    ["2000::/126", "2000::", "2000::3"],
    ["2000::/64", "2000::", "2000::ffff:ffff:ffff:ffff"],
  ];
  for (const [text, net, bcast] of rows) {
    await t.test(text, () => {
      const c = parseCidr(text)!;
      assert.equal(v(c.family, networkOf(c)), net);
      assert.equal(v(c.family, broadcastOf(c)), bcast);
    });
  }
});

test("parseCidr() keeps the address as written; masked() clears host bits", () => {
  const c = parseCidr("192.168.2.225/28")!;
  assert.equal(formatCidr(c), "192.168.2.225/28");
  assert.equal(formatCidr(masked(c)), "192.168.2.224/28");
  assert.equal(formatCidr(masked(parseCidr("2001::1/116")!)), "2001::/116");
  assert.equal(formatCidr(masked(parseCidrSloppy("00192.00168.1.0/24")!)), "192.168.1.0/24");
});

test("parseCidr() rejects malformed prefixes", async (t) => {
  for (const bad of [
    "192.168.0.1/123",
    "192.168.0.1",
    "192.168.0.1/",
    "1.2.3.4/-1",
    "::/129",
    "x/24",
    "1.2.3.4/2a",
  ]) {
    await t.test(bad, () => assert.equal(parseCidr(bad), undefined));
  }
});

test("contains() is inclusive and family-aware (A.3 H2)", () => {
  const c = parseCidr("192.168.0.0/30")!;
  assert.ok(contains(c, { family: 4, value: networkOf(c) }));
  assert.ok(contains(c, { family: 4, value: broadcastOf(c) }));
  assert.ok(!contains(c, { family: 4, value: broadcastOf(c) + 1n }));
  assert.ok(!contains(c, { family: 6, value: networkOf(c) }));
});

test("overlaps() when the prefixes share an address, whatever host bits are written, per family", () => {
  const c = (t: string) => parseCidr(t)!;
  assert.ok(overlaps(c("10.0.0.0/24"), c("10.0.0.128/25")));
  assert.ok(overlaps(c("10.0.0.200/25"), c("10.0.0.0/16")));
  assert.ok(overlaps(c("10.0.0.255/32"), c("10.0.0.0/24")));
  assert.ok(!overlaps(c("10.0.0.0/25"), c("10.0.0.128/25")));
  assert.ok(!overlaps(c("10.0.1.0/24"), c("10.0.0.0/24")));
  assert.ok(!overlaps(c("::/0"), c("0.0.0.0/0")));
  assert.ok(overlaps(c("fd00::/64"), c("fd00::1:0/112")));
});
