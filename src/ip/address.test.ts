import assert from "node:assert/strict";
import { test } from "node:test";
import { formatIP, parseIP, parseIPSloppy, unmapped } from "./address.ts";

const canonical: [string, string][] = [
  ["192.168.1.1", "192.168.1.1"],
  ["0.0.0.0", "0.0.0.0"],
  ["::", "::"],
  ["::1", "::1"],
  ["2001:DB8::1", "2001:db8::1"],
  ["fd00:0:0:10:0:0:3:1", "fd00::10:0:0:3:1"], // first of two equal zero runs compressed
  ["2001:db8:480:603d:0304:0403:000:0000", "2001:db8:480:603d:304:403::"],
  ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero group is not compressed
  ["1:0:0:2:0:0:0:3", "1:0:0:2::3"], // the longest run wins
  ["::ffff:1.2.3.4", "1.2.3.4"], // v4-mapped prints dotted, as Go
  ["::1.2.3.4", "::102:304"],
  ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
  ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
  ["3ffe:ffff:0:01ff::1", "3ffe:ffff:0:1ff::1"],
];

test("formatIP() prints Go's canonical text", async (t) => {
  for (const [input, want] of canonical) {
    await t.test(input, () => {
      const parsed = parseIP(input);
      assert.ok(parsed, `parse ${input}`);
      assert.equal(formatIP(parsed), want);
      // Round trip, except v4-mapped text, which Go prints as (and re-parses to) plain IPv4.
      if (!(parsed.family === 6 && want.includes("."))) assert.deepEqual(parseIP(want), parsed);
    });
  }
});

test("parseIP() rejects what Go's strict parser rejects", async (t) => {
  for (const bad of [
    "",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "01.2.3.4",
    "1..2.3",
    "0x1.0.0.1",
    "1.2.3.4/24",
    ":::",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    "12345::",
    "g::1",
    "100::2::1",
    "fe80::1%eth0",
    " 1.2.3.4",
  ]) {
    await t.test(JSON.stringify(bad), () => assert.equal(parseIP(bad), undefined));
  }
});

test("parseIPSloppy() accepts leading zeros as decimal", () => {
  assert.equal(formatIP(parseIPSloppy("00192.00168.01.209")!), "192.168.1.209");
  assert.equal(formatIP(parseIPSloppy("000000192.168.1.25")!), "192.168.1.25");
  assert.equal(parseIPSloppy("0256.1.1.1"), undefined);
  assert.equal(parseIP("00192.00168.1.5"), undefined);
});

test("parseIP() keeps the full 128 bits", () => {
  assert.equal(parseIP("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe")!.value, (1n << 128n) - 2n);
  assert.equal(parseIP("255.255.255.255")!.value, 0xffffffffn);
});

test("unmapped() reads ::ffff:a.b.c.d as the IPv4 address Go's To4() sees, and nothing else", () => {
  assert.deepEqual(unmapped(parseIP("::ffff:10.0.0.9")!), { family: 4, value: 0x0a000009n });
  for (const text of ["10.0.0.9", "::10.0.0.9", "::fffe:a00:9", "1::ffff:a00:9", "64:ff9b::10.0.0.9"]) {
    assert.deepEqual(unmapped(parseIP(text)!), parseIP(text), text);
  }
});
