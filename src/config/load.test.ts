import assert from "node:assert/strict";
import { test } from "node:test";
import { formatCidr, formatIP, parseCidr, parseIP } from "../ip/index.ts";
import { ForeignIpamError, MissingIpamError } from "./errors.ts";
import { DEFAULT_FLAT_FILE_PATHS, loadFlatFile } from "./flat-file.ts";
import { loadIpamConfig, loadIpamConfigFromNetwork } from "./load.ts";
import { assertCniError, fakeReadFile, load, netConf, rangeText, sources } from "./test-support.ts";

const C1_IPAM = {
  type: "whereabouts",
  range: "192.168.1.5-192.168.1.25/24",
  gateway: "192.168.10.1",
  log_file: "/tmp/whereabouts.log",
  log_level: "debug",
  kubernetes: { kubeconfig: "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig" },
};
const FLAT = DEFAULT_FLAT_FILE_PATHS[1]!;
const C1_FLAT = JSON.stringify({
  datastore: "kubernetes",
  kubernetes: { kubeconfig: "/etc/flat.kubeconfig" },
});

function assertC1(config: ReturnType<typeof loadIpamConfig>) {
  assert.deepEqual(config.ranges.map(rangeText), [
    { range: "192.168.1.0/24", start: "192.168.1.5", end: "192.168.1.25", exclude: [] },
  ]);
  assert.equal(formatIP(config.gateway!), "192.168.10.1");
  assert.equal(config.logFile, "/tmp/whereabouts.log");
  assert.equal(config.logLevel, "debug");
  assert.equal(config.datastore, "kubernetes");
  assert.equal(config.kubernetes.kubeconfig, "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig");
}

test("loadIpamConfig() reads a plain config with a flat file present (A.1 C1)", () => {
  const stdin = netConf({
    ...C1_IPAM,
    leader_lease_duration: 1500,
    leader_renew_deadline: 1000,
    leader_retry_period: 500,
  });
  assertC1(loadIpamConfig(sources(stdin, { files: { [FLAT]: C1_FLAT } })));
});

test("loadIpamConfig() works without any flat file (Go's config test C2 inverted: README, Differences item 7)", () => {
  const config = load({ range: "10.0.0.0/24" });
  assert.equal(config.datastore, "local");
  assert.equal(config.ranges.length, 1);
});

test("loadIpamConfig() fills stdin's empty fields from the flat file at configuration_path (A.1 C3)", () => {
  const flat = JSON.stringify({
    kubernetes: { kubeconfig: "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig" },
    log_file: "/tmp/whereabouts.log",
    log_level: "debug",
    gateway: "192.168.5.5",
  });
  const config = load(
    {
      configuration_path: "/tmp/whereabouts.conf",
      range: "192.168.2.230/24",
      range_start: "192.168.2.223",
      gateway: "192.168.10.1",
      leader_lease_duration: 3000,
      leader_renew_deadline: 2000,
      leader_retry_period: 1000,
    },
    { files: { "/tmp/whereabouts.conf": flat, [FLAT]: "{not read" } },
  );
  assert.deepEqual(config.ranges.map(rangeText), [
    { range: "192.168.2.0/24", start: "192.168.2.223", end: undefined, exclude: [] },
  ]);
  assert.equal(formatIP(config.gateway!), "192.168.10.1");
  assert.equal(config.kubernetes.kubeconfig, "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig");
  assert.equal(config.datastore, "kubernetes");
  assert.equal(config.logFile, "/tmp/whereabouts.log");
});

test("loadIpamConfig() ignores the flat file's enable_overlapping_ranges (A.1 C4, C5)", async (t) => {
  const rows: [boolean | undefined, boolean, boolean][] = [
    [true, false, true],
    [false, true, false],
    [undefined, false, true],
  ];
  for (const [stdin, flat, want] of rows) {
    await t.test(`stdin ${stdin}, flat ${flat}`, () => {
      const ipam = stdin === undefined ? {} : { enable_overlapping_ranges: stdin };
      const files = { [FLAT]: JSON.stringify({ enable_overlapping_ranges: flat }) };
      assert.equal(load({ range: "10.0.0.0/24", ...ipam }, { files }).enableOverlappingRanges, want);
    });
  }
});

