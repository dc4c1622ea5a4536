import assert from "node:assert/strict";
import { test } from "node:test";
import { formatIP, parseIP } from "../ip/index.ts";
import { decodeOffsetKey, encodeOffsetKey } from "./offset-key.ts";

const decode = (base: string, key: string) => {
  const ip = decodeOffsetKey(parseIP(base)!, key);
  return ip === undefined ? undefined : formatIP(ip);
};

test("encodeOffsetKey() writes the decimal offset from the base (A.3 H17–H20)", () => {
  const enc = (base: string, ip: string) => encodeOffsetKey(parseIP(base)!, parseIP(ip)!);
  assert.equal(enc("192.168.1.0", "192.168.1.1"), "1");
  assert.equal(enc("192.168.3.0", "192.168.4.0"), "256");
  assert.equal(enc("ff02::1", "ff02::ff"), "254");
  assert.equal(enc("ff02::1", "ff02::1:0"), "65535");
  assert.equal(enc("10.11.88.96", "10.11.88.98"), "2");
  // Beyond 2^63 (Go cannot write these): plain decimal.
  assert.equal(enc("2001:db8::", "2001:db8::ffff:ffff:ffff:fff0"), "18446744073709551600");
  assert.throws(() => enc("192.168.1.0", "ff02::1"));
});

test("decodeOffsetKey() reads legacy and new key forms", async (t) => {
  const rows: [string, string, string | undefined][] = [
    ["10.11.88.96", "2", "10.11.88.98"],
    ["192.168.1.0", "+5", "192.168.1.5"],
    ["192.168.1.0", "007", "192.168.1.7"],
    ["192.168.1.1", "256", "192.168.2.1"],
    ["2000::1", "65535", "2000::1:0"],
    // Negative int64 keys written by pre-0.5 versions decode through two's complement (IPv6 /64).
    ["2001:db8::", "-9223372036854775808", "2001:db8:0:0:8000::"],
    ["2001:db8::", "-1", "2001:db8::ffff:ffff:ffff:ffff"],
    ["2001:db8::", "18446744073709551600", "2001:db8::ffff:ffff:ffff:fff0"],
    ["192.168.1.0", "4294967295", undefined],
    ["192.168.1.0", "abc", undefined],
    ["192.168.1.0", "1.5", undefined],
    ["192.168.1.0", "", undefined],
  ];
  for (const [base, key, want] of rows) {
    await t.test(`${base} ${key}`, () => assert.equal(decode(base, key), want));
  }
});
