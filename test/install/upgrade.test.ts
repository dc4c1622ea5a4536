// The upgrade from Go Whereabouts v0.9.4 and the way back (docs/upgrade.md), on the API double
// with the real kubectl and the shipped executable. The cluster starts as Go leaves it: its CRDs
// (no printer columns, no status), pools and overlapping-range reservations written by Go's
// exact request sequence (go-writer.ts, Lease included), a NodeSlicePool, and on the "host" Go's
// whereabouts.conf, kubeconfig, nodename and plugin binary. Then the operator's steps: apply the
// bundle's CRDs (updated in place: same uid, nothing deleted), run `thereabouts install`, and
// later the reverse. Checked at every step: no allocation lost or moved, every pod's address
// honoured by the other implementation, no address twice, reservations matching entries.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { dump, loadAll } from "js-yaml";
import { type ApiDouble, startApiDouble } from "../k8s-api/harness.ts";
import {
  assertReservationsMatchEntries,
  holdings,
  type RawObjects,
  rawObjects,
} from "../kubernetes/go-view.ts";
import { type GoNetwork, GoWriter } from "../kubernetes/go-writer.ts";
import { addressesOf, BINARY, podArgs, ROOT, run, type TempDir, tempDir } from "../support/plugin.ts";

const TOKEN = "upgrade-test-token";
const NS = "kube-system";
const GROUP = "/apis/whereabouts.cni.cncf.io/v1alpha1";
const CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const CRD_NAMES = ["ippools", "overlappingrangeipreservations", "nodeslicepools"].map(
  (plural) => `${plural}.whereabouts.cni.cncf.io`,
);

/** Two networks a Go cluster runs: one unnamed, one with network_name (pools and ORIPs prefixed). */
const NETS: readonly (GoNetwork & { readonly nad: string })[] = [
  { nad: "storage", range: "10.77.0.0/28", exclude: ["10.77.0.1/32"] },
  { nad: "blue", range: "10.78.0.0/28", networkName: "blue" },
];

interface Host {
  readonly bin: string;
  readonly conf: string;
  readonly sub: string;
  readonly sa: string;
}