test("loadIpamConfig() takes ranges, ipRanges and the nested kubeconfig from the flat file", () => {
  const files = {
    [FLAT]: JSON.stringify({
      range: "10.0.0.0/24",
      exclude: ["10.0.0.0/28"],
      ipRanges: [{ range: "fd00::/64", range_start: "fd00::10" }],
      kubernetes: { kubeconfig: "/flat.kubeconfig" },
      network_name: "blue",
    }),
  };
  const config = load({ kubernetes: { k8s_api_root: "https://api" } }, { files });
  assert.deepEqual(config.ranges.map(rangeText), [
    { range: "10.0.0.0/24", start: "10.0.0.0", end: undefined, exclude: ["10.0.0.0/28"] },
    { range: "fd00::/64", start: "fd00::10", end: undefined, exclude: [] },
  ]);
  assert.equal(config.kubernetes.kubeconfig, "/flat.kubeconfig");
  assert.equal(config.datastore, "kubernetes");
  assert.equal(config.networkName, "blue");
  // The flat file's node_slice_size is checked after the merge, as stdin's is.
  const bad = { [FLAT]: JSON.stringify({ range: "10.0.0.0/24", node_slice_size: "/129" }) };
  assertCniError(() => load({}, { files: bad }), 7, /^invalid node_slice_size "\/129"/);
});

test("loadIpamConfigFromNetwork() uses the first whereabouts plugin of a conflist (A.1 C6)", () => {
  const conflist = JSON.stringify({
    cniVersion: "0.3.1",
    name: "list",
    plugins: [
      { type: "macvlan", ipam: { type: "static" } },
      { type: "macvlan", master: "eth0", ipam: C1_IPAM },
      { type: "macvlan", ipam: { type: "thereabouts", range: "10.0.0.0/8" } },
    ],
  });
  const config = loadIpamConfigFromNetwork(sources(conflist, { files: { [FLAT]: C1_FLAT } }));
  assertC1(config);
  assert.equal(config.name, "list");
  // The list's cniVersion is the one the plugin's config is checked against.
  const old = JSON.stringify({
    cniVersion: "0.2.0",
    name: "list",
    plugins: [
      {
        type: "macvlan",
        ipam: { type: "thereabouts", range: "10.0.0.0/24", ipRanges: [{ range: "10.1.0.0/24" }] },
      },
    ],
  });
  assertCniError(
    () => loadIpamConfigFromNetwork(sources(old)),
    7,
    "CNI version 0.2.0 does not support more than 1 address per family",
  );
});

test("loadIpamConfigFromNetwork() reads a single plugin config like loadIpamConfig()", () => {
  assertC1(loadIpamConfigFromNetwork(sources(netConf(C1_IPAM))));
});

test("loadIpamConfigFromNetwork() reports a conflist without our IPAM type as foreign", () => {
  const conflist = JSON.stringify({ name: "l", plugins: [{ ipam: { type: "static" } }, { type: "tuning" }] });
  assert.throws(
    () => loadIpamConfigFromNetwork(sources(conflist)),
    (e: unknown) =>
      e instanceof ForeignIpamError &&
      e.code === 7 &&
      e.message ===
        "only interested in networks whose IPAM type is 'whereabouts'. This one was: a plugin list with IPAM types [static ]",
  );
});

test("loadIpamConfig() rejects other IPAM types and a missing ipam with Go's typed errors (A.1 C7, C8)", () => {
  assert.throws(
    () => load({ type: "static" }),
    (e: unknown) =>
      e instanceof ForeignIpamError &&
      e.code === 7 &&
      e.message === "only interested in networks whose IPAM type is 'whereabouts'. This one was: static",
  );
  assert.throws(
    () => loadIpamConfig(sources(JSON.stringify({ cniVersion: "0.3.1", name: "n", type: "macvlan" }))),
    (e: unknown) =>
      e instanceof MissingIpamError && e.code === 7 && e.message === "IPAM config missing 'ipam' key",
  );
  assert.throws(() => loadIpamConfig(sources('{"name":"n","ipam":null}')), MissingIpamError);
  for (const type of ["thereabouts", "whereabouts"]) assert.doesNotThrow(() => load({ type }));
});

