import assert from "node:assert/strict";
import { test } from "node:test";
import { formatIP, parseCidr, parseIP } from "../ip/index.ts";
import { candidateWindow } from "./window.ts";

const at = (s?: string) => (s === undefined ? undefined : parseIP(s)!.value);

function window(range: string, start?: string, end?: string): string {
  const c = parseCidr(range)!;
  const w = candidateWindow(c, at(start), at(end));
  return `${formatIP({ family: c.family, value: w.first })} - ${formatIP({ family: c.family, value: w.last })}`;
}

test("candidateWindow() follows Go's GetIPRange (A.3 H5, H8–H15)", async (t) => {
  const rows: [string, string | undefined, string | undefined, string][] = [
    ["192.168.0.0/30", undefined, undefined, "192.168.0.1 - 192.168.0.2"],
    ["192.168.0.0/23", undefined, undefined, "192.168.0.1 - 192.168.1.254"],
    ["192.168.21.100/30", undefined, undefined, "192.168.21.101 - 192.168.21.102"],
    ["192.168.2.0/24", "192.168.2.23", undefined, "192.168.2.23 - 192.168.2.254"],
    ["192.168.2.200/27", undefined, undefined, "192.168.2.193 - 192.168.2.222"],
    ["192.168.1.0/24", undefined, "192.168.1.100", "192.168.1.1 - 192.168.1.100"],
    ["192.168.1.0/24", "192.168.1.50", "192.168.1.100", "192.168.1.50 - 192.168.1.100"],
    ["192.168.1.0/24", "192.168.1.50", "192.168.1.50", "192.168.1.50 - 192.168.1.50"],
    ["192.168.1.0/24", "192.168.1.150", "192.168.3.100", "192.168.1.150 - 192.168.1.254"],
    ["192.168.1.0/24", "192.168.0.150", "192.168.3.100", "192.168.1.1 - 192.168.1.254"],
    ["192.168.1.0/24", "192.168.1.100", "192.168.1.50", "192.168.1.100 - 192.168.1.254"],
    ["2001::/116", undefined, undefined, "2001::1 - 2001::ffe"],
    ["fd:db8:abcd:12::/96", undefined, undefined, "fd:db8:abcd:12::1 - fd:db8:abcd:12::ffff:fffe"],
    ["::/126", undefined, undefined, "::1 - ::2"],
    [
      "2001:db8:abcd:12::/64",
      undefined,
      undefined,
      "2001:db8:abcd:12::1 - 2001:db8:abcd:12:ffff:ffff:ffff:fffe",
    ],
    [
      "2001:db8:abcd:12::/64",
      "2001:db8:abcd:12::50",
      "2001:db8:abcd:12::100",
      "2001:db8:abcd:12::50 - 2001:db8:abcd:12::100",
    ],
    [
      "2001:db8:abcd:12::/64",
      "2001:db8:abcd:12::100",
      "2001:db8:abcd:12::50",
      "2001:db8:abcd:12::100 - 2001:db8:abcd:12:ffff:ffff:ffff:fffe",
    ],
    [
      "2001:db8:480:603d::/64",
      "2001:db8:480:603d:0:304:403::",
      "2001:db8:480:603d:0:304:403:4",
      "2001:db8:480:603d:0:304:403:0 - 2001:db8:480:603d:0:304:403:4",
    ],
  ];
  for (const [range, start, end, want] of rows) {
    await t.test(`${range} ${start ?? ""} ${end ?? ""}`, () => assert.equal(window(range, start, end), want));
  }
});

test("candidateWindow() rejects prefixes without usable addresses (A.3 H4, H16)", async (t) => {
  for (const range of ["192.168.0.0/32", "192.168.0.0/31", "2000::/128", "2000::/127"]) {
    await t.test(range, () =>
      assert.throws(
        () => window(range),
        /net mask is too short, subnet .* has no usable IP addresses, it is too small/,
      ),
    );
  }
});
