// `thereabouts migrate`, as an operator runs it: the shipped executable reads a real etcd seeded in
// Go Whereabouts v0.5.4's layout (test/tools/go-v054-etcd.ts: several ranges, IPv6 among them, a
// few hundred allocations) and writes into the Kubernetes API double. Checked from the outside:
// the objects as Go v0.9.4 reads them (offsets from spec.range, entry fields, reservations), the
// double's request log (a dry run and a second run write nothing), our plugin allocating around
// the migrated addresses, and DEL releasing them.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { planReleases } from "../../src/controller/plan.ts";
import { EtcdCluster, freePort } from "../etcd/etcd-cluster.ts";
import { type ApiDouble, startApiDouble } from "../k8s-api/harness.ts";
import { holdings, rawObjects, reservationOf, snapshotOf } from "../kubernetes/go-view.ts";
import { add, addressesOf, BINARY, del, netConf, type TempDir, tempDir } from "../support/plugin.ts";
import {
  dumpGoV054,
  type GoV054Range,
  holdGoV054Lock,
  writeGoV054,
  writeGoV054Value,
} from "./go-v054-etcd.ts";

const ALONE = { THEREABOUTS_AGENT_SOCKET: "" };

/** 10.40.0.0/16: offsets 1…260 but 77 (released in v0.5.4), so past the first /24. */
const WIDE: GoV054Range = {
  range: "10.40.0.0/16",
  allocations: Array.from({ length: 260 }, (_, i) => i + 1)
    .filter((i) => i !== 77)
    .map((i) => [`10.40.${i >> 8}.${i & 255}`, `c0ffee${i.toString(16).padStart(58, "0")}`] as const),
};
/** A range the target network does not configure (another v0.5.4 network in the same etcd). */
const OTHER: GoV054Range = {
  range: "10.41.0.0/24",
  allocations: Array.from({ length: 40 }, (_, i) => [`10.41.0.${i + 1}`, `other-${i + 1}`] as const),
};
const V6: GoV054Range = {
  range: "fd00:40::/64",
  allocations: Array.from(
    { length: 60 },
    (_, i) => [`fd00:40::${(i + 1).toString(16)}`, `six-${i + 1}`] as const,
  ),
};
/** Every address of it was released: v0.5.4 leaves "". */
const EMPTIED = "10.42.0.0/24";
const TOTAL = WIDE.allocations.length + OTHER.allocations.length + V6.allocations.length;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: readonly string[], env: Record<string, string> = {}): Run {
  const { CNI_COMMAND: _, ...rest } = process.env;
  const r = spawnSync(BINARY.file, ["migrate", ...args], {
    env: { ...rest, ...ALONE, ...env },
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Record_ {
  outcome: string;
  source: { revision: string; ranges: number; selected: number; allocations: number };
  target: { datastore: string; namespace?: string; networkName: string };
  pools: {
    pool: string;
    range: string;
    allocations: number;
    add: number;
    present: number;
    reservations: number;
    addresses: { address: string; containerId: string; action: string }[];
  }[];
  problems: { kind: string; range: string; address?: string; containerId?: string; message: string }[];
  written?: { entries: number; reservations: number };
}

function json(run: Run): Record_ {
  return JSON.parse(run.stdout) as Record_;
}

/** Write requests (anything but get, list, watch) the double served in `namespace` since its last reset. */
async function writesIn(api: ApiDouble, namespace: string): Promise<string[]> {
  const { log } = await api.requests();
  return log
    .filter((r) => r.namespace === namespace && !["get", "list", "watch"].includes(r.verb))
    .map((r) => `${r.verb} ${r.resource} ${r.name}`);
}

/** address → container id of every v0.5.4 allocation of the ranges. */
function expected(...ranges: GoV054Range[]): Map<string, string> {
  return new Map(ranges.flatMap((r) => r.allocations.map(([ip, id]) => [ip, id] as const)));
}

describe("thereabouts migrate: Go Whereabouts v0.5.4 etcd → Kubernetes (shipped executable, real etcd, API double)", () => {
  let cluster: EtcdCluster;
  let api: ApiDouble;
  let dir: TempDir;
  let from: string;
  const file = (name: string, ipam: Record<string, unknown>, network = "storage-net") => {
    const path = join(dir.path, name);
    writeFileSync(path, netConf(ipam, "1.0.0", network));
    return path;
  };
  /** The thereabouts network in `namespace`: the v0.5.4 range plus the IPv6 one (dual-stack). */
  const target = (namespace: string, extra: Record<string, unknown> = {}) =>
    file(`to-${namespace}.conf`, {
      type: "whereabouts",
      range: WIDE.range,
      ipRanges: [{ range: V6.range }],
      kubernetes: { kubeconfig: api.kubeconfigPath(namespace) },
      ...extra,
    });

  before(async () => {
    [cluster, api] = await Promise.all([EtcdCluster.start({ inMemory: true }), startApiDouble({ seed: 14 })]);
    dir = tempDir();
    await writeGoV054(cluster, [WIDE, OTHER, V6]);
    await writeGoV054Value(cluster, EMPTIED, "");
    // As v0.5.4 used it: no `datastore` (etcd was its default), etcd_host, one range.
    from = file("from.conf", { type: "whereabouts", range: WIDE.range, etcd_host: cluster.endpoint(0) });
  });
  after(async () => {
    await Promise.all([cluster?.stop(), api?.stop()]);
    dir?.remove();
  });

  it("--dry-run prints the plan per pool and writes nothing", async () => {
    const to = target("dry");
    const etcdBefore = await dumpGoV054(cluster);
    await api.resetRequests();
    const run = cli(["--from", from, "--to", to, "--dry-run", "-o", "json"]);
    assert.equal(run.code, 0, run.stderr);
    const record = json(run);
    assert.equal(record.outcome, "planned");
    assert.deepEqual(record.source.ranges, 4);
    assert.deepEqual(record.source.allocations, TOTAL);
    assert.deepEqual(
      record.pools.map((p) => [p.pool, p.range, p.allocations, p.add, p.present, p.reservations]),
      [
        ["10.40.0.0-16", "10.40.0.0/16", 259, 259, 0, 259],
        ["10.41.0.0-24", "10.41.0.0/24", 40, 40, 0, 40],
        ["10.42.0.0-24", "10.42.0.0/24", 0, 0, 0, 0],
        ["fd00-40---64", "fd00:40::/64", 60, 60, 0, 60],
      ],
    );
    assert.deepEqual(
      new Map(record.pools.flatMap((p) => p.addresses.map((a) => [a.address, a.containerId] as const))),
      expected(WIDE, OTHER, V6),
      "every address to add, with its container",
    );
    assert.deepEqual(await writesIn(api, "dry"), [], "no write request");
    assert.deepEqual((await rawObjects(api, "dry")).pools, []);
    assert.deepEqual(await dumpGoV054(cluster), etcdBefore, "the source is only read");
    assert.equal(run.stderr, "", "no progress output when stderr is not a terminal");
  });

  it("migrates every v0.5.4 range into IPPools and reservations as Go v0.9.4 reads them; the controller never reclaims them", async () => {
    const to = target("mig");
    const run = cli(["--from", from, "--to", to, "-o", "json"]);
    assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
    const record = json(run);
    assert.equal(record.outcome, "migrated");
    assert.deepEqual(record.written, { entries: TOTAL, reservations: TOTAL });
    assert.deepEqual(record.target, {
      datastore: "kubernetes",
      namespace: "mig",
      networkName: "",
      overlappingRanges: true,
    });

    const objects = await rawObjects(api, "mig");
    assert.deepEqual(objects.pools.map((p) => [p.metadata.name, p.spec.range]).sort(), [
      ["10.40.0.0-16", "10.40.0.0/16"],
      ["10.41.0.0-24", "10.41.0.0/24"],
      ["fd00-40---64", "fd00:40::/64"],
    ]);
    // Go's reading: offsets from spec.range (holdings fails on any key Go could not read).
    const held = holdings(objects);
    assert.deepEqual(
      new Map(held.map((h) => [h.address, h.allocation.containerId])),
      expected(WIDE, OTHER, V6),
    );
    for (const h of held)
      assert.deepEqual(h.allocation, { containerId: h.allocation.containerId, podRef: "", ifName: "" });
    const wide = objects.pools.find((p) => p.metadata.name === "10.40.0.0-16")!;
    assert.deepEqual(
      wide.spec.allocations["260"],
      { id: WIDE.allocations.at(-1)![1], podref: "" },
      "10.40.1.4 at offset 260",
    );
    assert.equal(wide.spec.allocations["77"], undefined);
    const v6 = objects.pools.find((p) => p.metadata.name === "fd00-40---64")!;
    assert.deepEqual(v6.spec.allocations["60"], { id: "six-60", podref: "" }, "fd00:40::3c at offset 60");
    // One reservation per address, named as Go names them, held by the same container.
    assert.equal(objects.reservations.length, TOTAL);
    const reservations = new Map(objects.reservations.map((r) => [r.metadata.name, r.spec]));
    assert.deepEqual(reservations.get("10.40.1.4"), { podref: "", containerid: WIDE.allocations.at(-1)![1] });
    assert.deepEqual(reservations.get("fd00-40--3c"), { podref: "", containerid: "six-60" });

    // The controller's own planning, told every pod is gone: an entry without a podref is never its to free.
    const plan = planReleases(
      objects.pools.map(snapshotOf),
      objects.reservations.map(reservationOf),
      () => true,
    );
    assert.deepEqual([plan.groups, plan.reservations], [[], []]);
  });

  it("a second run changes nothing and says so", async () => {
    const to = target("mig");
    const before = await rawObjects(api, "mig");
    await api.resetRequests();
    const run = cli(["--from", from, "--to", to]);
    assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
    assert.match(run.stdout, new RegExp(`\\nnothing to do: all ${TOTAL} addresses already there\\n$`));
    assert.deepEqual(await writesIn(api, "mig"), []);
    assert.deepEqual(await rawObjects(api, "mig"), before);
  });

  it("our plugin then allocates around the migrated addresses, and DEL by the container id releases one with its reservation", async () => {
    const config = netConf(
      {
        type: "whereabouts",
        range: WIDE.range,
        ipRanges: [{ range: V6.range }],
        kubernetes: { kubeconfig: api.kubeconfigPath("mig") },
      },
      "1.0.0",
      "storage-net",
    );
    assert.deepEqual(addressesOf(await add({ config, pod: "new-a", containerId: "new-a", env: ALONE })), [
      "10.40.0.77/16",
      "fd00:40::3d/64",
    ]);
    assert.deepEqual(addressesOf(await add({ config, pod: "new-b", containerId: "new-b", env: ALONE })), [
      "10.40.1.5/16",
      "fd00:40::3e/64",
    ]);
    // The runtime's DEL of a pod that v0.5.4 served: its sandbox's container id, any interface.
    const [ip, id] = WIDE.allocations[9]!;
    const gone = await del({ config, pod: "old-pod", containerId: id, ifName: "net1", env: ALONE });
    assert.equal(gone.code, 0, gone.stdout);
    const objects = await rawObjects(api, "mig");
    assert.equal(holdings(objects).filter((h) => h.address === ip).length, 0, `${ip} released`);
    assert.equal(
      objects.reservations.filter((r) => r.metadata.name === ip).length,
      0,
      "with its reservation",
    );
    assert.deepEqual(
      addressesOf(await add({ config, pod: "new-c", containerId: "new-c", env: ALONE }))[0],
      `${ip}/16`,
    );
  });

  it("an address the target holds for another container is reported (exit 1) and nothing is written", async () => {
    const to = target("clash");
    const config = netConf(
      { type: "whereabouts", range: WIDE.range, kubernetes: { kubeconfig: api.kubeconfigPath("clash") } },
      "1.0.0",
    );
    // thereabouts already installed and serving before the migration: its ADD took 10.40.0.1.
    assert.deepEqual(addressesOf(await add({ config, pod: "early", containerId: "early", env: ALONE })), [
      "10.40.0.1/16",
    ]);
    const before = await rawObjects(api, "clash");
    await api.resetRequests();
    const run = cli(["--from", from, "--to", to]);
    assert.equal(run.code, 1, run.stdout);
    // Problems are wrapped to the terminal's width: read them unwrapped.
    const text = run.stdout.replaceAll("\n  ", " ");
    assert.match(
      text,
      /\n- held: 10\.40\.0\.1 of container "c0ffee0+1" is held in pool 10\.40\.0\.0-16 by container "early" \(pod default\/early\): find which pod really has it and release the other, then run again\n/,
    );
    assert.match(run.stdout, /1 problem: nothing written/);
    assert.deepEqual(await writesIn(api, "clash"), []);
    assert.deepEqual(await rawObjects(api, "clash"), before, "target unchanged");
    for (const line of run.stdout.split("\n")) assert.ok(line.length <= 80, `fits 80 columns: ${line}`);
  });

  it("--only-configured migrates only the --from network's range; a held v0.5.4 lock refuses the run", async () => {
    const lock = await holdGoV054Lock(cluster, WIDE.range);
    const to = target("only");
    try {
      const refused = cli(["--from", from, "--to", to, "--only-configured", "-o", "json"]);
      assert.equal(refused.code, 1);
      const problems = json(refused).problems;
      assert.deepEqual(
        problems.map((p) => [p.kind, p.range]),
        [["locked", "10.40.0.0/16"]],
      );
      assert.match(problems[0]!.message, new RegExp(`etcd key ${lock.key}\\): stop every v0\\.5\\.4 plugin`));
      assert.deepEqual((await rawObjects(api, "only")).pools, []);
    } finally {
      await lock.release();
    }
    const run = cli(["--from", from, "--to", to, "--only-configured", "-o", "yaml"]);
    assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
    assert.match(run.stdout, /^outcome: migrated$/m);
    const objects = await rawObjects(api, "only");
    assert.deepEqual(
      objects.pools.map((p) => p.metadata.name),
      ["10.40.0.0-16"],
    );
    assert.deepEqual(
      new Map(holdings(objects).map((h) => [h.address, h.allocation.containerId])),
      expected(WIDE),
    );
  });

  it("into thereabouts' own etcd layout (another prefix of the same etcd) too", async () => {
    const ipam = {
      type: "whereabouts",
      range: WIDE.range,
      datastore: "etcd",
      etcd_host: cluster.endpoint(0),
      etcd_prefix: "/migrated",
    };
    const to = file("to-etcd.conf", ipam);
    const source = await dumpGoV054(cluster);
    const run = cli(["--from", from, "--to", to, "--only-configured", "-o", "json"]);
    assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
    assert.deepEqual(json(run).written, { entries: 259, reservations: 259 });
    assert.equal(
      json(cli(["--from", from, "--to", to, "--only-configured", "-o", "json"])).outcome,
      "unchanged",
    );
    assert.deepEqual(await dumpGoV054(cluster), source, "v0.5.4's keys untouched");
    const config = netConf(ipam, "1.0.0");
    assert.deepEqual(addressesOf(await add({ config, pod: "e", containerId: "e", env: ALONE })), [
      "10.40.0.77/16",
    ]);
  });

  it("a --from that is not v0.5.4's etcd, or cannot be reached, fails with what to fix; bad usage exits 2", async () => {
    const kube = file("kube.conf", {
      type: "whereabouts",
      range: WIDE.range,
      kubernetes: { kubeconfig: api.kubeconfigPath("x") },
    });
    const notEtcd = cli(["--from", kube, "--to", target("bad")]);
    assert.equal(notEtcd.code, 1);
    assert.match(
      notEtcd.stderr,
      /--from: network "storage-net" uses datastore kubernetes; give the configuration Go Whereabouts v0\.5\.4 used with etcd/,
    );
    const dead = `127.0.0.1:${await freePort()}`;
    const unreachable = file("dead.conf", {
      type: "whereabouts",
      range: WIDE.range,
      etcd_host: dead,
      etcd_password: "s3cret-pw",
      etcd_username: "u",
    });
    const started = Date.now();
    const run = cli(["--from", unreachable, "--to", target("bad")]);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      new RegExp(
        `Cannot read Go Whereabouts v0\\.5\\.4's allocations .* from etcd at http://${dead}: .*ECONNREFUSED`,
      ),
    );
    assert.doesNotMatch(run.stderr, /s3cret-pw/);
    assert.ok(Date.now() - started < 15_000, "gives up within the client's budget");
    const missing = cli(["--from", from]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /give both --from FILE .* and --to FILE/);
    assert.equal(cli(["--from", from, "--to", target("bad"), "--frobnicate"]).code, 2);
    assert.deepEqual((await rawObjects(api, "bad")).pools, []);
  });

  it("on a terminal the write shows progress on stderr", async () => {
    const to = target("tty");
    const out = join(dir.path, "tty.out");
    // script(1) gives the command a pseudo-terminal; its output (stdout and stderr) lands in the file.
    const command = [BINARY.file, "migrate", "--from", from, "--to", to].map((a) => `'${a}'`).join(" ");
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn("script", ["-qec", command, out], {
        env: { ...process.env, ...ALONE, NO_COLOR: "1" },
        stdio: "ignore",
      });
      child.on("exit", (c) => resolve(c));
    });
    assert.equal(code, 0);
    const text = readFileSync(out, "utf8");
    assert.match(text, new RegExp(`\\rmigrating: addresses written ${TOTAL}/${TOTAL} \\(100%\\)`));
    assert.match(text, /migrated 359 addresses and 359 reservations into 3 pools/);
  });
});

