import assert from "node:assert/strict";
import { test } from "node:test";
import { formatCidr, formatIP } from "../ip/index.ts";
import { DEFAULT_FLAT_FILE_PATHS } from "./flat-file.ts";
import { loadIpamConfig } from "./load.ts";
import { assertCniError, load, netConf, sources } from "./test-support.ts";

const FLAT = DEFAULT_FLAT_FILE_PATHS[1]!;
const KUBE = { kubernetes: { kubeconfig: "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig" } };
const withRuntime = (runtimeConfig: unknown, ipam: Record<string, unknown> = { range: "10.1.2.0/24" }) =>
  loadIpamConfig(sources(netConf(ipam, { runtimeConfig })));

test("sticky_addresses, reuse_cooldown_seconds and requested_ips_from_pod are read, key case folded", () => {
  const config = load({
    ...KUBE,
    Sticky_Addresses: true,
    reuse_cooldown_seconds: 300,
    REQUESTED_IPS_FROM_POD: true,
  });
  assert.equal(config.stickyAddresses, true);
  assert.equal(config.reuseCooldownSeconds, 300);
  assert.equal(config.requestedIpsFromPod, true);
  // Explicit false and 0 are the defaults, and need no kubeconfig.
  const off = load({ sticky_addresses: false, reuse_cooldown_seconds: 0, requested_ips_from_pod: false });
  assert.deepEqual(
    [off.stickyAddresses, off.reuseCooldownSeconds, off.requestedIpsFromPod],
    [false, 0, false],
  );
  assert.equal(load({ reuse_cooldown_seconds: 86400 }).reuseCooldownSeconds, 86400);
  assert.equal(load({ reuse_cooldown_seconds: 1e3 }).reuseCooldownSeconds, 1000);
});

test("reuse_cooldown_seconds is refused unless a whole number from 0 to 86400 (code 7, naming the key)", async (t) => {
  for (const bad of [-1, 1.5, 86401, 1e20, 0.1]) {
    await t.test(String(bad), () =>
      assertCniError(
        () => load({ reuse_cooldown_seconds: bad }),
        7,
        `invalid reuse_cooldown_seconds ${bad}: expected a whole number of seconds from 0 (reuse at once, the default) to 86400`,
      ),
    );
  }
  for (const [bad, got] of [
    ["30", 'string "30"'],
    [true, "boolean true"],
    [[30], "an array [30]"],
  ] as const) {
    await t.test(JSON.stringify(bad), () =>
      assertCniError(
        () => load({ reuse_cooldown_seconds: bad }),
        7,
        `invalid ipam.reuse_cooldown_seconds: expected a number, got ${got}`,
      ),
    );
  }
});

test("sticky_addresses and requested_ips_from_pod must be booleans (code 7, naming the key)", async (t) => {
  for (const key of ["sticky_addresses", "requested_ips_from_pod"]) {
    for (const [bad, got] of [
      ["true", 'string "true"'],
      [1, "number 1"],
      [{}, "an object {}"],
    ] as const) {
      await t.test(`${key} ${JSON.stringify(bad)}`, () =>
        assertCniError(
          () => load({ ...KUBE, [key]: bad }),
          7,
          `invalid ipam.${key}: expected a boolean, got ${got}`,
        ),
      );
    }
  }
});

test("the pod-reading keys need kubernetes.kubeconfig, also when the flat file turns them on", async (t) => {
  await t.test("sticky_addresses", () =>
    assertCniError(
      () => load({ sticky_addresses: true, datastore: "local" }),
      7,
      "sticky_addresses needs to read the pod (its StatefulSet or VM) from Kubernetes: set kubernetes.kubeconfig, or remove sticky_addresses",
    ),
  );
  await t.test("requested_ips_from_pod", () =>
    assertCniError(
      () => load({ requested_ips_from_pod: true }),
      7,
      "requested_ips_from_pod needs to read the pod (its thereabouts.io/ips annotation) from Kubernetes: set kubernetes.kubeconfig, or remove requested_ips_from_pod",
    ),
  );
  await t.test("from the flat file", () =>
    assertCniError(
      () => load({}, { files: { [FLAT]: JSON.stringify({ sticky_addresses: true }) } }),
      7,
      /^sticky_addresses needs to read the pod/,
    ),
  );
  await t.test("a kubeconfig from the flat file will do, with a local datastore too", () => {
    const flat = { [FLAT]: JSON.stringify({ ...KUBE, reuse_cooldown_seconds: 60 }) };
    const config = load({ sticky_addresses: true, datastore: "local" }, { files: flat });
    assert.equal(config.stickyAddresses, true);
    assert.equal(config.datastore, "local");
    assert.equal(config.reuseCooldownSeconds, 60);
  });
});

