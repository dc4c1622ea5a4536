// The pure half of install --multus: which file is the master, which one a runtime uses, and the
// multus configuration generated from a master, read back as JSON.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  firstMaster,
  generateMultusConf,
  isRuntimeConfName,
  MULTUS_CONF,
  MULTUS_CONFLIST,
  type MultusConfOptions,
  runtimeChoice,
} from "./multus-conf.ts";

const DEFAULTS: MultusConfOptions = {
  cniVersion: undefined,
  overrideNetworkName: false,
  namespaceIsolation: false,
  globalNamespaces: undefined,
  logLevel: undefined,
  logFile: undefined,
  logToStderr: true,
  readinessIndicatorFile: undefined,
  binDir: undefined,
};
const KUBECONFIG = "/etc/cni/net.d/multus.d/multus.kubeconfig";

const FLANNEL = {
  cniVersion: "0.3.1",
  name: "cbr0",
  plugins: [
    { type: "flannel", delegate: { hairpinMode: true, isDefaultGateway: true } },
    { type: "portmap", capabilities: { portMappings: true } },
  ],
};

function generate(master: unknown, options: Partial<MultusConfOptions> = {}) {
  const text = typeof master === "string" ? master : JSON.stringify(master);
  const conf = generateMultusConf(
    { path: "/net.d/10-master.conf", text },
    { ...DEFAULTS, ...options },
    KUBECONFIG,
  );
  return { fileName: conf.fileName, text: conf.text, json: JSON.parse(conf.text) as Record<string, unknown> };
}

function refusal(master: unknown, options: Partial<MultusConfOptions> = {}): string {
  try {
    generate(master, options);
  } catch (error) {
    return (error as Error).message;
  }
  assert.fail("not refused");
}

describe("the master: which configuration multus wraps", () => {
  it("is the first .conf or .conflist in byte order; .json and other names are not considered", () => {
    assert.equal(
      firstMaster(["99-loopback.conf", "10-flannel.conflist", "20-calico.conf"]),
      "10-flannel.conflist",
    );
    assert.equal(firstMaster(["05-first.json", "README", "10-b.conf.bak", "30-c.conf"]), "30-c.conf");
    // Byte order, as Go sorts a directory: upper case before lower case, "-" before digits.
    assert.equal(firstMaster(["a.conf", "Z.conf"]), "Z.conf");
    assert.equal(firstMaster(["10.conf", "1-.conf"]), "1-.conf");
    // A name that is all extension counts, as Go's filepath.Ext reads it.
    assert.equal(firstMaster([".conf", "0.conf"]), ".conf");
    assert.equal(firstMaster(["notes.txt", "net.conflist.tmp"]), undefined);
    assert.equal(firstMaster([]), undefined);
  });

  it("is never multus' own file: names starting with 00-multus.conf are skipped", () => {
    assert.equal(
      firstMaster([MULTUS_CONF, MULTUS_CONFLIST, "00-multus.conf.conf", "10-x.conf"]),
      "10-x.conf",
    );
    assert.equal(firstMaster(["00-multus.conf", "00-multus-other.conf"]), "00-multus-other.conf");
  });

  it("the runtime's choice is the first .conf, .conflist or .json", () => {
    assert.equal(runtimeChoice(["10-a.conf", "05-b.json", "README"]), "05-b.json");
    assert.equal(runtimeChoice([MULTUS_CONF, "0-early.conflist"]), "0-early.conflist");
    assert.equal(runtimeChoice(["x.yaml"]), undefined);
    assert.deepEqual(
      ["a.conf", "a.conflist", "a.json", "a.yaml", "a.conf.bak", "conf"].map(isRuntimeConfName),
      [true, true, true, false, false, false],
    );
  });
});

