// `thereabouts show` through the shipped executable on every datastore: the local store (sqlite),
// a real etcd, and the Kubernetes API double (pods with nodes and ages), and as `kubectl
// thereabouts` run by the real kubectl. Allocations are made by the real plugin (ADD processes),
// so what `show` reads is what the plugin wrote.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { load } from "js-yaml";
import { startupGraph } from "../../bench/startup-modules.ts";
import { buildOnce, createPod, deletePod } from "../controller/support.ts";
import { EtcdCluster } from "../etcd/etcd-cluster.ts";
import { type ApiDouble, startApiDouble } from "../k8s-api/harness.ts";
import { kubeIpam } from "../kubernetes/go-runtime.ts";
import { add, addressesOf, BINARY, netConf, ROOT, type TempDir, tempDir } from "../support/plugin.ts";

const NO_AGENT = { THEREABOUTS_AGENT_SOCKET: "" };

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The executable as a command-line tool (no CNI_COMMAND), stdout and stderr pipes (not a TTY). */
function thereabouts(args: readonly string[], env: Record<string, string> = {}): Outcome {
  const { CNI_COMMAND: _, NO_COLOR: __, ...rest } = process.env;
  const r = spawnSync(BINARY.file, args, { env: { ...rest, ...env }, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(args: readonly string[]): Record<string, unknown> {
  const r = thereabouts([...args, "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const parsed = JSON.parse(r.stdout) as Record<string, unknown>;
  const yaml = thereabouts([...args, "-o", "yaml"]);
  assert.equal(yaml.code, 0, yaml.stderr);
  assert.deepEqual(load(yaml.stdout), parsed, "yaml carries the same records as json");
  return parsed;
}

/** Width of a line as a terminal counts it (code points). */
const columns = (line: string) => [...line].length;

function assertFits(text: string, what: string): void {
  for (const line of text.split("\n"))
    assert.ok(columns(line) <= 80, `${what}: ${columns(line)} columns: ${line}`);
}

const ESCAPE = /\x1b/;

async function attach(config: string, pod: string, ifName = "net1"): Promise<string> {
  const [address] = addressesOf(
    await add({ config, pod, containerId: `ctr-${pod}-0123456789abcdef`, ifName, env: NO_AGENT }),
  );
  return address!.split("/")[0]!;
}

describe("operator tools and the plugin", () => {
  it("a plugin call loads none of them (src/tools and src/cli are imported by the command line only)", () => {
    for (const entry of ["src/main.ts", "src/cni/main.ts"]) {
      const { modules } = startupGraph(join(ROOT, entry));
      assert.ok(modules.includes(entry), `the graph of ${entry} was walked`);
      assert.deepEqual(
        modules.filter((m) => m.startsWith("src/tools/") || m.startsWith("src/cli/")),
        [],
        entry,
      );
    }
  });
});

describe("thereabouts show on the local store", () => {
  let dir: TempDir;
  let blue: string;
  let red: string;
  const LONG_NETWORK = "a-network-name-long-enough-to-overflow-any-eighty-column-terminal-xyz";
  const LONG_POD = "a-pod-whose-name-is-long-enough-to-push-the-table-past-eighty-columns";
  before(async () => {
    buildOnce();
    dir = tempDir("thereabouts-show-");
    const path = join(dir.path, "store.db");
    const conf = (range: string, networkName: string) =>
      netConf(
        { type: "thereabouts", range, network_name: networkName, datastore: "local", local: { path } },
        "1.0.0",
        networkName,
      );
    blue = join(dir.path, "blue.conf");
    red = join(dir.path, "red.conf");
    writeFileSync(blue, conf("198.18.30.0/28", "blue"));
    writeFileSync(red, conf("198.18.31.0/29", "red"));
    for (const pod of ["a", "b", "c"]) await attach(conf("198.18.30.0/28", "blue"), pod);
    await attach(conf("198.18.31.0/29", "red"), "b", "net2");
    await attach(conf("198.18.32.0/24", LONG_NETWORK), LONG_POD);
  });
  after(() => dir?.remove());

  it("show: every pool with range, size, used, free and a utilisation bar; json and yaml the same records", () => {
    const table = thereabouts(["show", "--config", blue]);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^POOL +RANGE +SIZE +USED +FREE +UTILISATION$/);
    assert.equal(lines.length, 4, "a header and three pools");
    assert.match(
      lines[1]!,
      /^a-network-name-long-enough\S*… +198\.18\.32\.0\/24 +254 +1 +253 +\[#---------\] +<1%$/,
    );
    assert.match(lines[2]!, /^blue-198\.18\.30\.0-28 +198\.18\.30\.0\/28 +14 +3 +11 +\[###-------\] +21%$/);
    assert.match(lines[3]!, /^red-198\.18\.31\.0-29 +198\.18\.31\.0\/29 +6 +1 +5 +\[##--------\] +16%$/);
    assert.equal(thereabouts(["show", "pools", "--config", blue]).stdout, table.stdout, "show = show pools");
    const records = json(["show", "--config", blue]);
    assert.equal(records["datastore"], "local");
    assert.deepEqual((records["pools"] as unknown[]).slice(1), [
      {
        name: "blue-198.18.30.0-28",
        range: "198.18.30.0/28",
        networkName: "blue",
        exists: true,
        size: "14",
        used: 3,
        free: "11",
        utilisation: 21.4,
      },
      {
        name: "red-198.18.31.0-29",
        range: "198.18.31.0/29",
        networkName: "red",
        exists: true,
        size: "6",
        used: 1,
        free: "5",
        utilisation: 16.6,
      },
    ]);
  });

  it("--network narrows to one network's pools (its network_name, or the --config network's name)", () => {
    const red_ = json(["show", "--config", blue, "--network", "red"]);
    assert.deepEqual(
      (red_["pools"] as { name: string }[]).map((p) => p.name),
      ["red-198.18.31.0-29"],
    );
    const none = thereabouts(["show", "--config", blue, "--network", "green"]);
    assert.equal(none.code, 0);
    assert.equal(none.stdout, "no pools\n");
    // The pool of blue.conf, by its network's name; the pod's red address is outside the network.
    const pod = json(["show", "pod", "default/b", "--config", blue, "--network", "blue"]);
    assert.deepEqual(
      (pod["addresses"] as { pool: string }[]).map((a) => a.pool),
      ["blue-198.18.30.0-28"],
    );
    const elsewhere = thereabouts([
      "show",
      "pool",
      "blue-198.18.30.0-28",
      "--config",
      blue,
      "--network",
      "red",
    ]);
    assert.equal(elsewhere.code, 1, "a pool of another network is not found");
  });

  it("show pool NAME: address → pod, container, interface (node and age unknown without a cluster)", () => {
    const r = thereabouts(["show", "pool", "blue-198.18.30.0-28", "--config", blue]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        "pool blue-198.18.30.0-28 (network blue)",
        "range 198.18.30.0/28: 3 used, 11 free of 14  [###-------]  21%",
        "ADDRESS      POD        CONTAINER     IFACE  NODE  AGE",
        "198.18.30.1  default/a  ctr-a-012345  net1   -     -",
        "198.18.30.2  default/b  ctr-b-012345  net1   -     -",
        "198.18.30.3  default/c  ctr-c-012345  net1   -     -",
        "",
      ].join("\n"),
    );
    const records = json(["show", "pool", "blue-198.18.30.0-28", "--config", blue]);
    const pool = records["pool"] as { entries: unknown[]; used: number; unreadableKeys: unknown[] };
    assert.equal(pool.used, 3);
    assert.deepEqual(pool.unreadableKeys, []);
    assert.deepEqual(pool.entries[1], {
      pool: "blue-198.18.30.0-28",
      address: "198.18.30.2",
      key: "2",
      podRef: "default/b",
      containerId: "ctr-b-0123456789abcdef",
      ifName: "net1",
      pod: null,
    });
    const missing = thereabouts(["show", "pool", "blue-10.0.0.0-8", "--config", blue]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no pool blue-10\.0\.0\.0-8 in this store/);
  });

  it("show pod NS/NAME: its addresses in every pool and its reservations; exit 1 when it holds none", () => {
    const r = thereabouts(["show", "pod", "default/b", "--config", blue]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^pod default\/b\nPOOL +ADDRESS +IFACE +CONTAINER\n/);
    assert.match(r.stdout, /\nblue-198\.18\.30\.0-28 +198\.18\.30\.2 +net1 +ctr-b-012345\n/);
    assert.match(r.stdout, /\nred-198\.18\.31\.0-29 +198\.18\.31\.1 +net2 +ctr-b-012345\n/);
    const records = json(["show", "pod", "default/b", "--config", blue]);
    assert.equal(records["podRef"], "default/b");
    assert.equal(records["pod"], null, "no cluster to ask");
    assert.deepEqual(records["addresses"], [
      {
        pool: "blue-198.18.30.0-28",
        address: "198.18.30.2",
        key: "2",
        containerId: "ctr-b-0123456789abcdef",
        ifName: "net1",
      },
      {
        pool: "red-198.18.31.0-29",
        address: "198.18.31.1",
        key: "1",
        containerId: "ctr-b-0123456789abcdef",
        ifName: "net2",
      },
    ]);
    assert.deepEqual(
      (records["reservations"] as { name: string }[]).map((x) => x.name),
      ["blue-198.18.30.2", "red-198.18.31.1"],
    );
    const nobody = thereabouts(["show", "pod", "default/nobody", "--config", blue]);
    assert.equal(nobody.code, 1);
    assert.equal(nobody.stdout, "pod default/nobody\nno addresses\n");
  });

  it("show ip ADDRESS: the entry and the reservation that hold it; exit 1 when free or in no range", () => {
    const r = thereabouts(["show", "ip", "198.18.30.3", "--config", blue]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^POOL +ADDRESS +POD +CONTAINER +IFACE +NODE +AGE\nblue-198\.18\.30\.0-28 +198\.18\.30\.3 +default\/c +ctr-c-012345 +net1 +- +-\n/,
    );
    assert.match(
      r.stdout,
      /\nRESERVATION +POD +CONTAINER +IFACE\nblue-198\.18\.30\.3 +default\/c +ctr-c-012345 +net1\n$/,
    );
    const records = json(["show", "ip", "198.18.30.3", "--config", blue]);
    assert.deepEqual(records["pools"], [{ name: "blue-198.18.30.0-28", range: "198.18.30.0/28" }]);
    assert.deepEqual(
      (records["holders"] as { podRef: string; key: string }[]).map((h) => [h.podRef, h.key]),
      [["default/c", "3"]],
    );
    assert.deepEqual(records["reservations"], [
      {
        name: "blue-198.18.30.3",
        podRef: "default/c",
        containerId: "ctr-c-0123456789abcdef",
        ifName: "net1",
        address: "198.18.30.3",
        networkName: "blue",
      },
    ]);
    const free = thereabouts(["show", "ip", "198.18.30.9", "--config", blue]);
    assert.equal(free.code, 1);
    assert.equal(free.stdout, "198.18.30.9 is free in blue-198.18.30.0-28\n");
    const outside = thereabouts(["show", "ip", "203.0.113.1", "--config", blue]);
    assert.equal(outside.code, 1);
    assert.equal(outside.stdout, "203.0.113.1 is in no pool's range\n");
  });

  it("tables fit 80 columns: long names are cut with an ellipsis, never wrapped", () => {
    const pool = `${LONG_NETWORK}-198.18.32.0-24`;
    for (const args of [
      ["show"],
      ["show", "pool", pool],
      ["show", "pod", `default/${LONG_POD}`],
      ["show", "ip", "198.18.32.1"],
    ]) {
      const r = thereabouts([...args, "--config", blue]);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      assertFits(r.stdout, args.join(" "));
      assert.match(r.stdout, /…/, `${args.join(" ")} cut something`);
    }
    const entries = thereabouts(["show", "pool", pool, "--config", blue]).stdout.split("\n");
    assert.match(entries[3]!, /^198\.18\.32\.1 +default\/a-pod-whose-name\S*… +ctr-a-pod-wh\S* +net1 +- +-$/);
  });

  it("no colour when stdout is not a terminal; on a pseudo-terminal colour, unless NO_COLOR is set", () => {
    for (const args of [["show"], ["show", "pool", "blue-198.18.30.0-28"], ["show", "ip", "198.18.30.1"]])
      assert.doesNotMatch(thereabouts([...args, "--config", blue]).stdout, ESCAPE, args.join(" "));
    // script(1) runs the command on a pseudo-terminal: stdout is a TTY there.
    const onTty = (env: Record<string, string>) => {
      const { NO_COLOR: _, ...rest } = process.env;
      const r = spawnSync("script", ["-qec", `${BINARY.file} show --config ${blue}`, "/dev/null"], {
        env: { ...rest, ...env },
        encoding: "utf8",
        input: "",
      });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    assert.match(onTty({}), /\x1b\[32m\[###-------\] {2}21%\x1b\[0m/, "the bar in green");
    assert.doesNotMatch(onTty({ NO_COLOR: "1" }), ESCAPE);
    assert.match(onTty({ NO_COLOR: "" }), ESCAPE, "an empty NO_COLOR does not count");
  });

  it("bad usage exits 2 with a one-line reason and where to find the usage", () => {
    const cases: [string[], RegExp][] = [
      [["show", "--config", blue, "--frobnicate"], /Unknown option '--frobnicate'/],
      [["show", "frob", "--config", blue], /unknown query "frob"/],
      [["show", "pool", "--config", blue], /pool needs a pool NAME/],
      [["show", "pod", "b", "--config", blue], /pod b: name the pod as NAMESPACE\/NAME/],
      [["show", "ip", "198.18.30.300", "--config", blue], /ip 198\.18\.30\.300: not an IPv4 or IPv6 address/],
      [["show", "--config", blue, "-o", "wide"], /-o "wide": the output format is one of table, json, yaml/],
      [["show"], /say which store: --config FILE .* or --kubeconfig PATH/],
      [
        ["show", "--config", blue, "--kubeconfig", "/x"],
        /either --config FILE or --kubeconfig PATH, not both/,
      ],
      [["show", "--config", blue, "--namespace", "x"], /--namespace applies to the Kubernetes datastore/],
    ];
    for (const [args, reason] of cases) {
      const r = thereabouts(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, reason);
      assert.match(r.stderr, /Run 'thereabouts show --help' for usage\.\n$/);
      assert.equal(r.stdout, "");
    }
    const help = thereabouts(["show", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: thereabouts show \[pools\]/);
    assert.match(thereabouts(["help"]).stdout, /\n {2}show {5}/);
    const unreadable = thereabouts(["show", "--config", join(dir.path, "missing.conf")]);
    assert.equal(unreadable.code, 1, "a file that cannot be read is not bad usage");
    assert.match(unreadable.stderr, /--config \S+missing\.conf: no such file or directory/);
  });
});

describe("thereabouts show on etcd", () => {
  let cluster: EtcdCluster;
  let dir: TempDir;
  before(async () => {
    buildOnce();
    cluster = await EtcdCluster.start({ members: 1, inMemory: true });
    dir = tempDir("thereabouts-show-etcd-");
  });
  after(async () => {
    await cluster?.stop();
    dir?.remove();
  });

  it("pools, pool, pod and ip, as on the local store", async () => {
    const conf = netConf(
      { type: "thereabouts", range: "2001:db8::/120", network_name: "green", ...cluster.ipamKeys() },
      "1.0.0",
      "green",
    );
    const file = join(dir.path, "green.conf");
    writeFileSync(file, conf);
    assert.equal(await attach(conf, "x"), "2001:db8::1");
    assert.equal(await attach(conf, "y"), "2001:db8::2");
    const pools = json(["show", "--config", file]);
    assert.equal(pools["datastore"], "etcd");
    assert.deepEqual(pools["pools"], [
      {
        name: "green-2001-db8---120",
        range: "2001:db8::/120",
        networkName: "green",
        exists: true,
        size: "254",
        used: 2,
        free: "252",
        utilisation: 0.7,
      },
    ]);
    const pool = json(["show", "pool", "green-2001-db8---120", "--config", file])["pool"] as {
      entries: { address: string; podRef: string }[];
    };
    assert.deepEqual(
      pool.entries.map((e) => [e.address, e.podRef]),
      [
        ["2001:db8::1", "default/x"],
        ["2001:db8::2", "default/y"],
      ],
    );
    const pod = json(["show", "pod", "default/y", "--config", file]);
    assert.deepEqual(
      (pod["addresses"] as { address: string }[]).map((a) => a.address),
      ["2001:db8::2"],
    );
    const ip = thereabouts(["show", "ip", "2001:db8:0::0001", "--config", file]);
    assert.equal(ip.code, 0, ip.stderr);
    assert.match(ip.stdout, /\ngreen-2001-db8---120 +2001:db8::1 +default\/x +ctr-x-012345 +net1 +- +-\n/);
    assert.equal(thereabouts(["show", "ip", "2001:db8::9", "--config", file]).code, 1);
  });
});

describe("thereabouts show on the Kubernetes datastore (API double), and as kubectl thereabouts", () => {
  let api: ApiDouble;
  let dir: TempDir;
  let conf: string;
  const POOL = "lab-198.18.40.0-28";
  const uids = new Map<string, string>();
  before(async () => {
    buildOnce();
    api = await startApiDouble({ tls: true, token: "show-token", podTerminationMs: 100 });
    dir = tempDir("thereabouts-show-k8s-");
    conf = netConf(
      kubeIpam(api.kubeconfigPath("ipam"), { range: "198.18.40.0/28", network_name: "lab" }),
      "1.0.0",
      "lab",
    );
    for (const [pod, node] of [
      ["web-1", "node-a"],
      ["web-2", "node-b"],
      ["gone-1", "node-a"],
    ] as const) {
      uids.set(pod, await createPod(api, "default", pod, { nodeName: node }));
      await attach(conf, pod);
    }
    await deletePod(api, "default", "gone-1");
  });
  after(async () => {
    await api?.stop();
    dir?.remove();
  });

  it("show pool NAME: the node and age from each pod; a deleted pod's entry says so", () => {
    const kubeconfig = api.kubeconfigPath("ipam");
    const r = thereabouts(["show", "pool", POOL, "--kubeconfig", kubeconfig]);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.trimEnd().split("\n").slice(2);
    assert.match(rows[0]!, /^ADDRESS +POD +CONTAINER +IFACE +NODE +AGE$/);
    assert.match(rows[1]!, /^198\.18\.40\.1 +default\/web-1 +ctr-web-1-01 +net1 +node-a +\d+s$/);
    assert.match(rows[2]!, /^198\.18\.40\.2 +default\/web-2 +ctr-web-2-01 +net1 +node-b +\d+s$/);
    assert.match(rows[3]!, /^198\.18\.40\.3 +default\/gone-1 +ctr-gone-1-0 +net1 +- +-$/);
    const records = json(["show", "pool", POOL, "--kubeconfig", kubeconfig]);
    assert.equal(records["namespace"], "ipam");
    const entries = (records["pool"] as { entries: { podRef: string; pod: Record<string, unknown> }[] })
      .entries;
    const web1 = entries[0]!.pod;
    assert.equal(web1["uid"], uids.get("web-1"));
    assert.equal(web1["node"], "node-a");
    assert.equal(web1["phase"], "Running");
    assert.equal(web1["exists"], true);
    assert.equal(web1["gone"], null);
    assert.ok(Math.abs(Date.parse(String(web1["created"])) - Date.now()) < 120_000, "created just now");
    assert.deepEqual(entries[2]!.pod, {
      exists: false,
      uid: null,
      node: null,
      phase: null,
      created: null,
      gone: "not found",
    });
  });

  it("--kubeconfig with --namespace, --config of a Kubernetes network, pod and ip", () => {
    const elsewhere = api.kubeconfigPath("other");
    assert.equal(
      thereabouts(["show", "--kubeconfig", elsewhere]).stdout,
      "no pools\n",
      "the context's namespace",
    );
    const pools = json(["show", "--kubeconfig", elsewhere, "-n", "ipam"]);
    assert.deepEqual(
      (pools["pools"] as { name: string; used: number }[]).map((p) => [p.name, p.used]),
      [[POOL, 3]],
    );
    const file = join(dir.path, "lab.conf");
    writeFileSync(file, conf);
    const byConfig = json(["show", "--config", file]);
    assert.equal(byConfig["datastore"], "kubernetes");
    assert.deepEqual(byConfig["pools"], pools["pools"]);
    const pod = thereabouts(["show", "pod", "default/web-2", "--config", file]);
    assert.equal(pod.code, 0, pod.stderr);
    assert.match(pod.stdout, /^pod default\/web-2: node node-b, Running, age \d+s\n/);
    const ip = json(["show", "ip", "198.18.40.1", "--config", file]);
    assert.deepEqual(
      (ip["holders"] as { pod: { node: string } }[]).map((h) => h.pod.node),
      ["node-a"],
    );
    assert.equal((ip["reservations"] as unknown[]).length, 1);
  });

  it("kubectl thereabouts: the real kubectl runs it from PATH with kubectl's kubeconfig", () => {
    const bin = join(dir.path, "bin");
    const home = join(dir.path, "home");
    mkdirSync(bin);
    mkdirSync(join(home, ".kube"), { recursive: true });
    symlinkSync(BINARY.file, join(bin, "kubectl-thereabouts"));
    const { CNI_COMMAND: _, KUBECONFIG: __, NO_COLOR: ___, ...rest } = process.env;
    // A stray CNI_COMMAND in the user's environment (kubectl passes it on) must not make a plugin of it.
    const env = { ...rest, PATH: `${bin}:${process.env["PATH"] ?? ""}`, HOME: home, CNI_COMMAND: "ADD" };
    const kubectl = (args: readonly string[], extra: Record<string, string> = {}) => {
      const r = spawnSync("kubectl", args, { env: { ...env, ...extra }, encoding: "utf8", input: "" });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const listed = kubectl(["plugin", "list"]);
    assert.match(listed.stdout, new RegExp(`${join(bin, "kubectl-thereabouts")}\\n`));

    const viaEnv = kubectl(["thereabouts", "show", "pool", POOL, "-o", "json"], {
      KUBECONFIG: api.kubeconfigPath("ipam"),
    });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const entries = (
      JSON.parse(viaEnv.stdout) as { pool: { entries: { podRef: string; pod: { node: string | null } }[] } }
    ).pool.entries;
    assert.deepEqual(
      entries.map((e) => [e.podRef, e.pod.node]),
      [
        ["default/web-1", "node-a"],
        ["default/web-2", "node-b"],
        ["default/gone-1", null],
      ],
    );
    // No KUBECONFIG: ~/.kube/config, as kubectl itself reads; --namespace as kubectl users type it.
    writeFileSync(join(home, ".kube", "config"), readFileSync(api.kubeconfigPath("other")));
    const viaHome = kubectl(["thereabouts", "show", "-n", "ipam"]);
    assert.equal(viaHome.code, 0, viaHome.stderr);
    assert.match(
      viaHome.stdout,
      new RegExp(`\\n${POOL} +198\\.18\\.40\\.0/28 +14 +3 +11 +\\[###-------\\] +21%\\n`),
    );
    const missing = kubectl(["thereabouts", "show", "pod", "default/nobody", "-n", "ipam"]);
    assert.equal(missing.code, 1, "kubectl passes the exit status on");
    const bad = kubectl(["thereabouts", "show", "--frobnicate"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Run 'kubectl thereabouts show --help' for usage/);
    assert.match(
      kubectl(["thereabouts", "show", "--help"]).stdout,
      /^Usage: kubectl thereabouts show \[pools\]/,
    );
    assert.match(kubectl(["thereabouts", "help"]).stdout, /\nUsage: kubectl thereabouts <command>/);
  });
});