test("loadIpamConfig() accepts leading zeros in the top-level range and bounds (A.1 C9–C12)", () => {
  const config = load({
    range: "00192.00168.1.0/24",
    range_start: "00192.00168.1.44",
    range_end: "00192.00168.01.209",
  });
  assert.deepEqual(config.ranges.map(rangeText), [
    { range: "192.168.1.0/24", start: "192.168.1.44", end: "192.168.1.209", exclude: [] },
  ]);
});

test("loadIpamConfig() accepts reconciler_cron_expression; the flat file keeps it verbatim for the controller (A.1 C13)", () => {
  assert.doesNotThrow(() => load({ reconciler_cron_expression: "30 4 * * *" }));
  const files = { [FLAT]: JSON.stringify({ reconciler_cron_expression: "30 4 * * *" }) };
  assert.equal(loadFlatFile(fakeReadFile({ files }), undefined)?.ipam.reconcilerCronExpression, "30 4 * * *");
});

test("loadIpamConfig() reports JSON syntax errors as decode failures in Go's words (A.1 C14, C15)", () => {
  assertCniError(
    () => loadIpamConfig(sources('{"cniVersion":"0.3.1","name":"n","ipam": { asdf }}')),
    6,
    "LoadIPAMConfig - JSON Parsing Error: invalid character looking for beginning of object key string at line 1, column 44",
  );
  assertCniError(
    () => load({ deep: JSON.parse(`${"[".repeat(1001)}${"]".repeat(1001)}`) }),
    6,
    /^LoadIPAMConfig - JSON Parsing Error: exceeded max depth at line 1, column \d+$/,
  );
  assertCniError(
    () => load({ range: "192.168.1.5-192.168.2.25/28" }),
    7,
    "invalid range start for CIDR 192.168.2.16/28: 192.168.1.5",
  );
});

test("loadIpamConfig() matches keys case-insensitively, last spelling winning", () => {
  const config = loadIpamConfig(
    sources(
      '{"CNIVERSION":"1.0.0","Name":"n","IPAM":{"Type":"whereabouts","RANGE":"10.0.0.0/24","Gateway":"10.0.0.1",' +
        '"range":"10.1.0.0/24","Log_Level":"ERROR","unknown":{"deep":[1]}}}',
    ),
  );
  assert.equal(config.name, "n");
  assert.equal(formatCidr(config.ranges[0]!.range), "10.1.0.0/24");
  assert.equal(formatIP(config.gateway!), "10.0.0.1");
  assert.equal(config.logLevel, "error");
});

test("loadIpamConfig() applies defaults", () => {
  const config = loadIpamConfig(sources(JSON.stringify({ name: "n", ipam: { type: "whereabouts" } })));
  assert.deepEqual(
    { ...config, local: undefined, etcd: undefined },
    {
      name: "n",
      ranges: [],
      networkName: "",
      enableOverlappingRanges: true,
      addresses: [],
      routes: [],
      dns: {},
      datastore: "local",
      local: undefined,
      kubernetes: { kubeconfig: "" },
      etcd: undefined,
      logFile: "",
      logLevel: "debug",
      logFormat: "text",
      stickyAddresses: false,
      reuseCooldownSeconds: 0,
      requestedIpsFromPod: false,
      requested: [],
      pod: { name: "", ref: "/" },
    },
  );
});

test("loadIpamConfig() takes the pod identity from CNI_ARGS", () => {
  const cniArgs = "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web-0;K8S_POD_UID=1234;K8S_POD_INFRA_CONTAINER_ID=c";
  assert.deepEqual(load({}, { cniArgs }).pod, { name: "web-0", ref: "ns/web-0" });
  assert.equal(load({}, { cniArgs: "K8S_POD_NAME=p" }).pod.ref, "/p");
});

test("loadIpamConfig() returns deeply frozen data", () => {
  const config = load({ range: "10.0.0.0/24", exclude: ["10.0.0.1"], routes: [{ dst: "0.0.0.0/0" }] });
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.ranges[0]!.exclude.intervals));
  assert.ok(Object.isFrozen(config.routes[0]));
  assert.ok(Object.isFrozen(config.pod));
});

