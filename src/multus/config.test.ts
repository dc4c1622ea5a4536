import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../errors/errors.ts";
import { loadMultusConf } from "./config.ts";
import { MultusInputError } from "./errors.ts";

const bridge = { cniVersion: "0.3.1", name: "cbr0", type: "bridge" };

test("loadMultusConf: absent keys keep Multus' defaults", () => {
  const conf = loadMultusConf({
    cniVersion: "1.0.0",
    name: "multus-cni-network",
    type: "multus",
    delegates: [bridge],
  });
  assert.equal(conf.confDir, "/etc/cni/multus/net.d");
  assert.equal(conf.cniDir, "/var/lib/cni/multus");
  assert.equal(conf.binDir, "/opt/cni/bin");
  assert.equal(conf.logLevel, "panic");
  assert.equal(conf.logToStderr, true);
  assert.equal(conf.namespaceIsolation, false);
  assert.deepEqual(conf.globalNamespaces, ["default"]);
  assert.deepEqual(conf.systemNamespaces, ["kube-system"]);
  assert.equal(conf.multusNamespace, "kube-system");
  assert.equal(conf.retryDeleteOnError, false);
  assert.equal(conf.delegates.length, 1);
  assert.equal(conf.delegates[0]!.confName, "cbr0");
  assert.ok(Object.isFrozen(conf) && Object.isFrozen(conf.delegates[0]!.config));
});

test("loadMultusConf: every key is read, case-insensitively as Go's decoder matches them", () => {
  const conf = loadMultusConf({
    cniVersion: "0.3.1",
    name: "m",
    clusterNetwork: "k8s-pod-network",
    defaultNetworks: ["a", "b"],
    Kubeconfig: "/etc/cni/net.d/multus.d/multus.kubeconfig",
    confDir: "/c",
    cniDir: "/d",
    binDir: "/b",
    logFile: "/var/log/multus.log",
    logLevel: "Debug",
    logToStderr: false,
    readinessindicatorfile: "/r",
    namespaceIsolation: true,
    globalNamespaces: " default , shared,infra ",
    systemNamespaces: ["kube-system", "ops"],
    multusNamespace: "multus",
    retryDeleteOnError: true,
    runtimeConfig: { portMappings: [] },
  });
  assert.equal(conf.clusterNetwork, "k8s-pod-network");
  assert.deepEqual(conf.defaultNetworks, ["a", "b"]);
  assert.equal(conf.kubeconfig, "/etc/cni/net.d/multus.d/multus.kubeconfig");
  assert.deepEqual([conf.confDir, conf.cniDir, conf.binDir], ["/c", "/d", "/b"]);
  assert.equal(conf.logLevel, "debug");
  assert.equal(conf.logToStderr, false);
  assert.equal(conf.readinessIndicatorFile, "/r");
  assert.equal(conf.namespaceIsolation, true);
  assert.deepEqual(conf.globalNamespaces, ["default", "shared", "infra"]);
  assert.deepEqual(conf.systemNamespaces, ["kube-system", "ops"]);
  assert.equal(conf.multusNamespace, "multus");
  assert.equal(conf.retryDeleteOnError, true);
  assert.deepEqual(conf.runtimeConfig, { portMappings: [] });
});

test("loadMultusConf: globalNamespaces replaces the implicit default", () => {
  const conf = loadMultusConf({ delegates: [bridge], globalNamespaces: "shared" });
  assert.deepEqual(conf.globalNamespaces, ["shared"]);
});

test("loadMultusConf: an unknown logLevel keeps panic and is reported", () => {
  const conf = loadMultusConf({ delegates: [bridge], logLevel: "chatty" });
  assert.equal(conf.logLevel, "panic");
  assert.equal(conf.unknownLogLevel, "chatty");
});

test("loadMultusConf: neither delegates nor clusterNetwork is Multus' error", () => {
  assert.throws(
    () => loadMultusConf({ cniVersion: "1.0.0", name: "m", type: "multus" }),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.code === 7 &&
      e.message === "LoadNetConf: at least one delegate/clusterNetwork must be specified",
  );
  assert.throws(() => loadMultusConf({ delegates: [] }), /at least one delegate\/clusterNetwork/);
});

test("loadMultusConf: a static delegate without type or plugins names its index", () => {
  assert.throws(
    () => loadMultusConf({ delegates: [bridge, { name: "x" }] }),
    (e: unknown) =>
      e instanceof MultusInputError &&
      e.message ===
        "LoadNetConf: failed to load delegate 1 config: LoadDelegateNetConf: failed with: LoadDelegateNetConfList: delegate must have the 'type' or 'plugin' field",
  );
});

test("loadMultusConf: a key of the wrong type says which and what it should be", () => {
  assert.throws(
    () => loadMultusConf({ delegates: [bridge], namespaceIsolation: "yes" }),
    (e: unknown) =>
      e instanceof ConfigError &&
      /^failed to load netconf: invalid namespaceIsolation: expected a boolean/.test(e.message),
  );
});

test("loadMultusConf: auxiliaryCNIChainName and logOptions are refused, naming the key and the fix", () => {
  for (const [key, value] of [
    ["auxiliaryCNIChainName", "aux"],
    ["logOptions", { maxAge: 5 }],
  ] as const) {
    assert.throws(
      () => loadMultusConf({ delegates: [bridge], [key]: value }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.code === 7 &&
        e.message.startsWith(`failed to load netconf: ${key} is not supported: `) &&
        e.message.includes("remove the key"),
    );
  }
  // An empty chain name is Multus' "no chain": accepted.
  assert.equal(loadMultusConf({ delegates: [bridge], auxiliaryCNIChainName: "" }).delegates.length, 1);
});
