import assert from "node:assert/strict";
import { test } from "node:test";
import type { IpamInput, RangeInput } from "./ipam-input.ts";
import { normaliseRanges } from "./range.ts";
import { assertCniError, rangeText } from "./test-support.ts";

const input = (top: RangeInput, ipRanges?: RangeInput[]): IpamInput => ({
  ...top,
  ...(ipRanges === undefined ? {} : { ipRanges }),
  dns: {},
  kubernetes: {},
  local: {},
  etcd: {},
});
const ranges = (top: RangeInput, ipRanges?: RangeInput[]) =>
  normaliseRanges(input(top, ipRanges)).map(rangeText);

test("normaliseRanges() normalises both range forms (A.1 C1, C9–C12)", async (t) => {
  const rows: [string, RangeInput, ReturnType<typeof rangeText>][] = [
    [
      "C1",
      { range: "192.168.1.5-192.168.1.25/24" },
      { range: "192.168.1.0/24", start: "192.168.1.5", end: "192.168.1.25", exclude: [] },
    ],
    [
      "C9",
      { range: "00192.00168.1.5-000000192.168.1.25/24" },
      { range: "192.168.1.0/24", start: "192.168.1.5", end: "192.168.1.25", exclude: [] },
    ],
    [
      "C10",
      { range: "00192.00168.1.0/24" },
      { range: "192.168.1.0/24", start: "192.168.1.0", end: undefined, exclude: [] },
    ],
    [
      "C11",
      { range: "00192.00168.1.0/24", rangeStart: "00192.00168.1.44" },
      { range: "192.168.1.0/24", start: "192.168.1.44", end: undefined, exclude: [] },
    ],
    [
      "C12",
      { range: "00192.00168.1.0/24", rangeStart: "00192.00168.1.44", rangeEnd: "00192.00168.01.209" },
      { range: "192.168.1.0/24", start: "192.168.1.44", end: "192.168.1.209", exclude: [] },
    ],
    [
      "masked",
      { range: "192.168.2.225/28" },
      { range: "192.168.2.224/28", start: "192.168.2.224", end: undefined, exclude: [] },
    ],
    [
      "v6 masked",
      { range: "2001::1/116" },
      { range: "2001::/116", start: "2001::", end: undefined, exclude: [] },
    ],
    [
      "dash overrides bounds",
      { range: "10.0.0.5-10.0.0.9/24", rangeStart: "10.0.0.100", rangeEnd: "10.0.0.200" },
      { range: "10.0.0.0/24", start: "10.0.0.5", end: "10.0.0.9", exclude: [] },
    ],
    [
      "dash end not checked",
      { range: "10.0.0.50-10.0.0.9/24" },
      { range: "10.0.0.0/24", start: "10.0.0.50", end: "10.0.0.9", exclude: [] },
    ],
    [
      "bounds outside kept",
      { range: "10.0.0.0/24", rangeStart: "10.0.1.5" },
      { range: "10.0.0.0/24", start: "10.0.1.5", end: undefined, exclude: [] },
    ],
    [
      "v4-mapped start",
      { range: "10.0.0.0/24", rangeStart: "::ffff:10.0.0.9" },
      { range: "10.0.0.0/24", start: "10.0.0.9", end: undefined, exclude: [] },
    ],
    [
      "v6 dash",
      { range: "fd00::10-fd00::20/64" },
      { range: "fd00::/64", start: "fd00::10", end: "fd00::20", exclude: [] },
    ],
    [
      "/30 is the smallest",
      { range: "10.0.0.0/30" },
      { range: "10.0.0.0/30", start: "10.0.0.0", end: undefined, exclude: [] },
    ],
  ];
  for (const [name, top, want] of rows) {
    await t.test(name, () => assert.deepEqual(ranges(top), [want]));
  }
});

test("normaliseRanges() puts the top-level range first, then ipRanges in order", () => {
  const got = ranges({ range: "10.0.0.0/24", rangeStart: "10.0.0.10", exclude: ["10.0.0.20"] }, [
    { range: "fd00::/64", exclude: ["fd00::/120"] },
    { range: "10.1.0.0/16", rangeStart: "10.1.0.9", rangeEnd: "10.1.0.99" },
  ]);
  assert.deepEqual(got, [
    { range: "10.0.0.0/24", start: "10.0.0.10", end: undefined, exclude: ["10.0.0.20"] },
    { range: "fd00::/64", start: "fd00::", end: undefined, exclude: ["fd00::/120"] },
    { range: "10.1.0.0/16", start: "10.1.0.9", end: "10.1.0.99", exclude: [] },
  ]);
  assert.deepEqual(ranges({}), []);
  assert.deepEqual(ranges({}, [{ range: "10.0.0.0/8" }]).length, 1);
});

test("normaliseRanges() builds the exclude set from CIDRs and bare IPs", () => {
  const [rule] = normaliseRanges(
    input({ range: "10.0.0.0/24", exclude: ["10.0.0.8/30", "10.0.0.1", "10.0.0.9/32", "10.0.0.20"] }),
  );
  assert.deepEqual(
    rule!.exclude.intervals.map(({ lo, hi }) => [Number(lo & 0xffn), Number(hi & 0xffn)]),
    [
      [1, 1],
      [8, 11],
      [20, 20],
    ],
  );
  assert.deepEqual(rule!.excludeText, ["10.0.0.8/30", "10.0.0.1", "10.0.0.9/32", "10.0.0.20"]);
  const [v6] = normaliseRanges(input({ range: "fd00::/64", exclude: ["fd00::1"] }));
  assert.deepEqual(v6!.exclude.intervals, [{ lo: (0xfd00n << 112n) + 1n, hi: (0xfd00n << 112n) + 1n }]);
});

