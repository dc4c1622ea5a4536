// `thereabouts release ADDRESS | --pod NS/NAME [--force]` through the shipped executable: on the
// local store and etcd (no pods to ask: --force required, and why), and on the Kubernetes API
// double (a live owner refused, --force frees it; a gone pod's addresses freed without it; an
// address held in two networks needs --network). Allocations are made by the real plugin.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildOnce, createPod, deletePod } from "../controller/support.ts";
import { EtcdCluster } from "../etcd/etcd-cluster.ts";
import { type ApiDouble, startApiDouble } from "../k8s-api/harness.ts";
import { kubeIpam } from "../kubernetes/go-runtime.ts";
import { type TempDir, tempDir } from "../support/plugin.ts";
import {
  assertPlain,
  attach,
  checkJson,
  configFile,
  type NetworkFile,
  rawEntries,
  rawReservationNames,
  thereabouts,
} from "./check-support.ts";

interface FreedJson {
  readonly freed: readonly {
    readonly pool: string;
    readonly address: string;
    readonly owner: { readonly pod: string; readonly interface: string; readonly containerId: string };
    readonly reservation?: string;
  }[];
  readonly notDone: readonly string[];
}

/** `pool address pod reservation`, one per freed thing. */
function freed(stdout: string): string[] {
  return (JSON.parse(stdout) as FreedJson).freed.map((f) =>
    [f.pool || "-", f.address || "-", f.owner.pod, f.reservation ?? "-"].join(" "),
  );
}

