import assert from "node:assert/strict";
import { test } from "node:test";
import { fields } from "./decode.ts";
import { decodeIpam, type IpamInput } from "./ipam-input.ts";
import type { JsonObject } from "./json-parse.ts";
import { mergeIpam } from "./merge.ts";

const decode = (obj: Record<string, unknown>): IpamInput => decodeIpam(fields(obj as JsonObject, (n) => n));

test("mergeIpam() keeps every non-empty stdin field and fills empty ones from the flat file", () => {
  const stdin = decode({
    range: "10.0.0.0/24",
    gateway: "",
    network_name: "net-a",
    exclude: [],
    log_level: "error",
  });
  const flat = decode({
    range: "10.9.0.0/16",
    gateway: "10.0.0.1",
    network_name: "net-b",
    exclude: ["10.0.0.5"],
    log_level: "debug",
    log_file: "/var/log/t.log",
    ipRanges: [{ range: "fd00::/64" }],
    node_slice_size: "/28",
  });
  const merged = mergeIpam(stdin, flat);
  assert.equal(merged.range, "10.0.0.0/24");
  assert.equal(merged.gateway, "10.0.0.1");
  assert.equal(merged.networkName, "net-a");
  assert.deepEqual(merged.exclude, ["10.0.0.5"]);
  assert.equal(merged.logLevel, "error");
  assert.equal(merged.logFile, "/var/log/t.log");
  assert.deepEqual(merged.ipRanges, [
    { range: "fd00::/64", rangeStart: undefined, rangeEnd: undefined, exclude: undefined },
  ]);
  assert.equal(merged.nodeSliceSize, "/28");
});

test("mergeIpam() takes lists whole: a non-empty stdin list is never extended", () => {
  const merged = mergeIpam(
    decode({ ipRanges: [{ range: "10.0.0.0/24" }], routes: [{ dst: "0.0.0.0/0" }] }),
    decode({
      ipRanges: [{ range: "fd00::/64" }],
      routes: [{ dst: "::/0" }],
      addresses: [{ address: "10.1.0.1/24" }],
    }),
  );
  assert.deepEqual(
    merged.ipRanges?.map((r) => r.range),
    ["10.0.0.0/24"],
  );
  assert.deepEqual(
    merged.routes?.map((r) => r.dst),
    ["0.0.0.0/0"],
  );
  assert.deepEqual(
    merged.addresses?.map((a) => a.address),
    ["10.1.0.1/24"],
  );
});

test("mergeIpam() merges nested objects field by field (kubernetes, local, dns, etcd keys)", () => {
  const merged = mergeIpam(
    decode({ kubernetes: { k8s_api_root: "x" }, dns: { domain: "a.example" }, etcd_username: "me" }),
    decode({
      kubernetes: { kubeconfig: "/etc/kube.conf" },
      local: { path: "/var/lib/t.db" },
      dns: { domain: "b.example", nameservers: ["10.0.0.53"] },
      etcd_host: "etcd:2379",
      etcd_username: "flat",
    }),
  );
  assert.deepEqual(merged.kubernetes, { kubeconfig: "/etc/kube.conf" });
  assert.deepEqual(merged.local, { path: "/var/lib/t.db" });
  assert.equal(merged.dns.domain, "a.example");
  assert.deepEqual(merged.dns.nameservers, ["10.0.0.53"]);
  assert.equal(merged.etcd.host, "etcd:2379");
  assert.equal(merged.etcd.username, "me");
});

test("mergeIpam() never takes enable_overlapping_ranges from the flat file (A.1 C4, C5)", async (t) => {
  const rows: [boolean | undefined, boolean | undefined, boolean | undefined][] = [
    [true, false, true],
    [false, true, false],
    [undefined, false, undefined],
  ];
  for (const [stdin, flat, want] of rows) {
    await t.test(`stdin ${stdin} flat ${flat}`, () => {
      const merged = mergeIpam(
        decode(stdin === undefined ? {} : { enable_overlapping_ranges: stdin }),
        decode({ enable_overlapping_ranges: flat }),
      );
      assert.equal(merged.enableOverlappingRanges, want);
    });
  }
});

test("mergeIpam() without a flat file returns stdin unchanged", () => {
  const stdin = decode({ range: "10.0.0.0/24" });
  assert.equal(mergeIpam(stdin, undefined), stdin);
});
