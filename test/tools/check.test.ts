// `thereabouts check [--fix]` through the shipped executable on every datastore: the local store
// (sqlite), a real etcd and the Kubernetes API double. Allocations are made by the real plugin;
// what check must find is planted behind its back (through the local Store, raw etcd keys, raw
// API objects and hand edits), and pods are created, deleted and failed in the double.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openLocalStore } from "../../src/store/local/sqlite-store.ts";
import { poolChange } from "../../src/store/store.ts";
import { buildOnce, createPod, deletePod, setPodStatus, waitFor } from "../controller/support.ts";
import { EtcdCluster } from "../etcd/etcd-cluster.ts";
import { type ApiDouble, startApiDouble } from "../k8s-api/harness.ts";
import { kubeIpam } from "../kubernetes/go-runtime.ts";
import { BINARY, type TempDir, tempDir } from "../support/plugin.ts";
import {
  annotateNetworkStatus,
  assertPlain,
  attach,
  checkJson,
  configFile,
  createRawPool,
  createRawReservation,
  GROUP,
  kinds,
  type NetworkFile,
  rawEntries,
  rawReservationNames,
  thereabouts,
} from "./check-support.ts";

const owner = (pod: string, ifName = "net1") => ({
  containerId: `ctr-${pod}`,
  podRef: `default/${pod}`,
  ifName,
});

