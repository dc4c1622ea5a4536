import assert from "node:assert/strict";
import { test } from "node:test";
import { readResult } from "./cni-result.ts";
import { formatNetworkStatus, statusEntries } from "./network-status.ts";

test("one interface: one entry with every IP (bare), mac, mtu, gateway from default routes; default only for the master", () => {
  const r = readResult({
    cniVersion: "1.0.0",
    interfaces: [{ name: "eth0", mac: "0a:58:0a:f4:01:49", mtu: 1450, sandbox: "/var/run/netns/p" }],
    ips: [{ interface: 0, address: "10.244.1.73/24", gateway: "10.244.1.1" }],
    routes: [
      { dst: "0.0.0.0/0", gw: "10.244.1.1" },
      { dst: "10.0.0.0/8", gw: "10.244.1.254" },
    ],
  });
  assert.deepEqual(statusEntries("cbr0", r, true), [
    {
      name: "cbr0",
      interface: "eth0",
      ips: ["10.244.1.73"],
      mac: "0a:58:0a:f4:01:49",
      mtu: 1450,
      default: true,
      dns: {},
      gateway: ["10.244.1.1"],
    },
  ]);
  assert.equal(statusEntries("cbr0", r, false)[0]!.default, undefined);
});

test("several interfaces (bridge): one entry per sandbox interface, IPs by index", () => {
  const r = readResult({
    cniVersion: "1.0.0",
    interfaces: [
      { name: "br0", mac: "aa:aa:aa:aa:aa:aa" },
      { name: "veth1" },
      { name: "net1", mac: "86:1d:96:ff:55:0d", sandbox: "/var/run/netns/p" },
    ],
    ips: [{ interface: 2, address: "192.168.1.205/24" }],
  });
  assert.deepEqual(statusEntries("default/bridge-conf", r, false), [
    {
      name: "default/bridge-conf",
      interface: "net1",
      ips: ["192.168.1.205"],
      mac: "86:1d:96:ff:55:0d",
      dns: {},
    },
  ]);
  assert.deepEqual(
    statusEntries(
      "x",
      readResult({ cniVersion: "1.0.0", interfaces: [{ name: "a" }, { name: "b" }] }),
      false,
    ),
    [],
  );
});

test("the annotation text: each element 4-space indented, joined by , inside [ ]", () => {
  const text = formatNetworkStatus([
    {
      name: "cbr0",
      interface: "eth0",
      ips: ["10.244.1.73"],
      mac: "0a:58:0a:f4:01:49",
      default: true,
      dns: {},
      gateway: ["10.244.1.1"],
    },
    {
      name: "default/macvlan-conf",
      interface: "net1",
      ips: ["192.168.1.205"],
      mac: "86:1d:96:ff:55:0d",
      dns: {},
    },
  ]);
  assert.equal(
    text,
    `[{
    "name": "cbr0",
    "interface": "eth0",
    "ips": [
        "10.244.1.73"
    ],
    "mac": "0a:58:0a:f4:01:49",
    "default": true,
    "dns": {},
    "gateway": [
        "10.244.1.1"
    ]
},{
    "name": "default/macvlan-conf",
    "interface": "net1",
    "ips": [
        "192.168.1.205"
    ],
    "mac": "86:1d:96:ff:55:0d",
    "dns": {}
}]`,
  );
});