describe("00-multus.conf generated from the master", () => {
  it("a conflist master: its version, multus-cni-network, type multus, the plugins' capabilities, the kubeconfig, the master verbatim", () => {
    const { fileName, text, json } = generate(FLANNEL);
    assert.equal(fileName, MULTUS_CONF);
    assert.deepEqual(Object.keys(json), [
      "cniVersion",
      "name",
      "type",
      "capabilities",
      "kubeconfig",
      "delegates",
    ]);
    assert.deepEqual(json, {
      cniVersion: "0.3.1",
      name: "multus-cni-network",
      type: "multus",
      capabilities: { portMappings: true },
      kubeconfig: KUBECONFIG,
      delegates: [FLANNEL],
    });
    assert.ok(
      text.endsWith("}\n") && text.includes('\n  "type": "multus",\n'),
      "indented, one final newline",
    );
  });

  it("capabilities: a single-plugin master's own map; a list's plugins merged in order, false kept, keys sorted", () => {
    const single = {
      cniVersion: "0.4.0",
      name: "n",
      type: "bridge",
      capabilities: { mac: true, ips: false },
    };
    assert.deepEqual(generate(single).json["capabilities"], { ips: false, mac: true });
    const list = {
      cniVersion: "0.4.0",
      name: "n",
      capabilities: { ignored: true },
      plugins: [
        { type: "ptp", capabilities: { portMappings: false, ips: true } },
        { type: "bandwidth", capabilities: { bandwidth: true } },
        { type: "portmap", capabilities: { portMappings: true } },
        { type: "tuning" },
      ],
    };
    const merged = generate(list).json["capabilities"] as Record<string, boolean>;
    assert.deepEqual(merged, { bandwidth: true, ips: true, portMappings: true });
    assert.deepEqual(Object.keys(merged), ["bandwidth", "ips", "portMappings"]);
    assert.equal("capabilities" in generate({ cniVersion: "0.4.0", name: "n", type: "bridge" }).json, false);
  });

  it("from CNI 1.0.0 a conflist holding multus as its only plugin", () => {
    for (const version of ["1.0.0", "1.1.0"]) {
      const master = { ...FLANNEL, cniVersion: version };
      const { fileName, json } = generate(master, { namespaceIsolation: true });
      assert.equal(fileName, MULTUS_CONFLIST);
      assert.deepEqual(json, {
        cniVersion: version,
        name: "multus-cni-network",
        plugins: [
          {
            type: "multus",
            capabilities: { portMappings: true },
            namespaceIsolation: true,
            kubeconfig: KUBECONFIG,
            delegates: [master],
          },
        ],
      });
    }
    assert.equal(generate({ ...FLANNEL, cniVersion: "0.4.0" }).fileName, MULTUS_CONF);
  });

  it("every flag's key, in the entrypoint's order; defaults write nothing", () => {
    const { json } = generate(FLANNEL, {
      cniVersion: "0.3.1",
      overrideNetworkName: true,
      namespaceIsolation: true,
      globalNamespaces: "default,shared",
      logLevel: "verbose",
      logFile: "/var/log/multus.log",
      logToStderr: false,
      readinessIndicatorFile: "/run/flannel/subnet.env",
      binDir: "/opt/extra/bin",
    });
    assert.deepEqual(Object.entries(json).slice(0, -1), [
      ["cniVersion", "0.3.1"],
      ["name", "cbr0"],
      ["type", "multus"],
      ["capabilities", { portMappings: true }],
      ["namespaceIsolation", true],
      ["globalNamespaces", "default,shared"],
      ["logToStderr", false],
      ["logLevel", "verbose"],
      ["logFile", "/var/log/multus.log"],
      ["binDir", "/opt/extra/bin"],
      ["readinessindicatorfile", "/run/flannel/subnet.env"],
      ["kubeconfig", KUBECONFIG],
    ]);
  });

  it("the master is embedded as it is: key order, nested values, numbers", () => {
    const text =
      '{"type":"bridge","name":"b","cniVersion":"0.4.0","mtu":1450,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.1.0.0/16"}]]}}';
    const { json } = generate(text);
    assert.deepEqual(json["delegates"], [JSON.parse(text)]);
    assert.equal(JSON.stringify((json["delegates"] as unknown[])[0]), text);
  });

  it("a master that cannot be used is refused naming the file and what to fix, never its content", () => {
    const secret = "hunter2-token";
    const cases: [unknown, Partial<MultusConfOptions>, RegExp][] = [
      [
        `{"cniVersion": "0.4.0", "password": ${secret}}`,
        {},
        /^master CNI configuration \/net.d\/10-master.conf: not valid JSON \(invalid character .* at line 1, column 37\)$/,
      ],
      ["[1]", {}, /: not a JSON object$/],
      [
        { cniVersion: "0.4.0", name: "x" },
        {},
        /neither "type" nor "plugins": not a CNI network configuration/,
      ],
      [
        { name: "x", type: "bridge" },
        {},
        /no cniVersion \(multus takes its version from the master: set one in it\)/,
      ],
      [{ cniVersion: 4, type: "bridge" }, {}, /cniVersion is not a string such as "0.4.0"/],
      [
        { cniVersion: "2.0.0", type: "bridge" },
        {},
        /cniVersion "2.0.0" is not one multus speaks \(0.1.0, .*1.1.0\)/,
      ],
      [
        { cniVersion: "0.3.1", type: "bridge" },
        { cniVersion: "0.4.0" },
        /Multus cni version is "0.4.0" while master plugin cni version is "0.3.1" \(drop --multus-cni-version, or give the master's\)/,
      ],
      [
        { cniVersion: "0.4.0", type: "bridge" },
        { overrideNetworkName: true },
        /no name, which --multus-override-network-name takes/,
      ],
      [
        { cniVersion: "0.4.0", type: "bridge", capabilities: { mac: "yes" } },
        {},
        /capability "mac" is not true or false/,
      ],
      [{ cniVersion: "0.4.0", type: "bridge", capabilities: [] }, {}, /capabilities is not an object/],
      [
        { cniVersion: "0.4.0", plugins: [{ type: "a" }, { type: "b", capabilities: { x: 1 } }] },
        {},
        /capability "x" of plugin 1 is not true or false/,
      ],
      [{ cniVersion: "0.4.0", plugins: ["bridge"] }, {}, /plugin 0 is not an object/],
      [{ cniVersion: "0.4.0", plugins: {}, type: "x" }, {}, /"plugins" is not a list/],
      [
        { cniVersion: "0.4.0", name: "m", type: "multus", delegates: [] },
        {},
        /is itself a multus configuration \(remove it, or name the cluster network's file with --multus-master-cni-file-name\)/,
      ],
      [
        { cniVersion: "1.0.0", name: "m", plugins: [{ type: "multus-shim" }] },
        {},
        /is itself a multus configuration/,
      ],
    ];
    for (const [master, options, message] of cases) {
      const text = refusal(master, options);
      assert.match(text, message);
      assert.match(text, /^master CNI configuration \/net.d\/10-master.conf: /);
      assert.doesNotMatch(text, new RegExp(secret));
    }
  });
});