describe("thereabouts check on the local store", () => {
  let dir: TempDir;
  let serial = 0;
  before(() => {
    buildOnce();
    dir = tempDir();
  });
  after(() => dir?.remove());

  /** A fresh store file and its network (network_name blue, 10.80.<n>.0/24). */
  function network(): { net: NetworkFile; config: string; store: string; n: number; base: string } {
    const n = serial++;
    const store = join(dir.path, `store-${n}.db`);
    const range = `10.80.${n}.0/24`;
    const net = configFile(dir.path, `blue-${n}`, {
      type: "thereabouts",
      range,
      network_name: "blue",
      datastore: "local",
      local: { path: store },
    });
    return { net, config: net.path, store, n, base: `10.80.${n}` };
  }

  it("a clean store: exit 0, and it says pods were not asked", async () => {
    const { net, config } = network();
    await attach(net, "a");
    await attach(net, "b");
    const r = await thereabouts(["check", "--config", config]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Checked 1 pools and 2 reservations \(local store\)/);
    assert.match(
      r.stdout,
      /no cluster to ask about pods: this checks the store's own\s+consistency \(no pod checks\)/,
    );
    assert.match(r.stdout, /No problems found/);
    assertPlain(r.stdout, "check");
    const { code, report } = await checkJson(["--config", config]);
    assert.equal(code, 0);
    assert.deepEqual(
      { datastore: report.datastore, podChecks: report.podChecks, findings: report.findings },
      { datastore: "local", podChecks: false, findings: [] },
    );
  });

  it("a planted duplicate (two pools of the network holding one address): reported, exit 1, never 'fixed'", async () => {
    const { net, config, store: path, base } = network();
    const a = await attach(net, "a");
    assert.equal(a, `${base}.1`);
    const store = await openLocalStore(path);
    try {
      const planted = await store.commit(
        poolChange(`blue-${base}.0-25`, `${base}.0/25`, { create: [["1", owner("intruder")]] }),
      );
      assert.deepEqual(planted, { ok: true });
    } finally {
      await store.close();
    }
    const { code, report } = await checkJson(["--config", config]);
    assert.equal(code, 1);
    assert.deepEqual(kinds(report.findings), [
      `duplicate-address blue-${base}.0-24 ${a} default/a`,
      `duplicate-address blue-${base}.0-25 ${a} default/intruder`,
    ]);
    assert.match(
      report.findings[0]!.detail,
      /also held by default\/intruder \(net1\) in pool blue-[\d.]+-25/,
    );
    assert.ok(report.findings.every((f) => !f.fixable));
    const fixed = await thereabouts(["check", "--config", config, "--fix"]);
    assert.equal(fixed.code, 1, "still wrong after --fix");
    assert.match(fixed.stdout, /Repairs:\n {2}nothing changed/);
    assertPlain(fixed.stdout, "check --fix");
    const again = await checkJson(["--config", config]);
    assert.equal(again.report.findings.length, 2, "both holders are still there");
  });

  it("a corrupted pool (a key that is no offset, an offset outside the range, a range that is not one): reported", async () => {
    const { net, config, store: path, base, n } = network();
    await attach(net, "a");
    const store = await openLocalStore(path);
    try {
      const corrupt = await store.commit(
        poolChange(`blue-${base}.0-24`, `${base}.0/24`, {
          create: [
            ["1x", owner("x")],
            ["300", owner("y")],
          ],
        }),
      );
      assert.deepEqual(corrupt, { ok: true });
      const broken = await store.commit(poolChange("broken", "10.0.0.0/99", { create: [["1", owner("z")]] }));
      assert.deepEqual(broken, { ok: true });
    } finally {
      await store.close();
    }
    const { code, report } = await checkJson(["--config", config]);
    assert.equal(code, 1);
    assert.deepEqual(kinds(report.findings), [
      "unreadable-range broken - -",
      `unreadable-key blue-${base}.0-24 1x default/x`,
      `outside-range blue-${base}.0-24 10.80.${n + 1}.44 default/y`,
    ]);
    const fixed = await checkJson(["--config", config, "--fix"]);
    assert.equal(fixed.code, 1);
    assert.deepEqual(fixed.report.fix, { done: [], notDone: [] });
    assert.deepEqual(kinds(fixed.report.after!.findings), kinds(report.findings), "none of it is touched");
  });

  it("reservations without entries and entries without reservations: reported; --fix creates the missing one", async () => {
    const { net, config, store: path, base } = network();
    await attach(net, "a");
    const store = await openLocalStore(path);
    try {
      // an entry whose reservation is missing, and a reservation nothing goes with
      const written = await store.commit(
        poolChange(`blue-${base}.0-24`, `${base}.0/24`, {
          create: [["7", owner("b")]],
          reserve: [{ name: `blue-${base}.9`, ...owner("gone") }],
        }),
      );
      assert.deepEqual(written, { ok: true });
    } finally {
      await store.close();
    }
    const { code, report } = await checkJson(["--config", config]);
    assert.equal(code, 1);
    assert.deepEqual(kinds(report.findings), [
      `orphan-reservation - blue-${base}.9 default/gone`,
      `missing-reservation blue-${base}.0-24 ${base}.7 default/b`,
    ]);
    assert.deepEqual(
      report.findings.map((f) => f.fixable),
      [false, true],
      "no pod to ask: the leftover reservation is only reported",
    );
    assert.match(report.findings[0]!.action, /release --pod default\/gone --force/);
    const fixed = await thereabouts(["check", "--config", config, "--fix"]);
    assert.equal(fixed.code, 1, fixed.stdout);
    assert.match(fixed.stdout, new RegExp(`created reservation blue-${base.replaceAll(".", "\\.")}\\.7 for`));
    assert.match(fixed.stdout, /Checked again:[\s\S]*orphan-reservation/);
    // The operator decides the pod is gone: release frees the reservation, and the store is clean.
    const released = await thereabouts(["release", "--config", config, "--pod", "default/gone", "--force"]);
    assert.equal(released.code, 0, released.stderr);
    const clean = await checkJson(["--config", config]);
    assert.equal(clean.code, 0, JSON.stringify(clean.report.findings));
  });

  it("shows its progress on stderr when stderr is a terminal, and nothing on a pipe", async () => {
    const { net, config } = network();
    await attach(net, "a");
    // script(1) runs the command on a pseudo-terminal; stdout goes to /dev/null inside it.
    const tty = spawnSync(
      "script",
      ["-qec", `${BINARY.file} check --config ${config} >/dev/null`, "/dev/null"],
      {
        encoding: "utf8",
        env: { ...process.env, NO_COLOR: "1" },
      },
    );
    assert.equal(tty.status, 0, tty.stdout);
    assert.match(
      tty.stdout,
      /^\rchecking pools 0\/1 \(0%\)\x1b\[K/,
      "progress, even with NO_COLOR (it is not colour)",
    );
    assert.match(
      tty.stdout,
      /\rchecking pools 1\/1 \(100%\)\x1b\[K\r\x1b\[K$/,
      "and the line is cleared at the end",
    );
    const piped = await thereabouts(["check", "--config", config]);
    assert.equal(piped.code, 0);
    assert.equal(piped.stderr, "");
  });

  it("bad usage exits 2", async () => {
    const { config } = network();
    for (const args of [["--bogus"], ["extra"], ["--network", "blue"], ["-o", "xml"]]) {
      const r = await thereabouts(["check", "--config", config, ...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    }
    const help = await thereabouts(["check", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--fix/);
  });
});

describe("thereabouts check on etcd", () => {
  let cluster: EtcdCluster;
  let dir: TempDir;
  let serial = 0;
  before(async () => {
    buildOnce();
    cluster = await EtcdCluster.start({ inMemory: true });
    dir = tempDir();
  });
  after(async () => {
    await cluster?.stop();
    dir?.remove();
  });

  function installation(range: string): { net: NetworkFile; config: string; prefix: string } {
    const prefix = `/check-${process.pid}-${serial++}`;
    const net = configFile(dir.path, `etcd-${serial}`, {
      type: "thereabouts",
      ...cluster.ipamKeys({ prefix }),
      range,
      network_name: "green",
    });
    return { net, config: net.path, prefix };
  }

  async function put(key: string, value: unknown): Promise<void> {
    await cluster.call(0, "/v3/kv/put", {
      key: Buffer.from(key).toString("base64"),
      value: Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64"),
    });
  }

  it("a clean store: exit 0", async () => {
    const { net, config } = installation("10.82.0.0/24");
    await attach(net, "a");
    await attach(net, "b");
    const { code, report } = await checkJson(["--config", config]);
    assert.equal(code, 0, JSON.stringify(report.findings));
    assert.deepEqual(
      [report.datastore, report.podChecks, report.pools, report.reservations],
      ["etcd", false, 1, 2],
    );
  });

  it("planted duplicates and a corrupted pool in raw keys: reported, exit 1, not 'fixed'", async () => {
    const { net, config, prefix } = installation("10.82.1.0/24");
    const a = await attach(net, "a");
    // another writer's pool of the network over the same addresses, holding a's address
    await put(`${prefix}/pools/green-10.82.1.0-25/meta`, { range: "10.82.1.0/25" });
    await put(`${prefix}/pools/green-10.82.1.0-25/entries/1`, {
      id: "ctr-x",
      podref: "default/x",
      ifname: "net1",
    });
    // the network's own pool with a key that is no offset and one beyond the range
    await put(`${prefix}/pools/green-10.82.1.0-24/entries/one`, {
      id: "ctr-y",
      podref: "default/y",
      ifname: "net1",
    });
    await put(`${prefix}/pools/green-10.82.1.0-24/entries/256`, {
      id: "ctr-z",
      podref: "default/z",
      ifname: "net1",
    });
    // one attachment with two entries of the pool (Go's rule: one per pool)
    await put(`${prefix}/pools/green-10.82.1.0-24/entries/10`, {
      id: "ctr-v",
      podref: "default/v",
      ifname: "net1",
    });
    await put(`${prefix}/pools/green-10.82.1.0-24/entries/11`, {
      id: "ctr-v",
      podref: "default/v",
      ifname: "net1",
    });
    // and a pool whose range was edited into something else
    await put(`${prefix}/pools/edited/meta`, { range: "not a range" });
    await put(`${prefix}/pools/edited/entries/1`, { id: "ctr-w", podref: "default/w", ifname: "net1" });
    const { code, report } = await checkJson(["--config", config]);
    assert.equal(code, 1);
    assert.deepEqual(kinds(report.findings), [
      "unreadable-range edited - -",
      "unreadable-key green-10.82.1.0-24 one default/y",
      "outside-range green-10.82.1.0-24 10.82.2.0 default/z",
      `duplicate-address green-10.82.1.0-24 ${a} default/a`,
      `duplicate-address green-10.82.1.0-25 ${a} default/x`,
      "duplicate-attachment green-10.82.1.0-24 10.82.1.10 default/v",
      "duplicate-attachment green-10.82.1.0-24 10.82.1.11 default/v",
    ]);
    const fixed = await checkJson(["--config", config, "--fix"]);
    assert.equal(fixed.code, 1);
    assert.deepEqual(kinds(fixed.report.after!.findings), kinds(report.findings));
  });

  it("an entry without its reservation: --fix creates it and leaves a consistent store", async () => {
    const { net, config, prefix } = installation("10.82.2.0/24");
    await attach(net, "a");
    await put(`${prefix}/pools/green-10.82.2.0-24/entries/9`, {
      id: "ctr-b",
      podref: "default/b",
      ifname: "net1",
    });
    const { code, report } = await checkJson(["--config", config]);
    assert.equal(code, 1);
    assert.deepEqual(kinds(report.findings), ["missing-reservation green-10.82.2.0-24 10.82.2.9 default/b"]);
    const fixed = await checkJson(["--config", config, "--fix"]);
    assert.equal(fixed.code, 0, JSON.stringify(fixed.report));
    assert.deepEqual(fixed.report.fix?.done, [
      "created reservation green-10.82.2.9 for 10.82.2.9 (pool green-10.82.2.0-24, default/b (net1))",
    ]);
    assert.deepEqual(fixed.report.after?.findings, []);
    assert.equal((await checkJson(["--config", config])).code, 0);
  });
});

describe("thereabouts check on Kubernetes (API double)", () => {
  let api: ApiDouble;
  let dir: TempDir;
  before(async () => {
    buildOnce();
    api = await startApiDouble({ podTerminationMs: 100, token: "check-token" });
    dir = tempDir();
  });
  after(async () => {
    await api?.stop();
    dir?.remove();
  });

  it("a store that cannot be read: exit 1, the reason on stderr, nothing on stdout", async () => {
    const kubeconfig = api.kubeconfigPath("refused", { token: "not-the-token" });
    const r = await thereabouts(["check", "--kubeconfig", kubeconfig]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^thereabouts check: .*Unauthorized.*\n$/);
    assert.doesNotMatch(r.stderr, /not-the-token/);
  });

  /** A network whose pools live in their own namespace (check scans every pool of one namespace). */
  function network(
    namespace: string,
    range: string,
    networkName = "blue",
  ): { net: NetworkFile; args: string[] } {
    const kubeconfig = api.kubeconfigPath(namespace);
    return {
      net: configFile(dir.path, namespace, kubeIpam(kubeconfig, { range, network_name: networkName })),
      args: ["--kubeconfig", kubeconfig],
    };
  }

  it("a clean store with live pods, their network-status agreeing: exit 0", async () => {
    const { net, args } = network("clean", "10.83.0.0/24");
    await createPod(api, "default", "clean-a");
    await createPod(api, "default", "clean-b");
    const a = await attach(net, "clean-a");
    await attach(net, "clean-b");
    await annotateNetworkStatus(api, "default", "clean-a", [
      { name: "cbr0", interface: "eth0", ips: ["10.244.0.9"], default: true },
      { name: "default/blue", interface: "net1", ips: [a] },
    ]);
    const r = await thereabouts(["check", ...args]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /Checked 1 pools, 2 reservations and \d+ pods \(kubernetes store, namespace clean\)/,
    );
    assert.doesNotMatch(r.stdout, /no pod checks/);
    const { report } = await checkJson(args);
    assert.deepEqual([report.podChecks, report.namespace, report.findings], [true, "clean", []]);
  });

  it("gone pods (deleted, Failed): reported; --fix frees them with their reservations; the store then checks clean", async () => {
    const { net, args } = network("gone", "10.83.1.0/24");
    for (const pod of ["gone-deleted", "gone-failed", "gone-live"]) await createPod(api, "default", pod);
    const deleted = await attach(net, "gone-deleted");
    const failed = await attach(net, "gone-failed");
    const live = await attach(net, "gone-live");
    await deletePod(api, "default", "gone-deleted");
    await setPodStatus(api, "default", "gone-failed", { phase: "Failed" });
    const { code, report } = await checkJson(args);
    assert.equal(code, 1);
    assert.deepEqual(kinds(report.findings), [
      `pod-gone blue-10.83.1.0-24 ${deleted} default/gone-deleted`,
      `pod-gone blue-10.83.1.0-24 ${failed} default/gone-failed`,
    ]);
    assert.deepEqual(
      report.findings.map((f) => f.detail),
      ["pod default/gone-deleted is not found", "pod default/gone-failed is phase Failed"],
    );
    const fixed = await checkJson([...args, "--fix"]);
    assert.equal(fixed.code, 0, JSON.stringify(fixed.report));
    assert.deepEqual([...(fixed.report.fix?.done ?? [])].sort(), [
      `freed ${deleted} from pool blue-10.83.1.0-24 and reservation blue-${deleted} of default/gone-deleted (pod not found)`,
      `freed ${failed} from pool blue-10.83.1.0-24 and reservation blue-${failed} of default/gone-failed (pod phase Failed)`,
    ]);
    assert.deepEqual(fixed.report.after?.findings, []);
    assert.deepEqual(Object.keys(await rawEntries(api, "gone", "blue-10.83.1.0-24")), [
      String(live.split(".")[3]),
    ]);
    assert.deepEqual(await rawReservationNames(api, "gone"), [`blue-${live}`]);
    assert.equal((await checkJson(args)).code, 0);
  });

  it("a pod re-created under the same name between check and fix is not freed", async () => {
    // web-0 is deleted and web-1 has failed when check reads; while --fix is held up (its read of
    // the pools is delayed), web-0 comes back as a new pod, and web-1 is replaced by a new pod
    // that has failed too. Neither is the pod the check judged: both keep their addresses.
    const { net, args } = network("recreate", "10.83.2.0/24");
    await createPod(api, "default", "web-0");
    await createPod(api, "default", "web-1");
    const web0 = await attach(net, "web-0");
    const web1 = await attach(net, "web-1");
    await deletePod(api, "default", "web-0");
    await setPodStatus(api, "default", "web-1", { phase: "Failed" });
    await api.resetRequests();
    await api.setFaults([
      { kind: "delay", verb: "list", resource: "ippools", namespace: "recreate", holdMs: 2_500, times: 2 },
    ]);
    try {
      const running = thereabouts(["check", ...args, "--fix", "-o", "json"]);
      await waitFor(
        "check's list of the pods",
        async () =>
          (await api.requests()).log.some(
            (r) => r.verb === "list" && r.resource === "pods" && r.code === 200,
          ),
        20_000,
        20,
      );
      await createPod(api, "default", "web-0");
      await deletePod(api, "default", "web-1");
      await waitFor(
        "web-1 to be gone",
        async () => (await api.request("GET", "/api/v1/namespaces/default/pods/web-1")).status === 404,
        5_000,
        20,
      );
      await createPod(api, "default", "web-1", { phase: "Failed" });
      const r = await running;
      const report = JSON.parse(r.stdout) as {
        fix: { done: string[]; notDone: string[] };
        after: { findings: { kind: string; detail: string }[] };
      };
      assert.deepEqual(report.fix.done, [], "nothing freed");
      assert.deepEqual(
        [...report.fix.notDone].sort().map((l) => l.replace(/uid [^)]+/, "uid …")),
        [
          "kept what default/web-0 holds: the pod was re-created since the check (uid …)",
          "kept what default/web-1 holds: the pod was re-created since the check (uid …)",
        ],
      );
      // The new web-1 has failed too: a check of its own reports it (and would free it).
      assert.deepEqual(
        report.after.findings.map((f) => f.detail),
        ["pod default/web-1 is phase Failed"],
      );
      assert.equal(r.code, 1);
      const entries = await rawEntries(api, "recreate", "blue-10.83.2.0-24");
      assert.deepEqual(
        Object.values(entries)
          .map((e) => e.podref)
          .sort(),
        ["default/web-0", "default/web-1"],
        `${web0} and ${web1} are still held`,
      );
    } finally {
      await api.clearFaults();
    }
  });

  it("a planted duplicate and a pool edited by hand: reported, exit 1, left alone by --fix", async () => {
    const { args } = network("planted", "10.83.3.0/24");
    await createPod(api, "default", "dup-a");
    await createPod(api, "default", "dup-b");
    await createRawPool(api, "planted", "blue-10.83.3.0-24", "10.83.3.0/24", {
      "5": { id: "ctr-a", podref: "default/dup-a", ifname: "net1" },
    });
    await createRawPool(api, "planted", "blue-10.83.3.0-25", "10.83.3.0/25", {
      "5": { id: "ctr-b", podref: "default/dup-b", ifname: "net1" },
    });
    await createRawReservation(api, "planted", "blue-10.83.3.5", { podref: "default/dup-a", ifname: "net1" });
    // kubectl edit: two entries typed by hand
    const edit = await api.request(
      "PATCH",
      `${GROUP}/namespaces/planted/ippools/blue-10.83.3.0-24`,
      {
        spec: {
          allocations: {
            five: { id: "ctr-c", podref: "default/dup-a", ifname: "net2" },
            "4096": { id: "ctr-d", podref: "default/dup-b", ifname: "net2" },
          },
        },
      },
      { "Content-Type": "application/merge-patch+json" },
    );
    assert.equal(edit.status, 200, edit.body);
    const { code, report } = await checkJson(args);
    assert.equal(code, 1);
    assert.deepEqual(kinds(report.findings), [
      "unreadable-key blue-10.83.3.0-24 five default/dup-a",
      "outside-range blue-10.83.3.0-24 10.83.19.0 default/dup-b",
      "duplicate-address blue-10.83.3.0-24 10.83.3.5 default/dup-a",
      "duplicate-address blue-10.83.3.0-25 10.83.3.5 default/dup-b",
    ]);
    const fixed = await checkJson([...args, "--fix"]);
    assert.equal(fixed.code, 1);
    assert.deepEqual(fixed.report.fix, { done: [], notDone: [] });
    assert.equal(Object.keys(await rawEntries(api, "planted", "blue-10.83.3.0-25")).length, 1);
  });

  it("reservations without entries and entries without reservations: --fix drops the gone owner's, creates the missing one", async () => {
    const { net, args } = network("orphans", "10.83.4.0/24");
    await createPod(api, "default", "orph-a");
    await createPod(api, "default", "orph-b");
    await attach(net, "orph-a");
    // b's entry was written without its reservation; a reservation of a deleted pod is left over
    const entries = await rawEntries(api, "orphans", "blue-10.83.4.0-24");
    assert.equal(Object.keys(entries).length, 1);
    const add = await api.request(
      "PATCH",
      `${GROUP}/namespaces/orphans/ippools/blue-10.83.4.0-24`,
      { spec: { allocations: { "20": { id: "ctr-orph-b", podref: "default/orph-b", ifname: "net1" } } } },
      { "Content-Type": "application/merge-patch+json" },
    );
    assert.equal(add.status, 200, add.body);
    await createRawReservation(api, "orphans", "blue-10.83.4.30", {
      podref: "default/orph-gone",
      ifname: "net1",
    });
    const { code, report } = await checkJson(args);
    assert.equal(code, 1);
    assert.deepEqual(kinds(report.findings), [
      "orphan-reservation - blue-10.83.4.30 default/orph-gone",
      "missing-reservation blue-10.83.4.0-24 10.83.4.20 default/orph-b",
    ]);
    assert.deepEqual(
      report.findings.map((f) => f.fixable),
      [true, true],
    );
    const fixed = await checkJson([...args, "--fix"]);
    assert.equal(fixed.code, 0, JSON.stringify(fixed.report));
    assert.deepEqual([...(fixed.report.fix?.done ?? [])].sort(), [
      "created reservation blue-10.83.4.20 for 10.83.4.20 (pool blue-10.83.4.0-24, default/orph-b (net1))",
      "freed reservation blue-10.83.4.30 of default/orph-gone (pod not found)",
    ]);
    assert.deepEqual(await rawReservationNames(api, "orphans"), ["blue-10.83.4.1", "blue-10.83.4.20"]);
  });

  it("pods whose network-status disagrees with the store: reported", async () => {
    const { net, args } = network("status", "10.83.5.0/24");
    await createPod(api, "default", "st-a");
    await createPod(api, "default", "st-b");
    const a = await attach(net, "st-a");
    const b = await attach(net, "st-b");
    // a's status names an address the store does not give it; b's misses the one it holds
    await annotateNetworkStatus(api, "default", "st-a", [
      { name: "default/blue", interface: "net1", ips: [a, "10.83.5.200"] },
    ]);
    await annotateNetworkStatus(api, "default", "st-b", [
      { name: "default/blue", interface: "net1", ips: ["10.83.5.201"] },
    ]);
    const { code, report } = await checkJson(args);
    assert.equal(code, 1);
    assert.deepEqual(kinds(report.findings), [
      "status-not-stored blue-10.83.5.0-24 10.83.5.200 default/st-a",
      "status-not-stored blue-10.83.5.0-24 10.83.5.201 default/st-b",
      `stored-not-in-status blue-10.83.5.0-24 ${b} default/st-b`,
    ]);
    assert.ok(report.findings.every((f) => !f.fixable));
    const text = await thereabouts(["check", ...args]);
    assert.equal(text.code, 1);
    assert.match(
      text.stdout,
      /the pod's network-status \(default\/blue\) lists 10\.83\.5\.200, which the\s+store\s+does not record/,
    );
    assertPlain(text.stdout, "check");
  });
});
