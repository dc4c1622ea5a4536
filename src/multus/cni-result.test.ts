import assert from "node:assert/strict";
import { test } from "node:test";
import type { JsonObject } from "../config/json-parse.ts";
import { convertResult, formatCurrentResult, placeholderResult, readResult } from "./cni-result.ts";

const v1: JsonObject = {
  cniVersion: "1.0.0",
  interfaces: [{ name: "net1", mac: "c2:b0:57:49:47:f1", sandbox: "/var/run/netns/p" }],
  ips: [
    { interface: 0, address: "10.1.1.5/24", gateway: "10.1.1.1" },
    { interface: 0, address: "fd00::5/64" },
  ],
  routes: [{ dst: "0.0.0.0/0", gw: "10.1.1.1" }, { dst: "fd01::/64" }],
  dns: { nameservers: ["10.1.1.1"], search: [] },
};

test("a 1.0.0 result converts to 0.4.0/0.3.1 (ips with version) and back", () => {
  const r = readResult(v1);
  const old = convertResult(r, "0.4.0");
  assert.deepEqual(old["ips"], [
    { version: "4", interface: 0, address: "10.1.1.5/24", gateway: "10.1.1.1" },
    { version: "6", interface: 0, address: "fd00::5/64" },
  ]);
  assert.deepEqual(convertResult(readResult(old), "1.1.0"), {
    ...v1,
    cniVersion: "1.1.0",
    dns: { nameservers: ["10.1.1.1"] },
  });
});

test("to 0.2.0: ip4/ip6 hold the first address of each family and that family's routes", () => {
  assert.deepEqual(convertResult(readResult(v1), "0.2.0"), {
    cniVersion: "0.2.0",
    ip4: { ip: "10.1.1.5/24", gateway: "10.1.1.1", routes: [{ dst: "0.0.0.0/0", gw: "10.1.1.1" }] },
    ip6: { ip: "fd00::5/64", routes: [{ dst: "fd01::/64" }] },
    dns: { nameservers: ["10.1.1.1"] },
  });
});

test("from 0.2.0: ip4/ip6 become ips and routes, without interfaces", () => {
  const r = readResult({
    cniVersion: "0.2.0",
    ip4: { ip: "10.0.0.2/24", gateway: "10.0.0.1", routes: [{ dst: "0.0.0.0/0" }] },
  });
  assert.deepEqual(r, {
    interfaces: [],
    ips: [{ address: "10.0.0.2/24", gateway: "10.0.0.1" }],
    routes: [{ dst: "0.0.0.0/0" }],
    dns: {},
  });
});

test("printed as the CNI library prints: 4-space indent, Go's key order", () => {
  assert.equal(
    formatCurrentResult(readResult({ cniVersion: "1.0.0", ips: [{ address: "10.0.0.2/24" }] }), "1.0.0"),
    '{\n    "cniVersion": "1.0.0",\n    "ips": [\n        {\n            "address": "10.0.0.2/24"\n        }\n    ],\n    "dns": {}\n}',
  );
});

test("a result without addresses cannot be given as 0.1.0/0.2.0; an unknown version is refused", () => {
  assert.throws(() => convertResult(readResult({ cniVersion: "1.0.0" }), "0.2.0"), {
    code: 7,
    message: "cannot convert: no valid IP addresses",
  });
  assert.throws(() => convertResult(readResult(v1), "9.9.9"), { code: 1 });
});

test("the placeholder for a gone pod is a proper result of the requested version", () => {
  assert.deepEqual(convertResult(placeholderResult("eth0", "/var/run/netns/p"), "0.3.1"), {
    cniVersion: "0.3.1",
    interfaces: [{ name: "eth0", sandbox: "/var/run/netns/p" }],
    ips: [{ version: "4", interface: 0, address: "0.0.0.0/0", gateway: "0.0.0.0" }],
    dns: {},
  });
});