describe("upgrade from Go Whereabouts v0.9.4 and back (API double, kubectl, the shipped executable)", () => {
  let dir: TempDir;
  let api: ApiDouble;
  let host: Host;
  let go: GoWriter;
  let kubeconfig: string;
  let goCrds: string;

  // The double serves no OpenAPI documents (as an apiserver without them): kubectl then needs
  // --validate=false to apply, and uses merge patches with its last-applied annotation.
  const kubectl = (...args: string[]) => api.kubectl(args);

  const crd = async (name: string) => {
    const r = await api.request("GET", `${CRDS}/${name}`);
    assert.equal(r.status, 200, `GET crd ${name}`);
    return r.json() as {
      metadata: { uid: string; generation: number };
      spec: { versions: { additionalPrinterColumns?: { name: string }[] }[] };
    };
  };

  /** Go's whereabouts.d files and plugin, as install-cni.sh v0.9.4 writes them (host paths). */
  const goInstall = () => {
    mkdirSync(host.sub, { recursive: true });
    writeFileSync(join(host.sub, "whereabouts.kubeconfig"), readFileSync(kubeconfig, "utf8"), {
      mode: 0o600,
    });
    writeFileSync(
      join(dir.path, "go-whereabouts.conf"),
      `${JSON.stringify(
        {
          datastore: "kubernetes",
          configuration_path: host.sub,
          kubernetes: { kubeconfig: join(host.sub, "whereabouts.kubeconfig") },
          reconciler_cron_expression: "30 4 * * *",
        },
        null,
        2,
      )}\n`,
      { mode: 0o600 },
    );
    copyFileSync(join(dir.path, "go-whereabouts.conf"), join(host.sub, "whereabouts.conf"));
    writeFileSync(join(host.sub, "nodename"), "node-1");
    // `cp -f /whereabouts $CNI_BIN_DIR`: written in place over whatever is there (Go's binary is
    // an ELF file; a copy of echo stands in for it).
    const cp = spawnSync("cp", ["-f", join(dir.path, "go-whereabouts"), join(host.bin, "whereabouts")]);
    assert.equal(cp.status, 0);
  };

  const install = (command: "install" | "uninstall", extra: string[] = []) => {
    const { CNI_COMMAND: _, ...env } = process.env;
    const url = new URL(api.url);
    const r = spawnSync(
      BINARY.file,
      [command, ...(command === "install" ? ["--once", "--service-account-dir", host.sa] : []), ...extra],
      {
        encoding: "utf8",
        env: {
          ...env,
          CNI_BIN_DIR: host.bin,
          CNI_CONF_DIR: host.conf,
          KUBERNETES_SERVICE_PROTOCOL: url.protocol.replace(":", ""),
          KUBERNETES_SERVICE_HOST: url.hostname,
          KUBERNETES_SERVICE_PORT: url.port,
          WHEREABOUTS_NAMESPACE: NS,
          NODENAME: "node-1",
        },
      },
    );
    assert.equal(r.status, 0, `${command}: ${r.stderr}`);
    return r.stderr;
  };

  /** The network configuration of a NAD: only `range` and the network; the flat file does the rest. */
  const nadConfig = (net: (typeof NETS)[number]) =>
    JSON.stringify({
      cniVersion: "0.3.1",
      name: net.nad,
      type: "macvlan",
      ipam: {
        type: "whereabouts",
        range: net.range,
        ...(net.exclude ? { exclude: net.exclude } : {}),
        ...(net.networkName ? { network_name: net.networkName } : {}),
        configuration_path: host.sub,
      },
    });

  /** A call of the installed plugin, as the runtime makes it (no node agent). */
  const plugin = (command: "ADD" | "DEL", net: (typeof NETS)[number], pod: string, containerId: string) =>
    run(
      {
        command,
        config: nadConfig(net),
        containerId,
        ifName: "net1",
        netns: `/var/run/netns/${pod}`,
        cniArgs: podArgs(pod),
        env: { THEREABOUTS_AGENT_SOCKET: "" },
      },
      { file: join(host.bin, "whereabouts") },
    );

  /** Every pool's allocations and every reservation, for comparing before and after a step. */
  const allocations = (objects: RawObjects) => ({
    pools: Object.fromEntries(objects.pools.map((p) => [p.metadata.name, p.spec.allocations])),
    reservations: Object.fromEntries(objects.reservations.map((r) => [r.metadata.name, r.spec])),
  });

  const assertConsistent = (objects: RawObjects) => {
    const seen = new Map<string, string>();
    for (const h of holdings(objects)) {
      const key = `${h.pool.startsWith("blue-") ? "blue" : ""}/${h.address}`;
      assert.equal(
        seen.get(key),
        undefined,
        `${h.address} held twice (${seen.get(key)}, ${h.allocation.podRef})`,
      );
      seen.set(key, h.allocation.podRef);
    }
    for (const net of NETS)
      assertReservationsMatchEntries(objects, net.networkName ?? "", {
        pools: (name) =>
          net.networkName ? name.startsWith(`${net.networkName}-`) : !name.startsWith("blue-"),
        exclusive: false,
      });
    // …and no reservation beyond those: one per entry of both networks.
    assert.equal(
      objects.reservations.length,
      holdings(objects).length,
      "no reservation without a pool entry",
    );
  };

  before(async () => {
    dir = tempDir("thereabouts-upgrade-");
    // No token on the double: kubectl sends credentials over TLS only, Go's writer speaks plain
    // HTTP; the installer still writes the ServiceAccount token into the kubeconfig it writes.
    api = await startApiDouble();
    kubeconfig = api.kubeconfigPath(NS);
    host = {
      bin: join(dir.path, "opt-cni-bin"),
      conf: join(dir.path, "etc-cni-net.d"),
      sub: join(dir.path, "etc-cni-net.d", "whereabouts.d"),
      sa: join(dir.path, "serviceaccount"),
    };
    for (const d of [host.bin, host.conf, host.sa]) mkdirSync(d, { recursive: true });
    writeFileSync(join(host.sa, "token"), TOKEN);
    writeFileSync(join(host.sa, "namespace"), NS);
    copyFileSync("/bin/echo", join(dir.path, "go-whereabouts"));
    go = new GoWriter({ url: api.url, namespace: NS, lease: true });
    // Go's CRDs as the cluster has them, kept for the way back (what `kubectl get crd -o yaml`
    // gives, without the server-set fields).
    const docs = [];
    for (const name of CRD_NAMES) {
      const c = await crd(name);
      assert.equal(
        c.spec.versions[0]?.additionalPrinterColumns,
        undefined,
        `Go's ${name} has no printer columns`,
      );
      docs.push({
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name },
        spec: c.spec,
      });
    }
    goCrds = join(dir.path, "go-crds.yaml");
    writeFileSync(goCrds, docs.map((d) => `---\n${dump(d)}`).join(""));
  });

  after(async () => {
    await api.stop();
    dir.remove();
  });

  it("upgrades: CRDs updated in place, files replaced, every Go allocation kept and honoured, new ADDs work; and back", async () => {
    // 1. The cluster as Go v0.9.4 leaves it.
    goInstall();
    for (const net of NETS)
      for (let i = 0; i < 4; i++) {
        const r = await go.add(net, {
          containerId: `go-${net.nad}-${i}`,
          podRef: `default/go-${i}`,
          ifName: "net1",
        });
        assert.ok(r.ok, `Go ADD: ${JSON.stringify(r)}`);
      }
    const slice = await api.request("POST", `${GROUP}/namespaces/${NS}/nodeslicepools`, {
      apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
      kind: "NodeSlicePool",
      metadata: { name: "slices" },
      spec: { range: "10.79.0.0/16", sliceSize: "/24" },
      status: { allocations: [{ nodeName: "node-1", sliceRange: "10.79.0.0/24" }] },
    });
    assert.equal(slice.status, 201, slice.body);
    const goState = await rawObjects(api, NS);
    assertConsistent(goState);
    const uids = Object.fromEntries(
      await Promise.all(CRD_NAMES.map(async (n) => [n, (await crd(n)).metadata.uid])),
    );

    // 2. The bundle's CRDs applied over Go's: updated in place (same uid), printer columns added.
    const bundle = loadAll(readFileSync(join(ROOT, "deploy", "thereabouts.yaml"), "utf8")) as {
      kind?: string;
    }[];
    const ourCrds = bundle.filter((o) => o?.kind === "CustomResourceDefinition");
    assert.equal(ourCrds.length, 3, "the bundle carries the three CRDs");
    const crdFile = join(dir.path, "crds.yaml");
    writeFileSync(crdFile, ourCrds.map((d) => `---\n${dump(d)}`).join(""));
    const applied = await kubectl("apply", "--validate=false", "-f", crdFile);
    assert.equal(applied.code, 0, applied.stderr);
    for (const name of CRD_NAMES) {
      const c = await crd(name);
      assert.equal(c.metadata.uid, uids[name], `${name} updated in place, not recreated`);
      assert.ok(
        (c.spec.versions[0]?.additionalPrinterColumns ?? []).length > 0,
        `${name} has printer columns now`,
      );
    }
    assert.deepEqual(
      allocations(await rawObjects(api, NS)),
      allocations(goState),
      "the CRD update changed no data",
    );

    // 3. thereabouts install over Go's files: each replaced (a new inode), Go's plugin too.
    const before = ["whereabouts.conf", "whereabouts.kubeconfig", "nodename"].map(
      (f) => statSync(join(host.sub, f)).ino,
    );
    const goBinary = statSync(join(host.bin, "whereabouts")).ino;
    install("install");
    // Go's flat file and nodename already hold what install writes (same keys, same text): left
    // as they are. Go's kubeconfig differs (Go's token, no header): replaced by a rename.
    const goFlat = readFileSync(join(dir.path, "go-whereabouts.conf"), "utf8");
    assert.equal(readFileSync(join(host.sub, "whereabouts.conf"), "utf8"), goFlat);
    assert.equal(statSync(join(host.sub, "whereabouts.conf")).ino, before[0]);
    assert.equal(statSync(join(host.sub, "nodename")).ino, before[2]);
    assert.notEqual(statSync(join(host.sub, "whereabouts.kubeconfig")).ino, before[1]);
    assert.match(
      readFileSync(join(host.sub, "whereabouts.kubeconfig"), "utf8"),
      /written by `thereabouts install`/,
    );
    assert.match(readFileSync(join(host.sub, "whereabouts.kubeconfig"), "utf8"), new RegExp(TOKEN));
    assert.notEqual(statSync(join(host.bin, "whereabouts")).ino, goBinary);
    assert.deepEqual(readFileSync(join(host.bin, "whereabouts")), readFileSync(BINARY.file));

    // 4. Every Go pod's address honoured: an ADD repeated for a Go attachment returns its address;
    // new pods get free addresses; a Go attachment's DEL through our plugin releases it.
    const goAddress = (net: (typeof NETS)[number], i: number) =>
      holdings(goState).find(
        (h) =>
          h.allocation.containerId === `go-${net.nad}-${i}` &&
          h.pool.startsWith(net.networkName ? "blue-" : "10.77"),
      )?.address;
    for (const net of NETS) {
      const again = await plugin("ADD", net, "go-0", `go-${net.nad}-0`);
      assert.deepEqual(addressesOf(again), [`${goAddress(net, 0)}/28`], `${net.nad}: ${again.stdout}`);
      for (let i = 0; i < 3; i++) {
        const o = await plugin("ADD", net, `ts-${i}`, `ts-${net.nad}-${i}`);
        assert.equal(o.code, 0, o.stdout);
      }
      assert.equal((await plugin("DEL", net, "go-1", `go-${net.nad}-1`)).code, 0);
    }
    const upgraded = await rawObjects(api, NS);
    assertConsistent(upgraded);
    for (const net of NETS)
      for (const i of [0, 2, 3]) {
        const still = holdings(upgraded).find((h) => h.allocation.containerId === `go-${net.nad}-${i}`);
        assert.equal(still?.address, goAddress(net, i), `Go's go-${i} on ${net.nad} kept its address`);
      }
    assert.equal(holdings(upgraded).filter((h) => h.allocation.containerId === "go-storage-1").length, 0);
    const slices = await api.request("GET", `${GROUP}/namespaces/${NS}/nodeslicepools/slices`);
    assert.deepEqual((slices.json() as { status: unknown }).status, {
      allocations: [{ nodeName: "node-1", sliceRange: "10.79.0.0/24" }],
    });
    const table = await kubectl("get", "ippools", "-n", NS);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+RANGE\s+USED\s+FREE\s+AGE/m);
    assert.match(table.stdout, /^10\.77\.0\.0-28\s+10\.77\.0\.0\/28\s+6\s+7\s/m, table.stdout);

    // 5. The way back: Go's CRDs re-applied, Go's installer run again, our extra name removed.
    const back = await kubectl("apply", "--validate=false", "-f", goCrds);
    assert.equal(back.code, 0, back.stderr);
    for (const name of CRD_NAMES) assert.equal((await crd(name)).metadata.uid, uids[name]);
    goInstall();
    const removed = install("uninstall", ["--names", "thereabouts"]);
    assert.match(removed, /^removed \S+\/thereabouts$/m);
    assert.match(removed, /kept \S+whereabouts\.d\/: its kubeconfig was written by another installer/);
    assert.doesNotMatch(
      readFileSync(join(host.sub, "whereabouts.kubeconfig"), "utf8"),
      /thereabouts install/,
    );
    assert.ok(
      JSON.parse(readFileSync(join(host.sub, "whereabouts.conf"), "utf8")).datastore === "kubernetes",
    );
    assert.deepEqual(
      readFileSync(join(host.bin, "whereabouts")),
      readFileSync(join(dir.path, "go-whereabouts")),
    );
    // Go honours what thereabouts allocated: its new pods get other addresses, and it releases ours.
    for (const net of NETS) {
      for (let i = 4; i < 6; i++) {
        const r = await go.add(net, {
          containerId: `go-${net.nad}-${i}`,
          podRef: `default/go-${i}`,
          ifName: "net1",
        });
        assert.ok(r.ok, JSON.stringify(r));
      }
      const r = await go.del(net, { containerId: `ts-${net.nad}-0`, podRef: "default/ts-0", ifName: "net1" });
      assert.ok(r.ok && r.released !== undefined, JSON.stringify(r));
    }
    const returned = await rawObjects(api, NS);
    assertConsistent(returned);
    for (const net of NETS)
      for (const i of [1, 2]) {
        const before = holdings(upgraded).find((h) => h.allocation.containerId === `ts-${net.nad}-${i}`);
        const after = holdings(returned).find((h) => h.allocation.containerId === `ts-${net.nad}-${i}`);
        assert.ok(
          before && after && before.address === after.address,
          `ts-${i} on ${net.nad} kept its address under Go`,
        );
      }
  });
});
