// bin/multus (the executable under the meta-plugin's name) against the API double (pods and
// NetworkAttachmentDefinitions created there) and the Debian plugins in /usr/lib/cni, in real
// network namespaces.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { createPod } from "../controller/support.ts";
import { type ApiDouble, startApiDouble } from "../k8s-api/harness.ts";
import { addresses, ip, links, MULTUS, runMultus } from "../support/multus.ts";
import { ROOT, type TempDir, tempDir } from "../support/plugin.ts";

const CNI_PATH = "/usr/lib/cni";
const PARENT = "mlt-parent0";

function multus(command: string, config: object, env: Record<string, string>, executable = MULTUS) {
  return runMultus(command, config, { CNI_IFNAME: "eth0", CNI_PATH, ...env }, executable);
}

describe("multus thin mode: pods, NADs and delegates in network namespaces", () => {
  let api: ApiDouble;
  let dir: TempDir;
  let ns: string;
  let serial = 0;

  const bridgeMaster = (cniDir: string) => ({
    cniVersion: "1.0.0",
    name: "multus-cni-network",
    type: "multus",
    kubeconfig: api.kubeconfigPath("default"),
    cniDir,
    binDir: "/nonexistent",
    confDir: join(dir.path, "net.d"),
    delegates: [
      {
        cniVersion: "1.0.0",
        name: "cbr0",
        type: "bridge",
        bridge: "mltbr0",
        isGateway: true,
        ipam: { type: "host-local", ranges: [[{ subnet: "10.244.9.0/24" }]], dataDir: join(dir.path, "hl") },
      },
    ],
  });

  const nad = async (name: string, config: object, namespace = "default") => {
    const res = await api.request(
      "POST",
      `/apis/k8s.cni.cncf.io/v1/namespaces/${namespace}/network-attachment-definitions`,
      {
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: { name },
        spec: { config: JSON.stringify(config) },
      },
    );
    assert.equal(res.status, 201, res.body);
  };

  const getPod = async (name: string) =>
    JSON.parse((await api.request("GET", `/api/v1/namespaces/default/pods/${name}`)).body) as {
      metadata: { uid: string; annotations?: Record<string, string> };
    };

  before(async () => {
    api = await startApiDouble();
    dir = tempDir("thereabouts-multus-");
    // The kernel here has no dummy driver: a veth pair's end is the macvlan parent.
    ip("link", "add", PARENT, "type", "veth", "peer", "name", `${PARENT}p`);
    ip("link", "set", PARENT, "up");
    await nad("macvlan-conf", {
      cniVersion: "0.3.1",
      type: "macvlan",
      master: PARENT,
      mode: "bridge",
      ipam: { type: "host-local", ranges: [[{ subnet: "192.168.77.0/24" }]], dataDir: join(dir.path, "hl") },
    });
    await nad("static-conf", {
      cniVersion: "1.0.0",
      type: "macvlan",
      master: PARENT,
      ipam: { type: "static", addresses: [{ address: "192.168.78.5/24" }] },
    });
    await nad("broken-conf", { cniVersion: "1.0.0", type: "no-such-plugin" });
  });

  after(async () => {
    for (const link of [PARENT, "mltbr0", "mltbr1"]) {
      try {
        ip("link", "del", link);
      } catch {
        // not created
      }
    }
    await api.stop();
    dir.remove();
  });

  beforeEach(() => {
    ns = `mlt-${process.pid}-${++serial}`;
    ip("netns", "add", ns);
  });
  afterEach(() => ip("netns", "del", ns));

  const call = async (
    command: string,
    pod: string,
    uid: string,
    config: object,
    cid = `ctr-${ns}`,
    extra: Record<string, string> = {},
    podNs = "default",
  ) =>
    multus(command, config, {
      CNI_CONTAINERID: cid,
      CNI_NETNS: `/var/run/netns/${ns}`,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${podNs};K8S_POD_NAME=${pod};K8S_POD_INFRA_CONTAINER_ID=${cid};K8S_POD_UID=${uid}`,
      ...extra,
    });

  it("macvlan-conf,macvlan-conf gives net1 and net2; network-status lists the addresses in the namespace; DEL removes them and clears it", async () => {
    const uid = await createPod(api, "default", "twice", {
      annotations: { "k8s.v1.cni.cncf.io/networks": "macvlan-conf,macvlan-conf" },
    });
    const cniDir = join(dir.path, "cni-twice");
    const config = bridgeMaster(cniDir);
    const added = await call("ADD", "twice", uid, config);
    assert.equal(added.code, 0, added.stdout + added.stderr);
    assert.deepEqual(links(ns), ["eth0", "lo", "net1", "net2"]);
    const result = JSON.parse(added.stdout) as { cniVersion: string; ips: { address: string }[] };
    assert.equal(result.cniVersion, "1.0.0");
    assert.deepEqual(
      result.ips.map((i) => i.address.split("/")[0]),
      addresses(ns, "eth0"),
    );
    const status = JSON.parse(
      (await getPod("twice")).metadata.annotations!["k8s.v1.cni.cncf.io/network-status"]!,
    ) as {
      name: string;
      interface: string;
      ips: string[];
      default?: boolean;
    }[];
    assert.deepEqual(
      status.map((s) => [s.name, s.interface, s.ips, s.default ?? false]),
      [
        ["cbr0", "eth0", addresses(ns, "eth0"), true],
        ["default/macvlan-conf", "net1", addresses(ns, "net1"), false],
        ["default/macvlan-conf", "net2", addresses(ns, "net2"), false],
      ],
    );
    assert.ok(existsSync(join(cniDir, `ctr-${ns}`)), "the scratch cache is written");
    const deleted = await call("DEL", "twice", uid, config);
    assert.equal(deleted.code, 0, deleted.stdout + deleted.stderr);
    assert.deepEqual(links(ns), ["lo"]);
    assert.equal(
      (await getPod("twice")).metadata.annotations?.["k8s.v1.cni.cncf.io/network-status"],
      undefined,
    );
    assert.deepEqual(
      readdirSync(cniDir).filter((f) => f !== "results"),
      [],
    );
  });

  it("static IPAM through a NAD, JSON form with an interface name, converted to the requested version", async () => {
    const uid = await createPod(api, "default", "static", {
      annotations: { "k8s.v1.cni.cncf.io/networks": '[{"name":"static-conf","interface":"data0"}]' },
    });
    const config = { ...bridgeMaster(join(dir.path, "cni-static")), cniVersion: "0.3.1" };
    const added = await call("ADD", "static", uid, config);
    assert.equal(added.code, 0, added.stdout + added.stderr);
    assert.deepEqual(addresses(ns, "data0"), ["192.168.78.5"]);
    const result = JSON.parse(added.stdout) as { cniVersion: string; ips: { version: string }[] };
    assert.equal(result.cniVersion, "0.3.1");
    assert.equal(result.ips[0]!.version, "4");
    assert.equal((await call("DEL", "static", uid, config)).code, 0);
    assert.deepEqual(links(ns), ["lo"]);
  });

  it("a missing NAD gives Multus' error text and leaves nothing", async () => {
    const uid = await createPod(api, "default", "missing", {
      annotations: { "k8s.v1.cni.cncf.io/networks": "nope" },
    });
    const added = await call("ADD", "missing", uid, bridgeMaster(join(dir.path, "cni-missing")));
    assert.equal(added.code, 1);
    const error = JSON.parse(added.stdout) as { code: number; msg: string };
    assert.equal(error.code, 7);
    assert.equal(
      error.msg,
      `Multus: [default/missing/${uid}]: error loading k8s delegates k8s args: TryLoadPodDelegates: error in getting k8s network for pod: GetNetworkDelegates: failed getting the delegate: getKubernetesDelegate: cannot find a network-attachment-definition (nope) in namespace (default): network-attachment-definitions.k8s.cni.cncf.io "nope" not found`,
    );
    assert.deepEqual(links(ns), ["lo"]);
  });

  it("a bad annotation and an isolation violation give Multus' texts", async () => {
    const uid = await createPod(api, "default", "bad", {
      annotations: { "k8s.v1.cni.cncf.io/networks": "a/b/c" },
    });
    const bad = JSON.parse(
      (await call("ADD", "bad", uid, bridgeMaster(join(dir.path, "cni-bad")))).stdout,
    ) as { msg: string };
    assert.equal(
      bad.msg,
      `Multus: [default/bad/${uid}]: error loading k8s delegates k8s args: parsePodNetworkAnnotation: parsePodNetworkObjectName: Invalid network object (failed at '/')`,
    );
    const uid2 = await createPod(api, "default", "isolated", {
      annotations: { "k8s.v1.cni.cncf.io/networks": "other/macvlan-conf" },
    });
    const isolated = await call("ADD", "isolated", uid2, {
      ...bridgeMaster(join(dir.path, "cni-iso")),
      namespaceIsolation: true,
    });
    assert.equal(
      (JSON.parse(isolated.stdout) as { msg: string }).msg,
      `Multus: [default/isolated/${uid2}]: error loading k8s delegates k8s args: TryLoadPodDelegates: error in getting k8s network for pod: GetNetworkDelegates: namespace isolation enabled, annotation violates permission, pod is in namespace default but refers to target namespace other`,
    );
    assert.deepEqual(links(ns), ["lo"]);
  });

  it("a delegate failing on the second network rolls back the ones already added", async () => {
    const uid = await createPod(api, "default", "rollback", {
      annotations: { "k8s.v1.cni.cncf.io/networks": "macvlan-conf,broken-conf" },
    });
    const added = await call("ADD", "rollback", uid, bridgeMaster(join(dir.path, "cni-rollback")));
    assert.equal(added.code, 1);
    assert.match(
      (JSON.parse(added.stdout) as { msg: string }).msg,
      new RegExp(
        `^\\[default/rollback/${uid}:broken-conf\\]: error adding container to network "broken-conf": .*no-such-plugin`,
      ),
    );
    assert.deepEqual(links(ns), ["lo"]);
  });

  it("logFile, logLevel, logToStderr: levels filter, the file is appended to, stderr only when asked", async () => {
    const uid = await createPod(api, "default", "logged", {
      annotations: { "k8s.v1.cni.cncf.io/networks": "macvlan-conf" },
    });
    const logFile = join(dir.path, "multus.log");
    const config = {
      ...bridgeMaster(join(dir.path, "cni-logged")),
      logFile,
      logLevel: "debug",
      logToStderr: false,
    };
    const added = await call("ADD", "logged", uid, config);
    assert.equal(added.code, 0, added.stdout + added.stderr);
    assert.equal(added.stderr, "");
    const net1 = addresses(ns, "net1")[0]!;
    const afterAdd = readFileSync(logFile, "utf8")
      .split("\n")
      .filter((l) => l !== "");
    assert.match(afterAdd[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[debug\] CmdAdd: containerID ctr-/);
    assert.ok(
      afterAdd.some((l) => l.endsWith(`[verbose] Add net1 [${net1}/24] from default/macvlan-conf`)),
      afterAdd.join("\n"),
    );
    const deleted = await call("DEL", "logged", uid, { ...config, logLevel: "verbose" });
    assert.equal(deleted.code, 0, deleted.stdout + deleted.stderr);
    const afterDel = readFileSync(logFile, "utf8")
      .split("\n")
      .filter((l) => l !== "");
    assert.deepEqual(afterDel.slice(0, afterAdd.length), afterAdd, "appended, not rewritten");
    assert.deepEqual(
      afterDel.slice(afterAdd.length).map((l) => l.replace(/^\S+ /, "")),
      [`[verbose] CmdDel: deleting eth0 of cbr0, net1 of default/macvlan-conf`],
      "verbose: no debug line",
    );
    // error level, stderr on: the failure is logged to both; the default level (panic) logs nothing.
    const uid2 = await createPod(api, "default", "logged-missing", {
      annotations: { "k8s.v1.cni.cncf.io/networks": "nope" },
    });
    const failed = await call("ADD", "logged-missing", uid2, {
      ...config,
      logLevel: "error",
      logToStderr: true,
    });
    assert.equal(failed.code, 1);
    const errorLine = failed.stderr.split("\n").find((l) => l.includes("[error] CmdAdd: "));
    assert.ok(errorLine?.includes("cannot find a network-attachment-definition (nope)"), failed.stderr);
    assert.ok(readFileSync(logFile, "utf8").endsWith(`${errorLine}\n`));
    const quiet = join(dir.path, "quiet.log");
    const again = await call("ADD", "logged-missing", uid2, { ...config, logFile: quiet, logLevel: "panic" });
    assert.equal(again.code, 1);
    assert.equal(existsSync(quiet), false);
    const unknown = await call("ADD", "logged-missing", uid2, { ...config, logLevel: "chatty" });
    assert.match(unknown.stderr, /^multus logging: cannot set logging level to chatty\n/);
  });

  it("auxiliaryCNIChainName, logOptions and a NAD asking for a device are refused with code 7, naming the key", async () => {
    const uid = await createPod(api, "default", "refused", {
      annotations: { "k8s.v1.cni.cncf.io/networks": "sriov-conf" },
    });
    const base = bridgeMaster(join(dir.path, "cni-refused"));
    for (const [key, value] of [
      ["auxiliaryCNIChainName", "aux"],
      ["logOptions", { maxAge: 5, compress: true }],
    ] as const) {
      const out = await call("ADD", "refused", uid, { ...base, [key]: value });
      assert.equal(out.code, 1);
      const error = JSON.parse(out.stdout) as { code: number; msg: string };
      assert.equal(error.code, 7);
      assert.match(
        error.msg,
        new RegExp(
          `^Multus: error loading netconf: failed to load netconf: ${key} is not supported: .*remove the key`,
        ),
      );
    }
    const res = await api.request(
      "POST",
      "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions",
      {
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: {
          name: "sriov-conf",
          annotations: { "k8s.v1.cni.cncf.io/resourceName": "intel.com/sriov" },
        },
        spec: { config: JSON.stringify({ cniVersion: "1.0.0", type: "macvlan", master: PARENT }) },
      },
    );
    assert.equal(res.status, 201, res.body);
    const out = await call("ADD", "refused", uid, base);
    const error = JSON.parse(out.stdout) as { code: number; msg: string };
    assert.equal(error.code, 7);
    assert.match(
      error.msg,
      /NAD sriov-conf has the k8s\.v1\.cni\.cncf\.io\/resourceName annotation: device plugin and DRA devices are not supported/,
    );
    assert.deepEqual(links(ns), ["lo"]);
  });

  it("default-route moves the pod's default route to that attachment's gateway, in the namespace and the result cache", async () => {
    await nad("gw-conf", {
      cniVersion: "1.0.0",
      type: "macvlan",
      master: PARENT,
      ipam: { type: "static", addresses: [{ address: "192.168.80.5/24" }] },
    });
    const cniDir = join(dir.path, "cni-gw");
    const withRoute = bridgeMaster(cniDir);
    const config = {
      ...withRoute,
      delegates: [
        {
          ...withRoute.delegates[0]!,
          ipam: { ...withRoute.delegates[0]!.ipam, routes: [{ dst: "0.0.0.0/0" }] },
        },
      ],
    };
    const defaults = () =>
      (JSON.parse(ip("-n", ns, "-j", "route", "show", "default")) as { gateway: string; dev: string }[]).map(
        (r) => `${r.gateway} ${r.dev}`,
      );
    const cachedRoutes = (file: string) =>
      (
        JSON.parse(readFileSync(join(cniDir, "results", file), "utf8")) as {
          result: { routes?: { dst: string; gw?: string }[] };
        }
      ).result.routes ?? [];
    // Without a default-route request the master's default route stays.
    const plainUid = await createPod(api, "default", "gw-plain", {
      annotations: { "k8s.v1.cni.cncf.io/networks": "gw-conf" },
    });
    assert.equal((await call("ADD", "gw-plain", plainUid, config)).code, 0);
    assert.deepEqual(defaults(), ["10.244.9.1 eth0"]);
    assert.equal((await call("DEL", "gw-plain", plainUid, config)).code, 0);

    const uid = await createPod(api, "default", "gw", {
      annotations: {
        "k8s.v1.cni.cncf.io/networks": '[{"name":"gw-conf","default-route":["192.168.80.1"]}]',
      },
    });
    const added = await call("ADD", "gw", uid, config);
    assert.equal(added.code, 0, added.stdout + added.stderr);
    assert.deepEqual(defaults(), ["192.168.80.1 net1"]);
    const cid = `ctr-${ns}`;
    assert.deepEqual(
      cachedRoutes(`cbr0-${cid}-eth0`).filter((r) => r.dst === "0.0.0.0/0"),
      [],
    );
    assert.deepEqual(cachedRoutes(`gw-conf-${cid}-net1`), [{ dst: "0.0.0.0/0", gw: "192.168.80.1" }]);
    // The runtime's result is the master's as its delegate printed it (Multus does not change it).
    const result = JSON.parse(added.stdout) as { routes: { dst: string }[] };
    assert.ok(result.routes.some((r) => r.dst === "0.0.0.0/0"));
    assert.equal((await call("DEL", "gw", uid, config)).code, 0);
    assert.deepEqual(links(ns), ["lo"]);

    // An empty list removes the default routes of every attachment.
    const noneUid = await createPod(api, "default", "gw-none", {
      annotations: { "k8s.v1.cni.cncf.io/networks": '[{"name":"gw-conf","default-route":[]}]' },
    });
    assert.equal((await call("ADD", "gw-none", noneUid, config)).code, 0);
    assert.deepEqual(defaults(), []);
    assert.equal((await call("DEL", "gw-none", noneUid, config)).code, 0);
  });

  it("an interface name already in the pod fails that delegate with Multus' text; the ones before are rolled back, the existing interface kept", async () => {
    ip("-n", ns, "link", "add", "taken0", "type", "veth", "peer", "name", "taken0p");
    const uid = await createPod(api, "default", "taken", {
      annotations: { "k8s.v1.cni.cncf.io/networks": '[{"name":"macvlan-conf","interface":"taken0"}]' },
    });
    const added = await call("ADD", "taken", uid, bridgeMaster(join(dir.path, "cni-taken")));
    assert.equal(added.code, 1);
    const error = JSON.parse(added.stdout) as { code: number; msg: string };
    assert.equal(error.code, 7);
    assert.equal(
      error.msg,
      `[default/taken/${uid}:macvlan-conf]: error adding container to network "macvlan-conf": DelegateAdd: cannot set "macvlan" interface name to "taken0": validateIfName: interface name taken0 already exists`,
    );
    assert.deepEqual(links(ns), ["lo", "taken0", "taken0p"]);
  });

  it("STATUS and GC go to the primary plugin only from CNI 1.1.0; GC keeps the attachments of the result cache", async () => {
    const store = join(dir.path, "gc-store.db");
    const cniDir = join(dir.path, "cni-gc");
    const primary = (path: string, cniVersion = "1.1.0") => ({
      cniVersion,
      name: "pool-net",
      type: "whereabouts",
      ipam: { type: "whereabouts", range: "10.98.0.0/24", datastore: "local", local: { path } },
    });
    const config = (path: string, cniVersion?: string) => ({
      cniVersion: "1.1.0",
      name: "multus-cni-network",
      type: "multus",
      cniDir,
      binDir: join(ROOT, "bin"),
      delegates: [primary(path, cniVersion)],
    });
    const direct = async (cid: string) => {
      const out = await multus(
        "ADD",
        primary(store),
        {
          CNI_CONTAINERID: cid,
          CNI_NETNS: `/var/run/netns/${ns}`,
          CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${cid}`,
          CNI_PATH: join(ROOT, "bin"),
        },
        join(ROOT, "bin", "thereabouts"),
      );
      assert.equal(out.code, 0, out.stdout + out.stderr);
      return (JSON.parse(out.stdout) as { ips: { address: string }[] }).ips[0]!.address;
    };
    const kept = await call("ADD", "gc-pod", "", config(store));
    assert.equal(kept.code, 0, kept.stdout + kept.stderr);
    assert.equal((JSON.parse(kept.stdout) as { ips: { address: string }[] }).ips[0]!.address, "10.98.0.1/24");
    assert.equal(await direct("gone"), "10.98.0.2/24");
    const gc = await multus("GC", { ...config(store), "cni.dev/valid-attachments": [] }, {});
    assert.equal(gc.code, 0, gc.stdout + gc.stderr);
    // "gone" is in no cache record: released; the multus-added attachment is kept.
    assert.equal(await direct("new"), "10.98.0.2/24");
    assert.equal(await direct("newer"), "10.98.0.3/24");

    assert.equal((await multus("STATUS", config(store), {})).code, 0);
    const unreachable = join(dir.path, "not-a-dir", "x", "store.db");
    writeFileSync(join(dir.path, "not-a-dir"), "a file where the store's directory should be\n");
    const down = await multus("STATUS", config(unreachable), {});
    assert.equal(down.code, 1);
    assert.equal((JSON.parse(down.stdout) as { code: number }).code, 50, down.stdout);
    // A primary below 1.1.0 has no STATUS: not asked.
    assert.equal((await multus("STATUS", config(unreachable, "1.0.0"), {})).code, 0);
  });

  it("a NAD with whereabouts IPAM (bin/thereabouts, local store): net1 gets the pool's address, DEL frees it", async () => {
    const store = join(dir.path, "pool-store.db");
    const conf = {
      cniVersion: "1.0.0",
      name: "pool-conf",
      type: "macvlan",
      master: PARENT,
      ipam: { type: "whereabouts", range: "192.168.81.0/24", datastore: "local", local: { path: store } },
    };
    await nad("pool-conf", conf);
    const confFile = join(dir.path, "pool-conf.conf");
    writeFileSync(confFile, JSON.stringify(conf));
    const used = () =>
      (
        JSON.parse(
          execFileSync(join(ROOT, "bin", "thereabouts"), ["show", "--config", confFile, "-o", "json"], {
            encoding: "utf8",
          }),
        ) as { pools: { range: string; used: number }[] }
      ).pools.map((p) => `${p.range} ${p.used}`);
    const uid = await createPod(api, "default", "pooled", {
      annotations: { "k8s.v1.cni.cncf.io/networks": "pool-conf" },
    });
    // binDir holds whereabouts; macvlan and the master's plugins come from CNI_PATH.
    const config = { ...bridgeMaster(join(dir.path, "cni-pool")), binDir: join(ROOT, "bin") };
    const added = await call("ADD", "pooled", uid, config);
    assert.equal(added.code, 0, added.stdout + added.stderr);
    assert.deepEqual(addresses(ns, "net1"), ["192.168.81.1"]);
    assert.deepEqual(used(), ["192.168.81.0/24 1"]);
    const status = JSON.parse(
      (await getPod("pooled")).metadata.annotations!["k8s.v1.cni.cncf.io/network-status"]!,
    ) as { name: string; interface: string; ips?: string[] }[];
    assert.deepEqual(status[1], {
      ...status[1],
      name: "default/pool-conf",
      interface: "net1",
      ips: ["192.168.81.1"],
    });
    const deleted = await call("DEL", "pooled", uid, config);
    assert.equal(deleted.code, 0, deleted.stdout + deleted.stderr);
    assert.deepEqual(links(ns), ["lo"]);
    assert.deepEqual(used(), ["192.168.81.0/24 0"]);
  });

  const clusterConfig = (cniDir: string, clusterNetwork: string, extra: object = {}) => {
    const { delegates: _static, ...rest } = bridgeMaster(cniDir);
    return { ...rest, clusterNetwork, ...extra };
  };
  const statusOf = async (pod: string, namespace = "default") =>
    (
      JSON.parse(
        (
          JSON.parse((await api.request("GET", `/api/v1/namespaces/${namespace}/pods/${pod}`)).body) as {
            metadata: { annotations: Record<string, string> };
          }
        ).metadata.annotations["k8s.v1.cni.cncf.io/network-status"]!,
      ) as { name: string; interface: string; ips?: string[]; default?: boolean }[]
    ).map((e) => `${e.name} ${e.interface} ${(e.ips ?? []).join(",")}${e.default ? " default" : ""}`);

  it("clusterNetwork as a NAD name in multusNamespace, as a configuration name in confDir and as a path", async () => {
    const primary = {
      cniVersion: "1.0.0",
      type: "bridge",
      // Its own bridge: the bridge plugin cannot move a bridge's gateway to another subnet.
      bridge: "mltbr1",
      ipam: { type: "host-local", ranges: [[{ subnet: "10.244.10.0/24" }]], dataDir: join(dir.path, "hl") },
    };
    await nad("cluster-net", primary, "kube-system");
    const netd = join(dir.path, "net.d");
    mkdirSync(netd, { recursive: true });
    writeFileSync(join(netd, "10-file-net.conf"), JSON.stringify({ ...primary, name: "file-net" }));
    const cases: [string, string][] = [
      ["cluster-net", "kube-system/cluster-net"],
      ["file-net", "file-net"],
      [join(netd, "10-file-net.conf"), "file-net"],
    ];
    for (const [i, [clusterNetwork, shown]] of cases.entries()) {
      const pod = `cluster-${i}`;
      const uid = await createPod(api, "default", pod);
      const config = clusterConfig(join(dir.path, `cni-cluster-${i}`), clusterNetwork);
      const added = await call("ADD", pod, uid, config);
      assert.equal(added.code, 0, added.stdout + added.stderr);
      const eth0 = addresses(ns, "eth0");
      assert.match(eth0[0]!, /^10\.244\.10\./);
      assert.deepEqual(await statusOf(pod), [`${shown} eth0 ${eth0[0]} default`]);
      assert.equal((await call("DEL", pod, uid, config)).code, 0);
      assert.deepEqual(links(ns), ["lo"]);
    }
  });

  it("defaultNetworks are added after clusterNetwork, except for pods in systemNamespaces", async () => {
    await nad(
      "extra-net",
      {
        cniVersion: "1.0.0",
        type: "macvlan",
        master: PARENT,
        ipam: { type: "static", addresses: [{ address: "192.168.82.5/24" }] },
      },
      "kube-system",
    );
    const config = clusterConfig(join(dir.path, "cni-defnets"), "cluster-net", {
      defaultNetworks: ["extra-net"],
    });
    const uid = await createPod(api, "default", "with-defaults");
    assert.equal((await call("ADD", "with-defaults", uid, config)).code, 0);
    assert.deepEqual(links(ns), ["eth0", "lo", "net1"]);
    assert.deepEqual(addresses(ns, "net1"), ["192.168.82.5"]);
    assert.equal((await call("DEL", "with-defaults", uid, config)).code, 0);
    const sysUid = await createPod(api, "kube-system", "system-pod");
    const sys = await call("ADD", "system-pod", sysUid, config, `ctr-sys-${ns}`, {}, "kube-system");
    assert.equal(sys.code, 0, sys.stdout + sys.stderr);
    assert.deepEqual(links(ns), ["eth0", "lo"]);
    assert.equal(
      (await call("DEL", "system-pod", sysUid, config, `ctr-sys-${ns}`, {}, "kube-system")).code,
      0,
    );
    assert.deepEqual(links(ns), ["lo"]);
  });

  it("v1.multus-cni.io/default-network replaces the master with the NAD it names", async () => {
    const uid = await createPod(api, "default", "own-default", {
      annotations: { "v1.multus-cni.io/default-network": "default/static-conf" },
    });
    const config = bridgeMaster(join(dir.path, "cni-own-default"));
    const added = await call("ADD", "own-default", uid, config);
    assert.equal(added.code, 0, added.stdout + added.stderr);
    assert.deepEqual(addresses(ns, "eth0"), ["192.168.78.5"]);
    assert.deepEqual(await statusOf("own-default"), ["default/static-conf eth0 192.168.78.5 default"]);
    assert.equal(
      (JSON.parse(added.stdout) as { ips: { address: string }[] }).ips[0]!.address,
      "192.168.78.5/24",
    );
    assert.equal((await call("DEL", "own-default", uid, config)).code, 0);
    assert.deepEqual(links(ns), ["lo"]);
  });

  it("readinessindicatorfile: ADD waits for it; absent for 45 s, ADD fails with Multus' text and runs nothing; DEL never waits", async () => {
    const uid = await createPod(api, "default", "ready");
    const file = join(dir.path, "ready-indicator");
    const absent = join(dir.path, "never-there");
    const config = { ...bridgeMaster(join(dir.path, "cni-ready")), readinessindicatorfile: file };
    const started = Date.now();
    const failing = call(
      "ADD",
      "ready",
      uid,
      { ...config, readinessindicatorfile: absent },
      `ctr-never-${ns}`,
    );
    const waiting = call("ADD", "ready", uid, config);
    await new Promise((r) => setTimeout(r, 2_000));
    assert.deepEqual(links(ns), ["lo"], "nothing runs before the file exists");
    writeFileSync(file, "");
    const added = await waiting;
    assert.equal(added.code, 0, added.stdout + added.stderr);
    assert.ok(Date.now() - started >= 2_000);
    assert.deepEqual(links(ns), ["eth0", "lo"]);
    const failed = await failing;
    assert.ok(Date.now() - started >= 45_000);
    assert.equal(failed.code, 1);
    const error = JSON.parse(failed.stdout) as { code: number; msg: string };
    assert.equal(error.code, 11);
    assert.equal(
      error.msg,
      `Multus: [default/ready/${uid}]: have you checked that your default network is ready? still waiting for readinessindicatorfile @ ${absent}. pollimmediate error: timed out waiting for the condition`,
    );
    assert.equal(existsSync(join(dir.path, "cni-ready", `ctr-never-${ns}`)), false);
    // DEL does not wait for the file: it logs that it is missing and deletes.
    const logFile = join(dir.path, "ready.log");
    const delStarted = Date.now();
    const deleted = await call("DEL", "ready", uid, {
      ...config,
      readinessindicatorfile: absent,
      logLevel: "verbose",
      logFile,
      logToStderr: false,
    });
    assert.equal(deleted.code, 0, deleted.stdout + deleted.stderr);
    assert.ok(Date.now() - delStarted < 5_000);
    assert.deepEqual(links(ns), ["lo"]);
    assert.match(
      readFileSync(logFile, "utf8"),
      new RegExp(`\\[verbose\\] CmdDel: readinessindicatorfile ${absent} is missing; deleting anyway\n`),
    );
  });

  it("retryDeleteOnError keeps the delegate cache after a failed DEL (a later DEL finishes the job); without it the cache goes", async () => {
    for (const retry of [true, false]) {
      const pod = `retry-${retry}`;
      const uid = await createPod(api, "default", pod, {
        annotations: { "k8s.v1.cni.cncf.io/networks": "macvlan-conf" },
      });
      const cniDir = join(dir.path, `cni-${pod}`);
      const config = { ...bridgeMaster(cniDir), retryDeleteOnError: retry };
      const cid = `ctr-${pod}-${ns}`;
      const added = await call("ADD", pod, uid, config, cid);
      assert.equal(added.code, 0, added.stdout + added.stderr);
      const emptyPath = join(dir.path, "no-plugins");
      mkdirSync(emptyPath, { recursive: true });
      const failed = await call("DEL", pod, uid, config, cid, { CNI_PATH: emptyPath });
      assert.equal(failed.code, 1);
      assert.match(failed.stdout, /failed to find plugin/);
      assert.equal(existsSync(join(cniDir, cid)), retry);
      if (retry) {
        assert.equal((await call("DEL", pod, uid, config, cid)).code, 0);
        assert.deepEqual(links(ns), ["lo"]);
        assert.equal(existsSync(join(cniDir, cid)), false);
      }
    }
  });

  it("a pod deleted before ADD gets Multus' placeholder result and no interface; a pod of another UID fails ADD", async () => {
    const gone = await call(
      "ADD",
      "never-created",
      "5f1c0000-0000-0000-0000-000000000000",
      bridgeMaster(join(dir.path, "cni-gone")),
    );
    assert.equal(gone.code, 0, gone.stdout + gone.stderr);
    assert.deepEqual(JSON.parse(gone.stdout), {
      cniVersion: "1.0.0",
      interfaces: [{ name: "eth0", sandbox: `/var/run/netns/${ns}` }],
      ips: [{ interface: 0, address: "0.0.0.0/0", gateway: "0.0.0.0" }],
      dns: {},
    });
    assert.deepEqual(links(ns), ["lo"]);
    const uid = await createPod(api, "default", "reborn");
    const stale = "0badc0de-0000-0000-0000-000000000000";
    const mismatch = await call("ADD", "reborn", stale, bridgeMaster(join(dir.path, "cni-reborn")));
    assert.equal(mismatch.code, 1);
    const error = JSON.parse(mismatch.stdout) as { code: number; msg: string };
    assert.equal(error.code, 11);
    assert.equal(
      error.msg,
      `Multus: [default/reborn/${stale}]: expected pod UID "${stale}" but got "${uid}" from Kube API`,
    );
    assert.deepEqual(links(ns), ["lo"]);
  });

  it("DEL with the API double stopped removes every interface from the cache", async () => {
    const own = await startApiDouble();
    try {
      const podRes = await own.request("POST", "/api/v1/namespaces/default/pods", {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "offline", annotations: { "k8s.v1.cni.cncf.io/networks": "macvlan-conf" } },
        spec: { nodeName: "node-1", containers: [{ name: "c", image: "busybox:1.36" }] },
      });
      const uid = (JSON.parse(podRes.body) as { metadata: { uid: string } }).metadata.uid;
      await own.request(
        "POST",
        "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions",
        {
          apiVersion: "k8s.cni.cncf.io/v1",
          kind: "NetworkAttachmentDefinition",
          metadata: { name: "macvlan-conf" },
          spec: {
            config: JSON.stringify({
              cniVersion: "1.0.0",
              type: "macvlan",
              master: PARENT,
              ipam: { type: "static", addresses: [{ address: "192.168.79.5/24" }] },
            }),
          },
        },
      );
      const config = {
        ...bridgeMaster(join(dir.path, "cni-offline")),
        kubeconfig: own.kubeconfigPath("default"),
      };
      assert.equal((await call("ADD", "offline", uid, config)).code, 0);
      assert.deepEqual(links(ns), ["eth0", "lo", "net1"]);
      await own.stop();
      const deleted = await call("DEL", "offline", uid, config);
      assert.equal(deleted.code, 0, deleted.stdout + deleted.stderr);
      assert.deepEqual(links(ns), ["lo"]);
    } finally {
      await own.stop();
    }
  });

  it("DEL with no delegate cache and the pod's NAD deleted still deletes the master (as Multus: 'but continue to delete clusterNetwork')", async () => {
    await nad("gone-later", {
      cniVersion: "1.0.0",
      type: "macvlan",
      master: PARENT,
      ipam: { type: "static", addresses: [{ address: "192.168.78.9/24" }] },
    });
    const uid = await createPod(api, "default", "nad-gone", {
      annotations: { "k8s.v1.cni.cncf.io/networks": "gone-later" },
    });
    const cniDir = join(dir.path, "cni-nad-gone");
    const config = { ...bridgeMaster(cniDir), logLevel: "error", logToStderr: true };
    assert.equal((await call("ADD", "nad-gone", uid, config)).code, 0);
    assert.deepEqual(links(ns), ["eth0", "lo", "net1"]);
    rmSync(join(cniDir, `ctr-${ns}`));
    const removed = await api.request(
      "DELETE",
      "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/gone-later",
    );
    assert.equal(removed.status, 200, removed.body);
    const deleted = await call("DEL", "nad-gone", uid, config);
    assert.equal(deleted.code, 0, deleted.stdout + deleted.stderr);
    assert.match(
      deleted.stderr,
      /failed to get delegates: .*gone-later.*, but continue to delete clusterNetwork/,
    );
    // The master's DEL ran (bridge removed eth0); net1's NAD is gone, so nothing can delete it.
    assert.deepEqual(links(ns), ["lo", "net1"]);
  });
});
