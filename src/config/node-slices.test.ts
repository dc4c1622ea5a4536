import assert from "node:assert/strict";
import { test } from "node:test";
import { loadIpamConfig, loadIpamConfigFromNetwork } from "./load.ts";
import { assertCniError, load, netConf, sources } from "./test-support.ts";

const KUBE = { kubernetes: { kubeconfig: "/k" } };

test("node_slice_size: IPv6 slices are accepted (Go panics on them)", () => {
  const config = load({ ...KUBE, range: "fd00:10::/48", node_slice_size: "/56" });
  assert.deepEqual(config.nodeSlices, { prefix: 56, text: "/56" });
});

test("node_slice_size: range bounds, exclude and gateway stay in the configuration", () => {
  const config = load({
    ...KUBE,
    range: "10.0.0.0/24",
    range_start: "10.0.0.10",
    exclude: ["10.0.0.64/30"],
    gateway: "10.0.0.1",
    node_slice_size: "26",
  });
  assert.equal(config.nodeSlices?.prefix, 26);
  assert.equal(config.ranges[0]?.start, 0x0a00000an);
  assert.deepEqual(config.ranges[0]?.excludeText, ["10.0.0.64/30"]);
  assert.equal(config.gateway?.value, 0x0a000001n);
});

test("node_slice_size: whatever could not slice is refused with code 7", async (t) => {
  const rows: [string, Record<string, unknown>, RegExp][] = [
    [
      "malformed",
      { range: "10.0.0.0/8", node_slice_size: "/x" },
      /^invalid node_slice_size "\/x": expected a prefix length such as "\/26" or "26"$/,
    ],
    ["zero", { range: "10.0.0.0/8", node_slice_size: "0" }, /a slice of \/0 does not exist in IPv4/],
    [
      "IPv4 beyond 32",
      { range: "10.0.0.0/8", node_slice_size: "/33" },
      /^invalid node_slice_size "\/33": a slice of \/33 does not exist in IPv4/,
    ],
    [
      "IPv6 beyond 128",
      { range: "fd00::/64", node_slice_size: "/129" },
      /a slice of \/129 does not exist in IPv6/,
    ],
    ["two slashes", { range: "10.0.0.0/8", node_slice_size: "//26" }, /expected a prefix length/],
    [
      "a slice larger than the range",
      { range: "10.0.0.0/24", node_slice_size: "/16" },
      /^invalid node_slice_size "\/16": a slice of \/16 is larger than the range 10\.0\.0\.0\/24/,
    ],
    [
      "more slices than a NodeSlicePool can list (Go: a panic for IPv6)",
      { range: "fd00::/64", node_slice_size: "/120" },
      /^invalid node_slice_size "\/120": slices of \/120 divide fd00::\/64 into 72057594037927936 slices, more than one NodeSlicePool can list/,
    ],
    [
      "a slice without usable addresses",
      { range: "10.0.0.0/24", node_slice_size: "/31" },
      /^invalid node_slice_size "\/31": a slice of \/31 has no usable address/,
    ],
    [
      "more than one range",
      { range: "10.0.0.0/24", ipRanges: [{ range: "fd00::/64" }], node_slice_size: "/26" },
      /^invalid node_slice_size "\/26": node slices cut one range, and this network configures 2$/,
    ],
    [
      "datastore local",
      { range: "10.0.0.0/24", node_slice_size: "/26", datastore: "local" },
      /^invalid node_slice_size "\/26": node slices need datastore kubernetes \(the NodeSlicePool lives there\), not local$/,
    ],
    [
      "sticky addresses",
      { range: "10.0.0.0/24", node_slice_size: "/26", sticky_addresses: true },
      /^invalid node_slice_size "\/26" with sticky_addresses/,
    ],
  ];
  for (const [name, ipam, msg] of rows) {
    await t.test(name, () => assertCniError(() => load({ ...KUBE, ...ipam }), 7, msg));
  }
  await t.test("no name for the NodeSlicePool", () =>
    assertCniError(
      () =>
        loadIpamConfig(
          sources(netConf({ ...KUBE, range: "10.0.0.0/24", node_slice_size: "/26" }, { name: "" })),
        ),
      7,
      /the NodeSlicePool is named by network_name or the network's name, and both are empty$/,
    ),
  );
  await t.test("the datastore is checked on the merged configuration (etcd from the flat file)", () =>
    assertCniError(
      () =>
        load(
          { range: "10.0.0.0/24", node_slice_size: "/26" },
          {
            files: {
              "/etc/cni/net.d/whereabouts.d/whereabouts.conf": JSON.stringify({
                etcd_host: "h:2379",
                datastore: "etcd",
              }),
            },
          },
        ),
      7,
      /need datastore kubernetes .*not etcd$/,
    ),
  );
});

test("node_slice_size in a conflist without network_name: the list's name names the NodeSlicePool (Go #518)", () => {
  const conflist = JSON.stringify({
    cniVersion: "1.0.0",
    name: "sliced",
    plugins: [
      {
        type: "macvlan",
        ipam: { type: "whereabouts", ...KUBE, range: "10.9.0.0/16", node_slice_size: "/24" },
      },
    ],
  });
  const config = loadIpamConfigFromNetwork(sources(conflist));
  assert.equal(config.name, "sliced");
  assert.equal(config.nodeSlices?.prefix, 24);
});