test("normaliseRanges() rejects bad ranges with Go's texts (A.1 C14)", async (t) => {
  const rows: [string, RangeInput | undefined, RangeInput[] | undefined, string][] = [
    [
      "C14",
      { range: "192.168.1.5-192.168.2.25/28" },
      undefined,
      "invalid range start for CIDR 192.168.2.16/28: 192.168.1.5",
    ],
    ["bad start", { range: "192.168.1.x-192.168.1.25/24" }, undefined, "invalid range start IP: 192.168.1.x"],
    [
      "bad end cidr",
      { range: "192.168.1.5-192.168.1.25" },
      undefined,
      "invalid CIDR (do you have the 'range' parameter set for Whereabouts?) '192.168.1.25': invalid CIDR address: 192.168.1.25",
    ],
    [
      "family",
      { range: "fd00::5-10.0.0.9/24" },
      undefined,
      "invalid range start for CIDR 10.0.0.0/24: fd00::5",
    ],
    [
      "bad cidr",
      { range: "10.0.0.0/33" },
      undefined,
      "invalid CIDR 10.0.0.0/33: invalid CIDR address: 10.0.0.0/33",
    ],
    ["bare ip", { range: "10.0.0.1" }, undefined, "invalid CIDR 10.0.0.1: invalid CIDR address: 10.0.0.1"],
    ["empty ipRanges entry", {}, [{}], "invalid CIDR : invalid CIDR address: "],
    [
      "/31",
      { range: "10.0.0.0/31" },
      undefined,
      "net mask is too short, subnet 10.0.0.0/31 has no usable IP addresses, it is too small",
    ],
    [
      "/32",
      { range: "10.0.0.7/32" },
      undefined,
      "net mask is too short, subnet 10.0.0.7/32 has no usable IP addresses, it is too small",
    ],
    [
      "/127",
      {},
      [{ range: "fd00::/127" }],
      "net mask is too short, subnet fd00::/127 has no usable IP addresses, it is too small",
    ],
    [
      "/128",
      {},
      [{ range: "fd00::1/128" }],
      "net mask is too short, subnet fd00::1/128 has no usable IP addresses, it is too small",
    ],
  ];
  for (const [name, top, list, msg] of rows) {
    await t.test(name, () => assertCniError(() => normaliseRanges(input(top ?? {}, list)), 7, msg));
  }
});

test("normaliseRanges() rejects bad bounds and excludes, naming the key and the value", async (t) => {
  const rows: [string, RangeInput, RangeInput[] | undefined, string][] = [
    [
      "start",
      { range: "10.0.0.0/24", rangeStart: "x" },
      undefined,
      'invalid range_start "x": not an IP address',
    ],
    [
      "end",
      { range: "10.0.0.0/24", rangeEnd: "10.0.0.256" },
      undefined,
      'invalid range_end "10.0.0.256": not an IP address',
    ],
    [
      "start without range",
      { rangeStart: "nope" },
      undefined,
      'invalid range_start "nope": not an IP address',
    ],
    [
      "strict in ipRanges",
      {},
      [{ range: "10.0.0.0/24", rangeStart: "010.0.0.5" }],
      'invalid ipRanges[0].range_start "010.0.0.5": invalid IP address: 010.0.0.5',
    ],
    [
      "family of start",
      { range: "10.0.0.0/24", rangeStart: "fd00::1" },
      undefined,
      'invalid range_start "fd00::1": IPv6 address for the IPv4 range 10.0.0.0/24',
    ],
    [
      "family of end",
      {},
      [{ range: "fd00::/64", rangeEnd: "10.0.0.1" }],
      'invalid ipRanges[0].range_end "10.0.0.1": IPv4 address for the IPv6 range fd00::/64',
    ],
    [
      "exclude prefix",
      { range: "10.0.0.0/24", exclude: ["10.0.0.0/33"] },
      undefined,
      'could not parse exclude range, err: "invalid CIDR address: 10.0.0.0/33"',
    ],
    [
      "exclude text",
      { range: "10.0.0.0/24", exclude: ["abc"] },
      undefined,
      'could not parse exclude range, err: "invalid CIDR address: abc"',
    ],
    [
      "exclude leading zero",
      { range: "10.0.0.0/24", exclude: ["010.0.0.1"] },
      undefined,
      'could not parse exclude range, err: "invalid CIDR address: 010.0.0.1"',
    ],
    [
      "exclude family",
      { range: "10.0.0.0/24", exclude: ["fd00::/64"] },
      undefined,
      'invalid exclude "fd00::/64": IPv6 exclude for the IPv4 range 10.0.0.0/24',
    ],
    [
      "ipRanges exclude family",
      {},
      [{ range: "fd00::/64", exclude: ["10.0.0.1"] }],
      'invalid ipRanges[0].exclude "10.0.0.1": IPv4 exclude for the IPv6 range fd00::/64',
    ],
  ];
  for (const [name, top, list, msg] of rows) {
    await t.test(name, () => assertCniError(() => normaliseRanges(input(top, list)), 7, msg));
  }
});
