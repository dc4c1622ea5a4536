import assert from "node:assert/strict";
import { test } from "node:test";
import { formatCidr, formatIP, parseCidr } from "../../ip/index.ts";
import { classifyKey, goRangeKey, parseGoRange } from "./go-etcd-layout.ts";

const cidr = (text: string) => parseCidr(text)!;

test("goRangeKey() is the key v0.5.4 forms: /whereabouts/ + the masked range as Go prints it", () => {
  assert.equal(goRangeKey(cidr("10.10.0.0/16")), "/whereabouts/10.10.0.0/16");
  assert.equal(goRangeKey(cidr("192.168.2.225/28")), "/whereabouts/192.168.2.224/28");
  assert.equal(goRangeKey(cidr("fd00:0:0:10:0:0:3:1/64")), "/whereabouts/fd00:0:0:10::/64");
  assert.equal(goRangeKey(cidr("2001:db8::/116")), "/whereabouts/2001:db8::/116");
});

test("classifyKey() tells range keys, mutex keys and everything else apart", () => {
  const show = (key: string) => {
    const k = classifyKey(key);
    if (k.kind === "range") return `range ${formatCidr(k.range)}`;
    if (k.kind === "lock") return `lock ${formatCidr(k.range)} ${k.lease}`;
    return "other";
  };
  assert.equal(show("/whereabouts/10.10.0.0/16"), "range 10.10.0.0/16");
  assert.equal(show("/whereabouts/fd00:10::/64"), "range fd00:10::/64");
  assert.equal(show("/whereabouts/10.10.0.0/16/694d7a1b2c3d4e5f"), "lock 10.10.0.0/16 694d7a1b2c3d4e5f");
  assert.equal(show("/whereabouts/fd00:10::/64/1"), "lock fd00:10::/64 1");
  // Spellings v0.5.4 never forms (host bits, leading zeros, long IPv6), our own etcd layout under
  // the same prefix, other prefixes, and deeper keys.
  for (const key of [
    "/whereabouts/10.10.0.1/16",
    "/whereabouts/010.10.0.0/16",
    "/whereabouts/fd00:10:0:0::/64",
    "/whereabouts/pools/10.10.0.0-16/meta",
    "/whereabouts/reservations/10.10.0.5",
    "/thereabouts/10.10.0.0/16",
    "/whereabouts/10.10.0.0/16/ABC",
    "/whereabouts/10.10.0.0/16/1/2",
    "/whereabouts/",
  ])
    assert.equal(show(key), "other", key);
});

test("parseGoRange() reads `<ip> <container id>` lines; bad lines are reported, not guessed", () => {
  const range = cidr("10.10.0.0/16");
  const parsed = parseGoRange(
    range,
    [
      "10.10.0.1 c1",
      "10.10.0.2 id with spaces",
      "10.10.0.1 c1",
      "10.10.0.3 c3",
      "10.10.0.3 c4",
      "garbage",
      "10.10.0.x c5",
      "10.11.0.1 c6",
      "10.10.0.9 ",
      "010.10.0.7 c7",
    ].join("\n"),
  );
  assert.deepEqual(
    parsed.entries.map((e) => `${formatIP(e.address)} ${e.containerId}`),
    ["10.10.0.1 c1", "10.10.0.2 id with spaces", "10.10.0.3 c3", "10.10.0.3 c4", "10.10.0.7 c7"],
    "one allocation per address and container; two containers on one address are both kept for the plan",
  );
  assert.deepEqual(parsed.bad, [
    { line: 6, reason: "not `<ip> <container id>`" },
    { line: 7, reason: "not an IP address before the space" },
    { line: 8, reason: "10.11.0.1 is outside 10.10.0.0/16" },
    { line: 9, reason: "no container id" },
  ]);
  assert.deepEqual(parseGoRange(range, ""), { range, entries: [], bad: [] }, "an emptied range");
  const v6 = parseGoRange(cidr("fd00:10::/64"), "fd00:10::1 a\nfd00:10::ffff:ffff:ffff:ffff b");
  assert.deepEqual(
    v6.entries.map((e) => formatIP(e.address)),
    ["fd00:10::1", "fd00:10::ffff:ffff:ffff:ffff"],
  );
});