test("loadIpamConfig() returns static addresses, CNI_ARGS IP= and GATEWAY=, routes and dns", () => {
  const config = load(
    {
      range: "10.0.0.0/24",
      addresses: [{ address: "10.10.0.1/24", gateway: "10.10.0.254" }, { address: "3ffe:ffff:0:01ff::1/64" }],
      routes: [
        { dst: "0.0.0.0/0", gw: "10.0.0.1", unknown: 1 },
        { DST: "fd00::/8", mtu: 1400 },
      ],
      dns: { nameservers: ["8.8.8.8"], domain: "example.com", search: ["example.com"], options: [], x: 1 },
    },
    { cniArgs: "IP=192.168.7.5/24,fd01::5/64;GATEWAY=192.168.7.1, fd01::1" },
  );
  assert.deepEqual(
    config.addresses.map((a) => [formatCidr(a.address), a.gateway && formatIP(a.gateway)]),
    [
      ["10.10.0.1/24", "10.10.0.254"],
      ["3ffe:ffff:0:1ff::1/64", undefined],
      ["192.168.7.5/24", "192.168.7.1"],
      ["fd01::5/64", "fd01::1"],
    ],
  );
  // Routes keep Go's fields only (unknown keys dropped), dst and gw parsed.
  assert.deepEqual(config.routes, [
    { dst: parseCidr("0.0.0.0/0"), gw: parseIP("10.0.0.1") },
    { dst: parseCidr("fd00::/8"), mtu: 1400 },
  ]);
  assert.deepEqual(config.dns, { nameservers: ["8.8.8.8"], domain: "example.com", search: ["example.com"] });
});

test("loadIpamConfig() counts range and static addresses per family for CNI versions before 0.3.0", async (t) => {
  const rows: [string, Record<string, unknown>, string, boolean][] = [
    ["0.2.0", { range: "10.0.0.0/24", ipRanges: [{ range: "fd00::/64" }] }, "", true],
    ["0.2.0", { range: "10.0.0.0/24", ipRanges: [{ range: "10.1.0.0/24" }] }, "", false],
    ["0.1.0", { range: "10.0.0.0/24", addresses: [{ address: "10.9.0.1/24" }] }, "", false],
    ["", { addresses: [{ address: "10.9.0.1/24" }] }, "IP=10.8.0.1/24", false],
    ["0.2.0", { addresses: [{ address: "10.9.0.1/24" }] }, "IP=fd00::1/64", true],
    ["0.3.0", { range: "10.0.0.0/24", ipRanges: [{ range: "10.1.0.0/24" }] }, "", true],
  ];
  for (const [cniVersion, ipam, cniArgs, ok] of rows) {
    await t.test(`${cniVersion || '""'} ${JSON.stringify(ipam)} ${cniArgs}`, () => {
      const run = () => loadIpamConfig(sources(netConf(ipam, { cniVersion }), { cniArgs }));
      if (ok) assert.doesNotThrow(run);
      else
        assertCniError(run, 7, `CNI version ${cniVersion} does not support more than 1 address per family`);
    });
  }
});

test("loadIpamConfig() validates log_level, log_format and reads node_slice_size", async (t) => {
  for (const [level, want] of [
    ["VERBOSE", "verbose"],
    ["Panic", "panic"],
    ["error", "error"],
  ] as const) {
    await t.test(`log_level ${level}`, () => assert.equal(load({ log_level: level }).logLevel, want));
  }
  await t.test("log_format defaults to text", () => assert.equal(load({}).logFormat, "text"));
  for (const [format, want] of [
    ["json", "json"],
    ["JSON", "json"],
    ["Text", "text"],
  ] as const) {
    await t.test(`log_format ${format}`, () => assert.equal(load({ log_format: format }).logFormat, want));
  }
  for (const bad of ["yaml", "logfmt", "json "]) {
    await t.test(`log_format ${JSON.stringify(bad)} is refused with the accepted values`, () =>
      assertCniError(
        () => load({ log_format: bad }),
        7,
        `invalid log_format ${JSON.stringify(bad)}: expected one of text, json`,
      ),
    );
  }
  await t.test("log_format of the wrong JSON type names the key", () =>
    assertCniError(() => load({ log_format: 1 }), 7, /^invalid ipam\.log_format: expected a string/),
  );
  await t.test("log_format from the flat file when the network configuration has none", () =>
    assert.equal(load({}, { files: { [FLAT]: JSON.stringify({ log_format: "json" }) } }).logFormat, "json"),
  );
  const kube = { range: "10.0.0.0/24", kubernetes: { kubeconfig: "/k" } };
  for (const [size, prefix] of [
    ["/26", 26],
    ["26", 26],
    ["/24", 24],
    ["/30", 30],
  ] as const) {
    await t.test(`node_slice_size ${size}`, () =>
      assert.deepEqual(load({ ...kube, node_slice_size: size }).nodeSlices, { prefix, text: size }),
    );
  }
  const fromFlat = {
    [FLAT]: JSON.stringify({ node_slice_size: "/28", configuration_path: "/etc/cni/net.d/whereabouts.d" }),
  };
  await t.test("node_slice_size and configuration_path from the flat file", () =>
    assert.deepEqual(load(kube, { files: fromFlat }).nodeSlices, {
      prefix: 28,
      text: "/28",
      configurationPath: "/etc/cni/net.d/whereabouts.d",
    }),
  );
  await t.test("no node_slice_size: the whole range", () => assert.equal(load(kube).nodeSlices, undefined));
});