test("runtimeConfig ips become the requested addresses: CIDR or bare, the prefix dropped", () => {
  const config = withRuntime(
    { ips: ["10.1.2.3/24", "fd00::3/64", "10.1.2.9", "::ffff:10.1.2.4"], portMappings: [] },
    { range: "10.1.2.0/24", ipRanges: [{ range: "fd00::/64" }] },
  );
  assert.deepEqual(config.requested.map(formatIP), ["10.1.2.3", "fd00::3", "10.1.2.9", "10.1.2.4"]);
  assert.deepEqual(
    config.requested.map((a) => a.family),
    [4, 6, 4, 4],
  );
  assert.deepEqual(withRuntime({ IPS: ["10.1.2.3"] }).requested.map(formatIP), ["10.1.2.3"]);
  assert.deepEqual(withRuntime({ ips: [] }).requested, []);
  assert.deepEqual(withRuntime({ mac: "c2:11:22:33:44:55" }).requested, []);
  assert.deepEqual(withRuntime(null).requested, []);
  // Whether an address fits a range is ADD's to judge: a DEL never fails for it.
  assert.deepEqual(withRuntime({ ips: ["192.168.0.1"] }).requested.map(formatIP), ["192.168.0.1"]);
  assert.ok(Object.isFrozen(config.requested[0]));
});

test("runtimeConfig ips that are not addresses are refused with code 7, naming the element", async (t) => {
  for (const [ips, msg] of [
    [
      ["10.1.2"],
      'invalid runtimeConfig.ips[0] "10.1.2": expected an IP address, bare or with its prefix length (e.g. "10.1.2.3" or "10.1.2.3/24")',
    ],
    [
      ["10.1.2.3", "10.1.2.4/33"],
      /^invalid runtimeConfig\.ips\[1\] "10\.1\.2\.4\/33": expected an IP address/,
    ],
    [["10.1.2.0/24/1"], /^invalid runtimeConfig\.ips\[0\] "10\.1\.2\.0\/24\/1"/],
    [[""], /^invalid runtimeConfig\.ips\[0\] "": expected an IP address/],
    [[" 10.1.2.3"], /^invalid runtimeConfig\.ips\[0\] " 10\.1\.2\.3"/],
    [[5], "invalid runtimeConfig.ips[0]: expected a string, got number 5"],
    ["10.1.2.3", 'invalid runtimeConfig.ips: expected an array of strings, got string "10.1.2.3"'],
  ] as const) {
    await t.test(JSON.stringify(ips), () => assertCniError(() => withRuntime({ ips }), 7, msg));
  }
  await t.test("runtimeConfig not an object", () =>
    assertCniError(
      () => withRuntime(["10.1.2.3"]),
      7,
      /^invalid runtimeConfig: expected an object, got an array/,
    ),
  );
});

test("CNI_ARGS IP= stays an extra static address, except one runtimeConfig ips also requests (Multus sends both)", () => {
  const ipam = { range: "10.1.2.0/24", ipRanges: [{ range: "fd00::/64" }] };
  const statics = (runtimeConfig: unknown, cniArgs: string) =>
    loadIpamConfig(sources(netConf(ipam, { runtimeConfig }), { cniArgs })).addresses.map((a) =>
      formatCidr(a.address),
    );
  const multus = "IgnoreUnknown=true;K8S_POD_NAMESPACE=db;K8S_POD_NAME=web-0;IP=10.1.2.3/24,fd00::3/64";
  assert.deepEqual(statics({ ips: ["10.1.2.3/24", "fd00::3/64"] }, multus), []);
  // Matched by address, whatever prefix either side wrote.
  assert.deepEqual(statics({ ips: ["10.1.2.3", "fd00::3/128"] }, multus), []);
  // Without the capability (no runtimeConfig ips), IP= keeps Whereabouts' meaning.
  assert.deepEqual(statics(undefined, multus), ["10.1.2.3/24", "fd00::3/64"]);
  assert.deepEqual(statics({ ips: ["10.1.2.3/24"] }, `${multus},192.168.9.9/24`), [
    "fd00::3/64",
    "192.168.9.9/24",
  ]);
});
