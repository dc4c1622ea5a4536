import assert from "node:assert/strict";
import { test } from "node:test";
import { CniError } from "../errors/errors.ts";
import { type Cidr, type IP, parseCidr, parseIP } from "../ip/index.ts";
import { formatError, formatResult, formatVersion, goJson, type IpamResult } from "./result.ts";
import { SUPPORTED_VERSIONS } from "./version.ts";

/** Typed values from text, as the config loader and the allocator hand them over. */
function cidr(text: string): Cidr {
  const value = parseCidr(text);
  assert.ok(value !== undefined, text);
  return value;
}
function ip(text: string): IP {
  const value = parseIP(text);
  assert.ok(value !== undefined, text);
  return value;
}

// Whereabouts' end-to-end test E11: a range address, two static addresses (one IPv6, written
// non-canonically), three routes of both families, and DNS.
const E11: IpamResult = {
  ips: [
    { address: cidr("192.168.1.33/28"), gateway: ip("192.168.1.1") },
    { address: cidr("10.10.0.1/24"), gateway: ip("10.10.0.254") },
    { address: cidr("3ffe:ffff:0:01ff::1/64"), gateway: ip("3ffe:ffff:0::1") },
  ],
  routes: [
    { dst: cidr("0.0.0.0/0") },
    { dst: cidr("::/0") },
    { dst: cidr("192.168.0.0/16"), gw: ip("10.10.5.1") },
  ],
  dns: { nameservers: ["8.8.8.8"], domain: "example.com", search: ["example.com"] },
};

const E11_ROUTES = `    "routes": [
        {
            "dst": "0.0.0.0/0"
        },
        {
            "dst": "::/0"
        },
        {
            "dst": "192.168.0.0/16",
            "gw": "10.10.5.1"
        }
    ],`;

const E11_DNS = `    "dns": {
        "nameservers": [
            "8.8.8.8"
        ],
        "domain": "example.com",
        "search": [
            "example.com"
        ]
    }`;

const e11Modern = (v: string) => `{
    "cniVersion": "${v}",
    "ips": [
        {
            "address": "192.168.1.33/28",
            "gateway": "192.168.1.1"
        },
        {
            "address": "10.10.0.1/24",
            "gateway": "10.10.0.254"
        },
        {
            "address": "3ffe:ffff:0:1ff::1/64",
            "gateway": "3ffe:ffff::1"
        }
    ],
${E11_ROUTES}
${E11_DNS}
}`;

const e11Versioned = (v: string) => `{
    "cniVersion": "${v}",
    "ips": [
        {
            "version": "4",
            "address": "192.168.1.33/28",
            "gateway": "192.168.1.1"
        },
        {
            "version": "4",
            "address": "10.10.0.1/24",
            "gateway": "10.10.0.254"
        },
        {
            "version": "6",
            "address": "3ffe:ffff:0:1ff::1/64",
            "gateway": "3ffe:ffff::1"
        }
    ],
${E11_ROUTES}
${E11_DNS}
}`;

const e11Legacy = (v: string) => `{
    "cniVersion": "${v}",
    "ip4": {
        "ip": "192.168.1.33/28",
        "gateway": "192.168.1.1",
        "routes": [
            {
                "dst": "0.0.0.0/0"
            },
            {
                "dst": "192.168.0.0/16",
                "gw": "10.10.5.1"
            }
        ]
    },
    "ip6": {
        "ip": "3ffe:ffff:0:1ff::1/64",
        "gateway": "3ffe:ffff::1",
        "routes": [
            {
                "dst": "::/0"
            }
        ]
    },
${E11_DNS}
}`;

test("formatResult() prints E11 byte for byte in every supported version", () => {
  const expected: Record<string, string> = {
    "0.1.0": e11Legacy("0.1.0"),
    "0.2.0": e11Legacy("0.2.0"),
    "0.3.0": e11Versioned("0.3.0"),
    "0.3.1": e11Versioned("0.3.1"),
    "0.4.0": e11Versioned("0.4.0"),
    "1.0.0": e11Modern("1.0.0"),
    "1.1.0": e11Modern("1.1.0"),
  };
  for (const v of SUPPORTED_VERSIONS) assert.equal(formatResult(E11, v), expected[v], v);
});