test("loadIpamConfig() reports errors in Go's evaluation order", async (t) => {
  const rows: [string, Record<string, unknown>, string, number, RegExp][] = [
    ["type before key types", { type: "static", range: 5 }, "", 7, /^only interested/],
    ["key types before CNI_ARGS", { range: 5 }, "BAD", 7, /^invalid ipam\.range: expected a string/],
    ["CNI_ARGS before ranges", { range: "bad" }, "BAD", 4, /^LoadArgs/],
    ["ranges before datastore", { range: "bad", datastore: "nope" }, "", 7, /^invalid CIDR bad/],
    ["datastore before gateway", { gateway: "x", datastore: "nope" }, "", 7, /^invalid datastore/],
    [
      "gateway before addresses",
      { gateway: "x", addresses: [{ address: "y" }] },
      "",
      7,
      /^couldn't parse gateway IP: x$/,
    ],
    ["addresses before IP=", { addresses: [{ address: "y" }] }, "IP=z", 7, /^invalid CIDR in addresses y/],
    [
      "IP= before the version check",
      { range: "10.0.0.0/24", ipRanges: [{ range: "10.1.0.0/24" }] },
      "IP=z",
      4,
      /^invalid CIDR z/,
    ],
    [
      "routes before log_level",
      { routes: [{ dst: "x" }], log_level: "loud", node_slice_size: "x" },
      "",
      7,
      /^invalid routes\[0\]\.dst/,
    ],
    [
      "log_level before node_slice_size",
      { log_level: "loud", node_slice_size: "x" },
      "",
      7,
      /^invalid log_level/,
    ],
  ];
  for (const [name, ipam, cniArgs, code, msg] of rows) {
    await t.test(name, () =>
      assertCniError(
        () => loadIpamConfig(sources(netConf(ipam, { cniVersion: "0.2.0" }), { cniArgs })),
        code,
        msg,
      ),
    );
  }
});

test("loadIpamConfig() requires absolute paths after the merge, so the flat file's paths too (code 7)", () => {
  const range = { range: "10.0.0.0/24" };
  assertCniError(
    () => load(range, { files: { [FLAT]: '{"local": {"path": "store.db"}}' } }),
    7,
    'invalid local.path "store.db": must be an absolute path',
  );
  assertCniError(
    () => load(range, { files: { [FLAT]: '{"etcd_ca_cert_file": "pki/ca.crt"}' } }),
    7,
    'invalid etcd_ca_cert_file "pki/ca.crt": must be an absolute path',
  );
  // configuration_path is checked before the flat file is looked for.
  const readFile = sources(netConf({ ...range, configuration_path: "conf.d" }));
  assertCniError(
    () => loadIpamConfig(readFile),
    7,
    'invalid configuration_path "conf.d": must be an absolute path',
  );
  assert.deepEqual((readFile.readFile as unknown as { reads: string[] }).reads, []);
  assert.equal(load({ ...range, local: { path: "/var/lib/x.db" } }).local.path, "/var/lib/x.db");
});
