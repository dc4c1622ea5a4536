import assert from "node:assert/strict";
import { test } from "node:test";
import { selectDatastore } from "./datastore.ts";
import { fields } from "./decode.ts";
import { decodeIpam } from "./ipam-input.ts";
import type { JsonObject } from "./json-parse.ts";
import { assertCniError } from "./test-support.ts";
import { DEFAULT_ETCD_PREFIX, DEFAULT_LOCAL_PATH } from "./types.ts";

const select = (ipam: Record<string, unknown>) =>
  selectDatastore(decodeIpam(fields(ipam as JsonObject, (n) => n)));

test("selectDatastore() prefers an explicit datastore, then a kubeconfig, then the local store", async (t) => {
  const rows: [string, Record<string, unknown>, string][] = [
    ["nothing configured", {}, "local"],
    ["kubeconfig", { kubernetes: { kubeconfig: "/k" } }, "kubernetes"],
    ["empty kubeconfig", { kubernetes: { kubeconfig: "" } }, "local"],
    ["explicit local beats kubeconfig", { datastore: "local", kubernetes: { kubeconfig: "/k" } }, "local"],
    [
      "explicit etcd",
      { datastore: "etcd", etcd_host: "etcd:2379", kubernetes: { kubeconfig: "/k" } },
      "etcd",
    ],
    ["case-insensitive", { datastore: "Kubernetes", kubernetes: { kubeconfig: "/k" } }, "kubernetes"],
    ["etcd_host alone does not pick etcd", { etcd_host: "etcd:2379" }, "local"],
  ];
  for (const [name, ipam, want] of rows) await t.test(name, () => assert.equal(select(ipam).datastore, want));
});

test("selectDatastore() applies defaults for local and etcd", () => {
  const got = select({});
  assert.deepEqual(got.local, { path: DEFAULT_LOCAL_PATH });
  assert.deepEqual(got.kubernetes, { kubeconfig: "" });
  assert.deepEqual(got.etcd, { endpoints: [], prefix: DEFAULT_ETCD_PREFIX });
  assert.deepEqual(select({ local: { path: "/tmp/x.db" } }).local, { path: "/tmp/x.db" });
});

test("selectDatastore() reads etcd_host as one endpoint, a comma list or an array, adding http://", async (t) => {
  const rows: [unknown, string[]][] = [
    ["etcd:2379", ["http://etcd:2379"]],
    ["https://etcd:2379", ["https://etcd:2379"]],
    ["a:2379, b:2379,,https://c:2379", ["http://a:2379", "http://b:2379", "https://c:2379"]],
    [
      ["a:2379", "http://b:2379"],
      ["http://a:2379", "http://b:2379"],
    ],
    ["[fd00::1]:2379", ["http://[fd00::1]:2379"]],
  ];
  for (const [host, want] of rows) {
    await t.test(JSON.stringify(host), () => {
      assert.deepEqual(select({ datastore: "etcd", etcd_host: host }).etcd.endpoints, want);
    });
  }
});

test("selectDatastore() keeps the etcd credentials and prefix", () => {
  const etcd = select({
    datastore: "etcd",
    etcd_host: "etcd:2379",
    etcd_username: "u",
    etcd_password: "p",
    etcd_key_file: "/k",
    etcd_cert_file: "/c",
    etcd_ca_cert_file: "/ca",
    etcd_prefix: "/mine",
  }).etcd;
  assert.deepEqual(etcd, {
    endpoints: ["http://etcd:2379"],
    username: "u",
    password: "p",
    keyFile: "/k",
    certFile: "/c",
    caCertFile: "/ca",
    prefix: "/mine",
  });
});

test("selectDatastore() rejects unusable datastore settings", async (t) => {
  const rows: [string, Record<string, unknown>, string][] = [
    [
      "unknown datastore",
      { datastore: "consul" },
      'invalid datastore "consul": expected one of local, kubernetes, etcd',
    ],
    [
      "kubernetes without kubeconfig",
      { datastore: "kubernetes" },
      "you have not configured the storage engine (looks like you're using an invalid `kubernetes.kubeconfig` parameter in your config)",
    ],
    [
      "etcd without host",
      { datastore: "etcd" },
      "you have not configured the storage engine (looks like you're using an invalid `etcd_host` parameter in your config)",
    ],
    [
      "etcd with blank hosts",
      { datastore: "etcd", etcd_host: " , " },
      "you have not configured the storage engine (looks like you're using an invalid `etcd_host` parameter in your config)",
    ],
    ["bad endpoint", { etcd_host: "etcd:port" }, 'invalid etcd_host "etcd:port": not a URL'],
    ["bad prefix", { etcd_prefix: "x" }, 'invalid etcd_prefix "x": must start with "/"'],
  ];
  for (const [name, ipam, msg] of rows) await t.test(name, () => assertCniError(() => select(ipam), 7, msg));
  assertCniError(
    () => select({ etcd_host: 5 }),
    7,
    "invalid etcd_host: expected a string or an array of strings, got number 5",
  );
});