test("formatResult() reads an empty version as 0.1.0", () => {
  assert.equal(formatResult(E11, ""), e11Legacy("0.1.0"));
});

const V4_ONLY: IpamResult = { ips: [{ address: cidr("10.0.0.5/24") }], routes: [], dns: {} };
const V6_ONLY: IpamResult = {
  ips: [{ address: cidr("fd00::10:0:0:3:1/64"), gateway: ip("fd00::1") }],
  routes: [],
  dns: {},
};

test("formatResult() prints a single IPv4 address without gateway, routes or DNS", () => {
  assert.equal(
    formatResult(V4_ONLY, "1.0.0"),
    '{\n    "cniVersion": "1.0.0",\n    "ips": [\n        {\n            "address": "10.0.0.5/24"\n        }\n    ],\n    "dns": {}\n}',
  );
  assert.equal(
    formatResult(V4_ONLY, "0.3.1"),
    `{
    "cniVersion": "0.3.1",
    "ips": [
        {
            "version": "4",
            "address": "10.0.0.5/24"
        }
    ],
    "dns": {}
}`,
  );
  assert.equal(
    formatResult(V4_ONLY, "0.2.0"),
    `{
    "cniVersion": "0.2.0",
    "ip4": {
        "ip": "10.0.0.5/24"
    },
    "dns": {}
}`,
  );
});

test("formatResult() prints a single IPv6 address in every version", () => {
  assert.equal(
    formatResult(V6_ONLY, "1.1.0"),
    `{
    "cniVersion": "1.1.0",
    "ips": [
        {
            "address": "fd00::10:0:0:3:1/64",
            "gateway": "fd00::1"
        }
    ],
    "dns": {}
}`,
  );
  assert.match(formatResult(V6_ONLY, "0.4.0"), /"version": "6",\n {12}"address": "fd00::10:0:0:3:1\/64"/);
  assert.equal(
    formatResult(V6_ONLY, "0.1.0"),
    `{
    "cniVersion": "0.1.0",
    "ip6": {
        "ip": "fd00::10:0:0:3:1/64",
        "gateway": "fd00::1"
    },
    "dns": {}
}`,
  );
});

test("formatResult() keeps only the first address of each family for 0.2.0", () => {
  const dual: IpamResult = {
    ips: [
      { address: cidr("abcd::1/64") },
      { address: cidr("192.168.10.1/24") },
      { address: cidr("192.168.20.1/24") },
    ],
    routes: [],
    dns: {},
  };
  const out = JSON.parse(formatResult(dual, "0.2.0"));
  assert.deepEqual(out, {
    cniVersion: "0.2.0",
    ip4: { ip: "192.168.10.1/24" },
    ip6: { ip: "abcd::1/64" },
    dns: {},
  });
  // Newer versions keep every address in order.
  const modern = JSON.parse(formatResult(dual, "1.0.0"));
  assert.deepEqual(
    modern.ips.map((ip: { address: string }) => ip.address),
    ["abcd::1/64", "192.168.10.1/24", "192.168.20.1/24"],
  );
});

test("formatResult() drops 0.2.0 routes of a family that has no address", () => {
  const result: IpamResult = {
    ...V4_ONLY,
    routes: [{ dst: cidr("::/0"), gw: ip("fd00::1") }, { dst: cidr("10.1.0.0/16") }],
  };
  assert.deepEqual(JSON.parse(formatResult(result, "0.2.0")).ip4, {
    ip: "10.0.0.5/24",
    routes: [{ dst: "10.1.0.0/16" }],
  });
});

test("formatResult() prints route fields in Go's order and omits Go's zero values", () => {
  // Unknown route keys never get this far: the config loader drops them, as Go's decoder does.
  const result: IpamResult = {
    ...V4_ONLY,
    routes: [
      {
        priority: 0,
        table: 0,
        mtu: 1400,
        dst: cidr("10.1.0.0/16"),
        gw: ip("10.0.0.1"),
        advmss: 0,
        scope: 253,
      },
    ],
  };
  assert.equal(
    formatResult(result, "1.1.0").split('"routes": ')[1]!.split("],")[0],
    `[
        {
            "dst": "10.1.0.0/16",
            "gw": "10.0.0.1",
            "mtu": 1400,
            "table": 0,
            "scope": 253
        }
    `,
  );
  assert.deepEqual(JSON.parse(formatResult(result, "0.2.0")).ip4.routes, [
    { dst: "10.1.0.0/16", gw: "10.0.0.1" },
  ]);
});

