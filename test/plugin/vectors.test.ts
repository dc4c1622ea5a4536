// Whereabouts' own end-to-end vectors (cmd/whereabouts_test.go) through the shipped executable on
// the embedded store, cniVersion 0.3.1, ifname eth0. They would be adjusted only where README's
// "Differences from Whereabouts" says we differ (none of these vectors hits a difference).
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openLocalStore } from "../../src/store/local/sqlite-store.ts";
import { poolChange } from "../../src/store/store.ts";
import { add, addressesOf, del, netConf, type TempDir, tempDir } from "../support/plugin.ts";

let dir: TempDir;
let n = 0;
before(() => {
  dir = tempDir();
});
after(() => dir.remove());

/** A fresh store per vector. */
function ipam(extra: Record<string, unknown>): { ipam: Record<string, unknown>; path: string } {
  const path = join(dir.path, `v${n++}.db`);
  return { ipam: { type: "whereabouts", datastore: "local", local: { path }, ...extra }, path };
}

async function addOne(config: string, pod = "pod", containerId = `c-${pod}`) {
  return add({ config, pod, containerId });
}

describe("A.4 CNI ADD/DEL vectors", () => {
  it("E1 returns the address already held by the pod and prints version", async () => {
    const { ipam: i, path } = ipam({ range: "192.168.1.0/24" });
    const store = await openLocalStore(path);
    await store.commit(
      poolChange("192.168.1.0-24", "192.168.1.0/24", {
        create: [["1", { containerId: "old", podRef: "dummyNS/dummyPOD", ifName: "eth0" }]],
      }),
    );
    await store.close();
    const out = await add({
      config: netConf(i),
      pod: "dummyPOD",
      containerId: "new",
      env: { CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=dummyNS;K8S_POD_NAME=dummyPOD" },
    });
    assert.deepEqual(addressesOf(out), ["192.168.1.1/24"]);
    assert.match(out.stdout, /"version":/);
  });

  it("E2 ADD, DEL, ADD returns the same address (v4 and v6)", async () => {
    for (const [range, want] of [
      ["192.168.1.0/24", "192.168.1.1/24"],
      ["2001::1/116", "2001::1/116"],
    ] as const) {
      const config = netConf(ipam({ range }).ipam);
      assert.deepEqual(addressesOf(await addOne(config)), [want]);
      assert.equal((await del({ config, pod: "pod", containerId: "c-pod" })).code, 0);
      assert.deepEqual(addressesOf(await addOne(config)), [want]);
    }
  });

  it("E3 twelve pods in a start-end range get .11 … .22", async () => {
    const config = netConf(ipam({ range: "192.168.1.11-192.168.1.23/24" }).ipam);
    const got: string[] = [];
    for (let i = 0; i < 12; i++) {
      const call = { config, pod: `pod${i}`, containerId: `c${i}` };
      assertAdd(await add(call));
      assert.equal((await del(call)).code, 0);
      got.push(addressesOf(await add(call))[0]!);
    }
    assert.deepEqual(
      got,
      Array.from({ length: 12 }, (_, i) => `192.168.1.${11 + i}/24`),
    );
  });

  const single: [string, Record<string, unknown>, string[]][] = [
    ["E4", { range: "fd::1/116" }, ["fd::1/116"]],
    [
      "E5",
      { range: "2001:db8:480:603d:0304:0403:000:0000-2001:db8:480:603d:0304:0403:0000:0004/64" },
      ["2001:db8:480:603d:304:403::/64"],
    ],
    [
      "E6",
      { range: "2001:db8:5422:0005::-2001:db8:5422:0005:7fff:ffff:ffff:ffff/64" },
      ["2001:db8:5422:5::1/64"],
    ],
    ["E7", { range: "fd00:0:0:10:0:0:3:1-fd00:0:0:10:0:0:3:6/64" }, ["fd00::10:0:0:3:1/64"]],
    ["E9", { range: "2001::1/116", exclude: ["2001::0/128", "2001::1/128", "2001::2/128"] }, ["2001::3/116"]],
    ["E10", { range: "caa5::0/112", exclude: ["caa5::0/113"] }, ["caa5::8000/112"]],
    ["E12", { ipRanges: [{ range: "192.168.10.1/24" }] }, ["192.168.10.1/24"]],
    [
      "E13",
      { ipRanges: [{ range: "192.168.10.1/24" }, { range: "abcd::1/64" }] },
      ["192.168.10.1/24", "abcd::1/64"],
    ],
    [
      "E14",
      { range: "abcd::1/64", ipRanges: [{ range: "192.168.10.1/24" }] },
      ["abcd::1/64", "192.168.10.1/24"],
    ],
    ["E15", { range: "192.168.1.5-192.168.1.25/24" }, ["192.168.1.5/24"]],
    ["E16", { range: "192.168.1.0/24", range_start: "192.168.1.5" }, ["192.168.1.5/24"]],
  ];
  for (const [id, extra, want] of single) {
    it(`${id} ${JSON.stringify(extra)} → ${want.join(", ")}`, async () => {
      assert.deepEqual(addressesOf(await addOne(netConf(ipam(extra).ipam))), want);
    });
  }

  it("E7 stores the pool under Go's name fd00-0-0-10---64", async () => {
    const { ipam: i, path } = ipam({ range: "fd00:0:0:10:0:0:3:1-fd00:0:0:10:0:0:3:6/64" });
    assertAdd(await addOne(netConf(i)));
    const store = await openLocalStore(path);
    assert.deepEqual(
      (await store.listPools()).map((p) => [p.name, p.range]),
      [["fd00-0-0-10---64", "fd00:0:0:10::/64"]],
    );
    await store.close();
  });

  it("E8 excludes, gateway and routes", async () => {
    const config = netConf(
      ipam({
        range: "192.168.1.0/24",
        exclude: ["192.168.1.0/28", "192.168.1.16/28"],
        gateway: "192.168.10.1",
        routes: [{ dst: "0.0.0.0/0" }],
      }).ipam,
    );
    const out = JSON.parse((await addOne(config)).stdout);
    assert.deepEqual(out.ips, [{ version: "4", address: "192.168.1.32/24", gateway: "192.168.10.1" }]);
    assert.deepEqual(out.routes, [{ dst: "0.0.0.0/0" }]);
  });

  it("E11 static addresses, routes and dns pass through", async () => {
    const routes = [
      { dst: "0.0.0.0/0" },
      { dst: "192.168.0.0/16", gw: "10.10.5.1" },
      { dst: "3ffe:ffff:0:01ff::1/64" },
    ];
    const dns = { nameservers: ["10.1.1.1"], domain: "example.com", search: ["example.com"] };
    const config = netConf(
      ipam({
        range: "192.168.1.44/28",
        gateway: "192.168.1.1",
        addresses: [
          { address: "10.10.0.1/24", gateway: "10.10.0.254" },
          { address: "3ffe:ffff:0:01ff::1/64", gateway: "3ffe:ffff:0::1" },
        ],
        routes,
        dns,
      }).ipam,
    );
    const out = JSON.parse((await addOne(config)).stdout);
    assert.deepEqual(out.ips, [
      { version: "4", address: "192.168.1.33/28", gateway: "192.168.1.1" },
      { version: "4", address: "10.10.0.1/24", gateway: "10.10.0.254" },
      { version: "6", address: "3ffe:ffff:0:1ff::1/64", gateway: "3ffe:ffff::1" },
    ]);
    // Go re-encodes route destinations in canonical IP text (host bits kept).
    assert.deepEqual(out.routes, [routes[0], routes[1], { dst: "3ffe:ffff:0:1ff::1/64" }]);
    assert.deepEqual(out.dns, dns);
  });

  it("E17 the ninth pod of an eight-address window gets AssignmentError", async () => {
    const config = netConf(
      ipam({ range: "192.168.1.0/24", range_start: "192.168.1.5", range_end: "192.168.1.12" }).ipam,
    );
    for (let i = 0; i < 8; i++) {
      assert.deepEqual(addressesOf(await addOne(config, `pod${i}`)), [`192.168.1.${5 + i}/24`]);
    }
    const ninth = await addOne(config, "pod8");
    assert.equal(ninth.code, 1);
    const error = JSON.parse(ninth.stdout);
    assert.equal(error.code, 100);
    assert.match(error.msg, /^Could not allocate IP in range: ip: 192\.168\.1\.5 \/ - 192\.168\.1\.12 \//);
  });

  it("E18/E19 overlapping ranges across networks: the second pod skips the reserved address", async () => {
    for (const [wide, narrow, a, b] of [
      ["192.168.22.0/24", "192.168.22.0/28", "192.168.22.1/24", "192.168.22.2/28"],
      ["2001::2:3:0/124", "2001::2:3:0/126", "2001::2:3:1/124", "2001::2:3:2/126"],
    ] as const) {
      const path = join(dir.path, `overlap${n++}.db`);
      const netA = netConf(
        { type: "whereabouts", datastore: "local", local: { path }, range: wide },
        "0.3.1",
        "net-a",
      );
      const netB = netConf(
        { type: "whereabouts", datastore: "local", local: { path }, range: narrow },
        "0.3.1",
        "net-b",
      );
      assert.deepEqual(addressesOf(await add({ config: netA, pod: "a", containerId: "ca" })), [a]);
      assert.deepEqual(addressesOf(await add({ config: netB, pod: "b", containerId: "cb" })), [b]);
    }
  });

  it("E20 with overlapping protection off for the first pod both get .1", async () => {
    const path = join(dir.path, `overlap${n++}.db`);
    const netA = netConf(
      {
        type: "whereabouts",
        datastore: "local",
        local: { path },
        range: "192.168.33.0/24",
        enable_overlapping_ranges: false,
      },
      "0.3.1",
      "net-a",
    );
    const netB = netConf(
      { type: "whereabouts", datastore: "local", local: { path }, range: "192.168.33.0/28" },
      "0.3.1",
      "net-b",
    );
    assert.deepEqual(addressesOf(await add({ config: netA, pod: "a", containerId: "ca" })), [
      "192.168.33.1/24",
    ]);
    assert.deepEqual(addressesOf(await add({ config: netB, pod: "b", containerId: "cb" })), [
      "192.168.33.1/28",
    ]);
  });
});

function assertAdd(outcome: { code: number | null; stdout: string }): void {
  assert.equal(outcome.code, 0, outcome.stdout);
}