describe("thereabouts migrate: etcd with TLS and auth", () => {
  let cluster: EtcdCluster;
  let api: ApiDouble;
  let dir: TempDir;
  before(async () => {
    [cluster, api] = await Promise.all([
      EtcdCluster.start({
        inMemory: true,
        tls: true,
        rootPassword: "root-pw",
        users: [{ name: "legacy", password: "legacy-pw", prefix: "/whereabouts/" }],
      }),
      startApiDouble({ seed: 15 }),
    ]);
    dir = tempDir();
    await writeGoV054(cluster, [V6]);
  });
  after(async () => {
    await Promise.all([cluster?.stop(), api?.stop()]);
    dir?.remove();
  });

  it("reads with the etcd_* TLS files and credentials of the --from configuration", async () => {
    const conf = (name: string, ipam: Record<string, unknown>) => {
      const path = join(dir.path, name);
      writeFileSync(path, netConf(ipam, "1.0.0"));
      return path;
    };
    const keys = cluster.ipamKeys({ username: "legacy", password: "legacy-pw" });
    const from = conf("from.conf", { type: "whereabouts", range: V6.range, ...keys });
    const to = conf("to.conf", {
      type: "whereabouts",
      range: V6.range,
      kubernetes: { kubeconfig: api.kubeconfigPath("tls") },
    });
    const run = cli(["--from", from, "--to", to, "-o", "json"]);
    assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
    assert.deepEqual(json(run).written, { entries: 60, reservations: 60 });
    assert.deepEqual(
      new Map(holdings(await rawObjects(api, "tls")).map((h) => [h.address, h.allocation.containerId])),
      expected(V6),
    );
    const wrong = conf("wrong.conf", {
      type: "whereabouts",
      range: V6.range,
      ...keys,
      etcd_password: "nope-pw",
    });
    const refused = cli(["--from", wrong, "--to", to]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /authenticating as "legacy"/);
    assert.doesNotMatch(refused.stderr, /nope-pw/);
  });
});