test("formatResult() writes IP text in Go's canonical form", () => {
  const result: IpamResult = {
    ips: [{ address: cidr("2001:DB8:0:0:1::1/64"), gateway: ip("2001:db8::0:1") }],
    routes: [{ dst: cidr("2001:db8:0:0::/48"), gw: ip("2001:0db8::0001") }],
    dns: {},
  };
  const out = JSON.parse(formatResult(result, "1.0.0"));
  assert.deepEqual(out.ips, [{ address: "2001:db8::1:0:0:1/64", gateway: "2001:db8::1" }]);
  assert.deepEqual(out.routes, [{ dst: "2001:db8::/48", gw: "2001:db8::1" }]);
});

test("formatResult() counts an IPv4-mapped IPv6 address as IPv4, as Go's To4() does", () => {
  const mapped: IpamResult = { ips: [{ address: cidr("::ffff:10.0.0.5/120") }], routes: [], dns: {} };
  assert.deepEqual(JSON.parse(formatResult(mapped, "0.3.1")).ips, [
    { version: "4", address: "10.0.0.5/120" },
  ]);
  assert.deepEqual(JSON.parse(formatResult(mapped, "0.2.0")).ip4, { ip: "10.0.0.5/120" });
});

test("formatResult() writes Go's DNS keys in Go's order and drops empty ones", () => {
  // Other DNS keys never get this far: the config loader drops them, as Go's decoder does.
  const result: IpamResult = {
    ...V4_ONLY,
    dns: { options: ["ndots:2"], search: [], domain: "", nameservers: ["10.0.0.53"] },
  };
  assert.ok(
    formatResult(result, "1.0.0").endsWith(`"dns": {
        "nameservers": [
            "10.0.0.53"
        ],
        "options": [
            "ndots:2"
        ]
    }
}`),
  );
});

test("formatResult() omits empty ips and routes but keeps dns", () => {
  const empty: IpamResult = { ips: [], routes: [], dns: {} };
  assert.equal(formatResult(empty, "1.0.0"), '{\n    "cniVersion": "1.0.0",\n    "dns": {}\n}');
  assert.equal(formatResult(empty, "0.4.0"), '{\n    "cniVersion": "0.4.0",\n    "dns": {}\n}');
});

test("formatResult() cannot express 'no address' before 0.3.0 (code 7)", () => {
  for (const v of ["0.1.0", "0.2.0"]) {
    assert.throws(() => formatResult({ ips: [], routes: [{ dst: cidr("0.0.0.0/0") }], dns: {} }, v), {
      code: 7,
      message: "cannot convert: no valid IP addresses",
    });
  }
});

test("formatResult() rejects an unsupported version (code 1)", () => {
  // Routes are validated when the config is loaded (before anything is committed), not here.
  assert.throws(() => formatResult(V4_ONLY, "0.5.0"), { code: 1, message: "incompatible CNI versions" });
});

test("formatError() prints code, msg and details only when present", () => {
  assert.equal(
    formatError(new CniError(4, "required env variables [CNI_PATH] missing")),
    '{\n    "code": 4,\n    "msg": "required env variables [CNI_PATH] missing"\n}',
  );
  assert.equal(
    formatError(new CniError(1, "incompatible CNI versions", 'config is "9.9.9", plugin supports []')),
    '{\n    "code": 1,\n    "msg": "incompatible CNI versions",\n    "details": "config is \\"9.9.9\\", plugin supports []"\n}',
  );
  assert.equal(formatError(new CniError(7, "bad", "")), '{\n    "code": 7,\n    "msg": "bad"\n}');
});

test("goJson() escapes <, >, & and line separators as Go does", () => {
  assert.equal(goJson({ m: "a<b>&c\u2028" }), '{"m":"a\\u003cb\\u003e\\u0026c\\u2028"}');
  assert.equal(
    formatError(new CniError(6, "invalid character '<'")),
    '{\n    "code": 6,\n    "msg": "invalid character \'\\u003c\'"\n}',
  );
});

test("formatVersion() prints the VERSION answer as compact JSON and a newline", () => {
  assert.equal(
    formatVersion(),
    '{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n',
  );
});