describe("thereabouts release on stores without pods (local, etcd)", () => {
  let dir: TempDir;
  let cluster: EtcdCluster;
  before(async () => {
    buildOnce();
    dir = tempDir();
    cluster = await EtcdCluster.start({ inMemory: true });
  });
  after(async () => {
    await cluster?.stop();
    dir?.remove();
  });

  const stores: { name: string; ipam: () => Record<string, unknown> }[] = [
    { name: "local", ipam: () => ({ datastore: "local", local: { path: join(dir.path, "store.db") } }) },
    { name: "etcd", ipam: () => cluster.ipamKeys({ prefix: `/release-${process.pid}` }) },
  ];

  for (const [i, store] of stores.entries()) {
    it(`${store.name}: refuses without --force, saying why; --force frees the address with its reservation; --pod frees a pod`, async () => {
      const net = configFile(dir.path, `rel-${store.name}`, {
        type: "thereabouts",
        range: `10.90.${i}.0/24`,
        network_name: "blue",
        ...store.ipam(),
      });
      const a = await attach(net, "a");
      const b = await attach(net, "b", "net1");
      const c = await attach(net, "c", "net2");
      const refused = await thereabouts(["release", a, "--config", net.path]);
      assert.equal(refused.code, 1);
      assert.equal(refused.stdout, "");
      assert.match(
        refused.stderr,
        new RegExp(
          `^thereabouts release: the ${store.name} store has no cluster to ask whether pod default/a is gone \\(it holds ${a.replaceAll(".", "\\.")} in pool blue-10\\.90\\.${i}\\.0-24 \\(default/a \\(net1\\)\\)\\): check the pod yourself, then release with --force\\n$`,
        ),
      );
      const forced = await thereabouts(["release", a, "--config", net.path, "--force"]);
      assert.equal(forced.code, 0, forced.stderr);
      assert.match(forced.stdout, /^Freed:\nADDRESS +POOL +OWNER +RESERVATION\n/);
      assert.match(
        forced.stdout,
        new RegExp(
          `${a.replaceAll(".", "\\.")} +blue-10\\.90\\.${i}\\.0-24 +default/a \\(net1\\) +blue-${a.replaceAll(".", "\\.")}\\n`,
        ),
      );
      assertPlain(forced.stdout, "release");
      const again = await thereabouts(["release", a, "--config", net.path, "--force"]);
      assert.equal(again.code, 1);
      assert.match(
        again.stderr,
        new RegExp(`nothing to release: nothing holds ${a.replaceAll(".", "\\.")} in network blue`),
      );
      const pod = await thereabouts([
        "release",
        "--pod",
        "default/b",
        "--config",
        net.path,
        "--force",
        "-o",
        "json",
      ]);
      assert.equal(pod.code, 0, pod.stderr);
      assert.deepEqual(freed(pod.stdout), [`blue-10.90.${i}.0-24 ${b} default/b blue-${b}`]);
      const { code, report } = await checkJson(["--config", net.path]);
      assert.equal(code, 0, JSON.stringify(report.findings));
      assert.equal(report.reservations, 1, `only c's reservation (${c}) is left`);
    });
  }

  it("bad usage exits 2", async () => {
    const net = configFile(dir.path, "rel-usage", {
      type: "thereabouts",
      range: "10.90.9.0/24",
      datastore: "local",
      local: { path: join(dir.path, "usage.db") },
    });
    for (const args of [
      [],
      ["10.90.9.300"],
      ["--pod", "nonamespace"],
      ["1.2.3.4", "5.6.7.8"],
      ["1.2.3.4", "--bogus"],
    ]) {
      const r = await thereabouts(["release", "--config", net.path, ...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /Run 'thereabouts release --help' for usage/);
    }
  });
});

describe("thereabouts release on Kubernetes (API double)", () => {
  let api: ApiDouble;
  let dir: TempDir;
  before(async () => {
    buildOnce();
    api = await startApiDouble({ podTerminationMs: 100 });
    dir = tempDir();
  });
  after(async () => {
    await api?.stop();
    dir?.remove();
  });

  function network(namespace: string, range: string, networkName: string): NetworkFile {
    return configFile(
      dir.path,
      `${namespace}-${networkName}`,
      kubeIpam(api.kubeconfigPath(namespace), { range, network_name: networkName }),
    );
  }

  it("refuses the address of a live pod, saying who holds it; --force frees it", async () => {
    const net = network("live", "10.91.0.0/24", "blue");
    const uid = await createPod(api, "default", "live-a");
    const a = await attach(net, "live-a");
    const args = ["--kubeconfig", api.kubeconfigPath("live")];
    const refused = await thereabouts(["release", a, ...args]);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr,
      `thereabouts release: pod default/live-a exists and is not gone (uid ${uid}); it holds ${a} in pool blue-10.91.0.0-24 (default/live-a (net1)): not released; --force frees it anyway\n`,
    );
    assert.equal(Object.keys(await rawEntries(api, "live", "blue-10.91.0.0-24")).length, 1, "nothing freed");
    const forced = await thereabouts(["release", a, ...args, "--force", "-o", "json"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual(freed(forced.stdout), [`blue-10.91.0.0-24 ${a} default/live-a blue-${a}`]);
    assert.deepEqual(await rawEntries(api, "live", "blue-10.91.0.0-24"), {});
    assert.deepEqual(await rawReservationNames(api, "live"), []);
  });

  it("release --pod frees every address of a gone pod and its reservations, without --force", async () => {
    const blue = network("gonepod", "10.91.1.0/24", "blue");
    const red = network("gonepod", "10.91.2.0/24", "red");
    await createPod(api, "default", "gp-a");
    await createPod(api, "default", "gp-b");
    const a1 = await attach(blue, "gp-a");
    const a2 = await attach(red, "gp-a", "net2");
    const b = await attach(blue, "gp-b");
    await deletePod(api, "default", "gp-a");
    const args = ["--kubeconfig", api.kubeconfigPath("gonepod")];
    const r = await thereabouts(["release", "--pod", "default/gp-a", ...args, "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(freed(r.stdout).sort(), [
      `blue-10.91.1.0-24 ${a1} default/gp-a blue-${a1}`,
      `red-10.91.2.0-24 ${a2} default/gp-a red-${a2}`,
    ]);
    assert.deepEqual(await rawReservationNames(api, "gonepod"), [`blue-${b}`]);
    // gp-b lives: its pod-wide release is refused too
    const refused = await thereabouts(["release", "--pod", "default/gp-b", ...args]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /pod default\/gp-b exists and is not gone/);
    assert.equal((await checkJson(args)).code, 0);
  });

  it("an address held in two networks needs --network; with it, only that network's holder is freed", async () => {
    const blue = network("twonets", "10.91.3.0/24", "blue");
    const red = network("twonets", "10.91.3.0/24", "red");
    await createPod(api, "default", "tn-a");
    await createPod(api, "default", "tn-b");
    const a = await attach(blue, "tn-a");
    const b = await attach(red, "tn-b");
    assert.equal(a, b, "both networks hand out their first address");
    await deletePod(api, "default", "tn-a");
    await deletePod(api, "default", "tn-b");
    const args = ["--kubeconfig", api.kubeconfigPath("twonets")];
    const ambiguous = await thereabouts(["release", a, ...args]);
    assert.equal(ambiguous.code, 1);
    assert.match(
      ambiguous.stderr,
      /is held in more than one network \(pools blue-10\.91\.3\.0-24, red-10\.91\.3\.0-24\): say which with --network NAME/,
    );
    const r = await thereabouts(["release", a, ...args, "--network", "red", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(freed(r.stdout), [`red-10.91.3.0-24 ${a} default/tn-b red-${a}`]);
    // --config picks its own network
    const viaConfig = await thereabouts(["release", a, "--config", blue.path, "-o", "json"]);
    assert.equal(viaConfig.code, 0, viaConfig.stderr);
    assert.deepEqual(freed(viaConfig.stdout), [`blue-10.91.3.0-24 ${a} default/tn-a blue-${a}`]);
    assert.deepEqual(await rawReservationNames(api, "twonets"), []);
  });
});
