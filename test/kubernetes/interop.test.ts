// Issue #3 item 4: thereabouts and Go Whereabouts on the same cluster. Pools and reservations as
// Go v0.5.4, v0.6.3 and v0.9.4 wrote them (test/fixtures/go-pools.ts) are read and honoured through
// the plugin binary, configured as a Go network would be (`type: whereabouts`, only
// `kubernetes.kubeconfig`); the objects thereabouts writes are the ones Go writes (raw JSON
// compared with test/kubernetes/go-writer.ts's); and a Go-like writer and plugin processes
// allocating from one pool at the same time never hand out an address twice.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { inParallel, type PluginOutcome } from "../../src/cli/exec-plugin.ts";
import {
  GO_FIXTURES,
  GO_NEGATIVE_KEYS,
  GO_SEED_EXAMPLE,
  GO_V054,
  GO_V063,
  GO_V094,
  type GoFixture,
} from "../fixtures/go-pools.ts";
import { type ApiDouble, startApiDouble } from "../k8s-api/harness.ts";
import { startAgentProcess } from "../support/agent.ts";
import { assertEmpty, assertNoDuplicates, type Holding } from "../support/invariants.ts";
import {
  type AddCall,
  add,
  addressesOf,
  assertCleanOutcome,
  del,
  netConf,
  podArgs,
} from "../support/plugin.ts";
import { cniError, podAttachments, reportedHoldings } from "./go-runtime.ts";
import {
  GROUP_PATH,
  holdings,
  type RawObjects,
  type RawPool,
  type RawReservation,
  rawObjects,
  rawStore,
} from "./go-view.ts";
import { type GoNetwork, GoWriter } from "./go-writer.ts";

const NAMESPACE = "whereabouts";

/** The ipam section a Go network has: no `datastore`, just the kubeconfig. */
function goStyleConfig(
  api: ApiDouble,
  ipam: Readonly<Record<string, unknown>>,
  namespace = NAMESPACE,
): string {
  return netConf({ type: "whereabouts", kubernetes: { kubeconfig: api.kubeconfigPath(namespace) }, ...ipam });
}

/** An attachment of pod `<namespace>/<name>`. */
function podIn(config: string, ref: string, containerId: string, ifName = "eth0"): AddCall {
  const [namespace, name] = ref.split("/") as [string, string];
  return { config, pod: name, containerId, ifName, env: { CNI_ARGS: podArgs(name, namespace) } };
}

async function load(api: ApiDouble, fixture: GoFixture): Promise<void> {
  for (const [resource, objects] of [
    ["ippools", fixture.pools],
    ["overlappingrangeipreservations", fixture.reservations],
  ] as const) {
    for (const o of objects) {
      const r = await api.request("POST", `${GROUP_PATH}/namespaces/${NAMESPACE}/${resource}`, o);
      assert.equal(r.status, 201, `${fixture.writtenBy}: create ${o.metadata.name}: ${r.body}`);
    }
  }
}

function pool(objects: RawObjects, name: string): RawPool {
  const p = objects.pools.find((o) => o.metadata.name === name);
  assert.ok(p, `pool ${name} exists`);
  return p;
}

function reservationNames(objects: RawObjects): string[] {
  return objects.reservations.map((r) => r.metadata.name).sort();
}

describe("pools and reservations written by Go Whereabouts", () => {
  let api: ApiDouble;
  before(async () => {
    api = await startApiDouble({ seed: 4 });
    for (const fixture of GO_FIXTURES) await load(api, fixture);
  });
  after(() => api?.stop());

  it("v0.5.4: ADD never hands out a held address; DEL by container id releases a legacy entry (no ifname) and its reservation", async () => {
    const config = goStyleConfig(api, GO_V054.ipam);
    const fresh = ["n1", "n2", "n3"].map((n) => podIn(config, `fresh/${n}`, `c-${n}`));
    const got: string[] = [];
    for (const a of fresh) got.push(...addressesOf(await add(a)));
    assert.deepEqual(got, ["10.20.0.3/24", "10.20.0.4/24", "10.20.0.6/24"]);

    assert.equal((await del(podIn(config, "legacy/pod-b", "c054-b"))).code, 0);
    const objects = await rawObjects(api, NAMESPACE);
    const allocations = pool(objects, "10.20.0.0-24").spec.allocations;
    assert.deepEqual(
      allocations["1"],
      { id: "c054-a", podref: "legacy/pod-a" },
      "other legacy entries untouched",
    );
    assert.deepEqual(allocations["5"], { id: "c054-c", podref: "legacy/pod-c" });
    assert.equal(allocations["2"], undefined, "the legacy entry of c054-b is released");
    const names = reservationNames(objects);
    assert.ok(!names.includes("10.20.0.2"), "its reservation is released");
    for (const kept of ["10.20.0.1", "10.20.0.5"]) assert.ok(names.includes(kept), `${kept} kept`);
    assert.deepEqual(
      objects.reservations.find((r) => r.metadata.name === "10.20.0.1")!.spec,
      { containerid: "c054-a", podref: "legacy/pod-a" },
      "legacy reservations are left as written",
    );

    const reuse = podIn(config, "fresh/n4", "c-n4");
    assert.deepEqual(addressesOf(await add(reuse)), ["10.20.0.2/24"], "the released address is free again");
    for (const a of [...fresh, reuse]) assert.equal((await del(a)).code, 0);
    assert.deepEqual(
      Object.keys(pool(await rawObjects(api, NAMESPACE), "10.20.0.0-24").spec.allocations).sort(),
      ["1", "5"],
    );
  });

  it("v0.6.3: network_name-prefixed dual-stack pools are found; legacy entries in both families are released by container id", async () => {
    const config = goStyleConfig(api, GO_V063.ipam);
    const a = podIn(config, "fresh/n63", "c-n63");
    assert.deepEqual(addressesOf(await add(a)), ["10.21.0.3/24", "fd00:63::3/120"]);
    let objects = await rawObjects(api, NAMESPACE);
    for (const name of ["net63-10.21.0.3", "net63-fd00-63--3"])
      assert.ok(reservationNames(objects).includes(name), `reservation ${name}`);
    assert.equal((await del(podIn(config, "legacy/pod-d", "c063-a"))).code, 0);
    objects = await rawObjects(api, NAMESPACE);
    for (const name of ["net63-10.21.0.0-24", "net63-fd00-63---120"]) {
      assert.deepEqual(Object.keys(pool(objects, name).spec.allocations).sort(), ["2", "3"], name);
    }
    const names = reservationNames(objects);
    for (const gone of ["net63-10.21.0.1", "net63-fd00-63--1"])
      assert.ok(!names.includes(gone), `${gone} released`);
    for (const kept of ["net63-10.21.0.2", "net63-fd00-63--2"])
      assert.ok(names.includes(kept), `${kept} kept`);
    assert.equal((await del(a)).code, 0);
  });

  it("v0.9.4: a pod that holds an entry (same podref and ifname) gets it back with the container id updated", async () => {
    const config = goStyleConfig(api, GO_V094.ipam);
    const again = podIn(config, "modern/pod-a", "c094-a-new");
    assert.deepEqual(addressesOf(await add(again)), ["10.22.0.1/24", "2001:db8:94::1/64"]);
    let objects = await rawObjects(api, NAMESPACE);
    for (const name of ["10.22.0.0-24", "2001-db8-94---64"]) {
      assert.deepEqual(pool(objects, name).spec.allocations["1"], {
        id: "c094-a-new",
        podref: "modern/pod-a",
        ifname: "eth0",
      });
    }
    for (const name of ["10.22.0.1", "2001-db8-94--1"]) {
      const r = objects.reservations.find((o) => o.metadata.name === name);
      assert.equal(r?.spec.podref, "modern/pod-a", `${name} still owned by the pod`);
      assert.equal(r?.spec.ifname, "eth0");
    }

    // The same pod on another interface is another attachment: a new address, not net1's.
    const otherIf = podIn(config, "modern/pod-b", "c094-b-eth0");
    assert.deepEqual(addressesOf(await add(otherIf)), ["10.22.0.3/24", "2001:db8:94::3/64"]);
    assert.equal((await del(podIn(config, "modern/pod-b", "c094-b", "net1"))).code, 0);
    objects = await rawObjects(api, NAMESPACE);
    for (const name of ["10.22.0.0-24", "2001-db8-94---64"])
      assert.deepEqual(Object.keys(pool(objects, name).spec.allocations).sort(), ["1", "3"], name);
    const names = reservationNames(objects);
    for (const gone of ["10.22.0.2", "2001-db8-94--2"]) assert.ok(!names.includes(gone), `${gone} released`);
    assert.equal((await del(otherIf)).code, 0);
    assert.equal((await del(again)).code, 0);
    objects = await rawObjects(api, NAMESPACE);
    for (const name of ["10.22.0.0-24", "2001-db8-94---64"])
      assert.deepEqual(pool(objects, name).spec.allocations, {}, `${name} is empty`);
  });

  it("pre-0.5 negative offset keys in a /64 are honoured and kept", async () => {
    const high = goStyleConfig(api, {
      ...GO_NEGATIVE_KEYS.ipam,
      range_start: "fd00:0:0:20:8000::1",
      range_end: "fd00:0:0:20:8000::3",
    });
    const a = podIn(high, "fresh/neg-a", "c-neg-a");
    assert.deepEqual(
      addressesOf(await add(a)),
      ["fd00::20:8000:0:0:2/64"],
      "8000::1 is held by key -9223372036854775807",
    );

    // The top of the window: ffff:ffff:ffff:fffe is held by key -2, so only fffd is free.
    const top = goStyleConfig(api, {
      ...GO_NEGATIVE_KEYS.ipam,
      range_start: "fd00:0:0:20:ffff:ffff:ffff:fffd",
    });
    const b = podIn(top, "fresh/neg-b", "c-neg-b");
    const c = podIn(top, "fresh/neg-c", "c-neg-c");
    assert.deepEqual(addressesOf(await add(b)), ["fd00::20:ffff:ffff:ffff:fffd/64"]);
    const exhausted = await add(c);
    assertCleanOutcome(exhausted, "ADD into a full window");
    assert.equal(cniError(exhausted).code, 100, exhausted.stdout);

    let allocations = pool(await rawObjects(api, NAMESPACE), "fd00-0-0-20---64").spec.allocations;
    for (const key of ["1", "-9223372036854775807", "-2"])
      assert.deepEqual(
        allocations[key],
        GO_NEGATIVE_KEYS.pools[0]!.spec.allocations[key],
        `key ${key} kept as written`,
      );
    assert.equal(
      Object.values(allocations).filter((e) => e.podref === "fresh/neg-c").length,
      0,
      "the failed ADD left nothing",
    );

    // DEL by container id releases the legacy entry under its negative key; its address is free again.
    assert.equal((await del(podIn(high, "old/neg-high", "cneg-high"))).code, 0);
    allocations = pool(await rawObjects(api, NAMESPACE), "fd00-0-0-20---64").spec.allocations;
    assert.equal(allocations["-9223372036854775807"], undefined);
    const d = podIn(high, "fresh/neg-d", "c-neg-d");
    assert.deepEqual(addressesOf(await add(d)), ["fd00::20:8000:0:0:1/64"]);
    for (const x of [a, b, c, d]) assert.equal((await del(x)).code, 0);
  });

  it('the seed example pool 10.11.88.96-28: entry "2" holds 10.11.88.98', async () => {
    const config = goStyleConfig(api, GO_SEED_EXAMPLE.ipam);
    const pods = ["s1", "s2"].map((n) => podIn(config, `fresh/${n}`, `c-${n}`));
    const got: string[] = [];
    for (const p of pods) got.push(...addressesOf(await add(p)));
    assert.deepEqual(got, ["10.11.88.97/28", "10.11.88.99/28"]);
    assert.equal((await del(podIn(config, "default/seed-pod", "seed-container"))).code, 0);
    assert.equal(pool(await rawObjects(api, NAMESPACE), "10.11.88.96-28").spec.allocations["2"], undefined);
    for (const p of pods) assert.equal((await del(p)).code, 0);
  });
});

/**
 * The parts of an object Go and thereabouts both decide: not the server's metadata, and not labels
 * (Go neither writes nor reads any; thereabouts may mark what it wrote). Finalizers or owner
 * references would matter (a Go DEL could not delete the object, a garbage collector could), so
 * everything else in metadata is compared.
 */
function shapeOf(o: RawPool | RawReservation): unknown {
  // Labels and annotations are compared apart: ours (the owner label, the claim) are extra to Go's.
  const {
    name,
    namespace,
    uid,
    resourceVersion,
    creationTimestamp,
    generation,
    labels,
    annotations,
    ...extra
  } = o.metadata;
  return { apiVersion: o.apiVersion, kind: o.kind, name, extraMetadata: extra, spec: o.spec };
}

describe("objects written by thereabouts are the objects Go writes", () => {
  let api: ApiDouble;
  before(async () => {
    api = await startApiDouble({ seed: 5 });
  });
  after(() => api?.stop());

  const cases: readonly {
    readonly network: GoNetwork;
    readonly ipam: Record<string, unknown>;
    readonly pool: string;
    readonly reservation: string;
  }[] = [
    {
      network: { range: "192.168.2.230/28" },
      ipam: { range: "192.168.2.230/28" },
      pool: "192.168.2.224-28",
      reservation: "192.168.2.225",
    },
    {
      network: { range: "192.168.2.224/28", networkName: "blue" },
      ipam: { range: "192.168.2.224/28", network_name: "blue" },
      pool: "blue-192.168.2.224-28",
      reservation: "blue-192.168.2.225",
    },
    {
      network: { range: "2001::/116" },
      ipam: { range: "2001::/116" },
      pool: "2001---116",
      reservation: "2001--1",
    },
    {
      network: { range: "fd00:0:0:10::/64", rangeStart: "fd00:0:0:10:0:0:3:1" },
      ipam: { range: "fd00:0:0:10::/64", range_start: "fd00:0:0:10:0:0:3:1" },
      pool: "fd00-0-0-10---64",
      reservation: "fd00--10-0-0-3-1",
    },
    {
      network: { range: "2001:db8:480:603d::/64", rangeStart: "2001:db8:480:603d:304:403::" },
      ipam: { range: "2001:db8:480:603d::/64", range_start: "2001:db8:480:603d:304:403::" },
      pool: "2001-db8-480-603d---64",
      reservation: "2001-db8-480-603d-304-403--0",
    },
  ];

  it("pool and reservation names, spec.range and entry fields match (ADD, repeated ADD, DEL)", async (t) => {
    const go = new GoWriter({ url: api.url, namespace: "go" });
    const compare = async (step: string) => {
      const [mine, theirs] = await Promise.all([rawObjects(api, "ts"), rawObjects(api, "go")]);
      const byName = (xs: readonly (RawPool | RawReservation)[]) =>
        xs.map(shapeOf).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
      assert.deepEqual(byName(mine.pools), byName(theirs.pools), `${step}: IPPools`);
      // Go v0.9.4 writes {podref, ifname}; a containerid next to them is what ≤ v0.7 wrote, harmless to Go.
      const orips = (xs: readonly RawReservation[], dropContainerId: boolean) =>
        byName(
          xs.map((r) => {
            if (!dropContainerId || r.spec.containerid === undefined) return r;
            const { containerid, ...spec } = r.spec;
            assert.equal(containerid, "ctr-shape", `${r.metadata.name}: containerid is the attachment's`);
            return { ...r, spec };
          }),
        );
      assert.deepEqual(
        orips(mine.reservations, true),
        orips(theirs.reservations, false),
        `${step}: reservations`,
      );
      if (mine.reservations.some((r) => r.spec.containerid !== undefined))
        t.diagnostic(`${step}: thereabouts writes spec.containerid in reservations (Go v0.9.4 does not)`);
      const labels = new Set(
        [...mine.pools, ...mine.reservations].flatMap((o) => Object.keys(o.metadata.labels ?? {})),
      );
      if (labels.size > 0) t.diagnostic(`${step}: thereabouts labels its objects: ${[...labels].join(", ")}`);
      const notes = (o: RawPool | RawReservation) => Object.keys(o.metadata["annotations"] ?? {});
      assert.deepEqual([...theirs.pools, ...theirs.reservations].flatMap(notes), [], "Go annotates nothing");
      assert.deepEqual(mine.pools.flatMap(notes), [], "thereabouts annotates no pool");
      for (const r of mine.reservations)
        assert.deepEqual(notes(r).sort(), [
          "thereabouts.cni.cncf.io/address",
          "thereabouts.cni.cncf.io/network-name",
        ]);
      return mine;
    };
    const calls = cases.map((c) => podIn(goStyleConfig(api, c.ipam, "ts"), "shapes/pod", "ctr-shape"));
    for (const [i, c] of cases.entries()) {
      const r = await go.add(c.network, { containerId: "ctr-shape", podRef: "shapes/pod" });
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal((await add(calls[i]!)).code, 0);
    }
    const mine = await compare("after ADD");
    assert.deepEqual(mine.pools.map((p) => p.metadata.name).sort(), cases.map((c) => c.pool).sort());
    assert.deepEqual(reservationNames(mine), cases.map((c) => c.reservation).sort());

    for (const [i, c] of cases.entries()) {
      assert.ok((await go.add(c.network, { containerId: "ctr-shape-2", podRef: "shapes/pod" })).ok);
      assert.equal((await add({ ...calls[i]!, containerId: "ctr-shape-2" })).code, 0);
    }
    // The repeated ADD rewrote the id; reservations stay as first written (compare ignoring their containerid).
    const [mine2, theirs2] = await Promise.all([rawObjects(api, "ts"), rawObjects(api, "go")]);
    assert.deepEqual(
      mine2.pools.map(shapeOf).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      theirs2.pools.map(shapeOf).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      "after a repeated ADD from a new container",
    );

    for (const [i, c] of cases.entries()) {
      assert.ok((await go.del(c.network, { containerId: "ctr-shape-2", podRef: "shapes/pod" })).ok);
      assert.equal((await del({ ...calls[i]!, containerId: "ctr-shape-2" })).code, 0);
    }
    await compare("after DEL");
    await assertEmpty(rawStore(await rawObjects(api, "ts")));
  });
});

describe("a Go-like writer and thereabouts allocating from one pool at the same time", () => {
  let api: ApiDouble;
  before(async () => {
    api = await startApiDouble({ seed: 6 });
  });
  after(() => api?.stop());

  const EACH = 100;
  const IN_FLIGHT = 16;

  it(`${EACH} Go ADDs and ${EACH} plugin ADDs, ${IN_FLIGHT} in flight each: no duplicate; every DEL releases`, async (t) => {
    const namespace = "race";
    const network: GoNetwork = { range: "198.19.0.0/24" };
    const config = goStyleConfig(api, { range: network.range }, namespace);
    const plugin = podAttachments(config, EACH, 4, "ts");
    const goPods = Array.from({ length: EACH }, (_, i) => ({
      containerId: `go-ctr-${i}`,
      podRef: `default/go-${i}`,
    }));
    const go = new GoWriter({ url: api.url, namespace });
    const [goResults, pluginResults] = await Promise.all([
      inParallel(goPods, IN_FLIGHT, (p) => go.add(network, p)),
      inParallel(plugin, IN_FLIGHT, (c) => add(c)),
    ]);
    for (const [i, o] of pluginResults.entries()) assertCleanOutcome(o, `ADD ${plugin[i]!.pod}`);
    const goFailed = goResults.flatMap((r, i) => (r.ok ? [] : [`go-${i}: ${r.error}`]));
    const pluginFailed = pluginResults.filter((o) => o.code !== 0).map((o) => o.stdout);
    t.diagnostic(
      `Go writer: ${EACH - goFailed.length}/${EACH} ok, ${goResults.reduce((n, r) => n + r.attempts, 0)} attempts, ${go.requests} requests; ` +
        `plugin: ${EACH - pluginFailed.length}/${EACH} ok`,
    );
    if (goFailed.length > 0) t.diagnostic(`Go failures: ${goFailed.slice(0, 5).join("; ")}`);
    assert.deepEqual(pluginFailed, [], "every plugin ADD succeeds");
    assert.ok(goFailed.length <= EACH * 0.1, `most Go ADDs succeed (${goFailed.join("; ")})`);

    const reported: Holding[] = [
      ...goResults.flatMap((r, i) => (r.ok ? [{ address: r.address, podRef: goPods[i]!.podRef }] : [])),
      ...reportedHoldings(plugin, pluginResults),
    ];
    const objects = await rawObjects(api, namespace);
    await assertNoDuplicates(rawStore(objects), reported);
    const pluginHeld = holdings(objects).filter((h) => h.allocation.podRef.startsWith("default/ts-"));
    assert.equal(pluginHeld.length, EACH, "every plugin ADD is recorded");

    const [goDels, pluginDels] = await Promise.all([
      inParallel(goPods, IN_FLIGHT, (p) => go.del(network, p)),
      inParallel(plugin, IN_FLIGHT, (c) => del(c)),
    ]);
    assert.deepEqual(
      goDels.filter((r) => !r.ok),
      [],
      "every Go DEL succeeds",
    );
    for (const [i, o] of pluginDels.entries()) assert.equal(o.code, 0, `DEL ${plugin[i]!.pod}: ${o.stdout}`);
    await assertEmpty(rawStore(await rawObjects(api, namespace)));
  });
});

// During a migration Go plugins (which serialise on the Lease `whereabouts`) and thereabouts
// plugins (which never take it) write the same pool. thereabouts writes an entry before its
// reservation, so every race between the two is caught by Go's resourceVersion test and retried by
// Go, never surfacing as Go's reservation POST finding ours in place (which failed about one Go ADD
// in 60 before). Through a node agent, thereabouts also waits while a Go plugin holds the Lease
// (go-lease-gate.ts), so a Go plugin needs no more retries than beside other Go plugins; plugins
// working alone do not (it would cost every ADD a Lease read), and a pool they write many times a
// second can make a Go plugin retry many times.
describe("Go plugins taking the Lease and thereabouts plugins on one pool", () => {
  let api: ApiDouble;
  before(async () => {
    api = await startApiDouble({ seed: 7 });
    await api.setLatency({ writeMs: 2 });
  });
  after(() => api?.stop());

  const GO_ADDS = 60;
  const IN_FLIGHT = 16;
  /** Plugin ADDs keep coming while the Go ADDs run (the Lease makes those slow), up to this many. */
  const MAX_PLUGIN_ADDS = 400;
  /** Go's pool attempts beside Go plugins: one, and a second after a lost race. */
  const GO_LIKE_ATTEMPTS = 4;

  for (const via of ["plugins alone", "a node agent"] as const)
    it(`${GO_ADDS} Go ADDs (Go's exact sequence, Lease included) among plugin ADDs (${via}), ${IN_FLIGHT} in flight each: no Go ADD fails at its reservation, no duplicate, DELs leave nothing`, async (t) => {
      const namespace = via === "plugins alone" ? "migrating" : "migrating-agent";
      const network: GoNetwork = { range: "198.19.2.0/23" };
      const config = goStyleConfig(api, { range: network.range }, namespace);
      const agent = via === "a node agent" ? await startAgentProcess() : undefined;
      t.after(() => agent?.stop());
      const plugin = podAttachments(config, MAX_PLUGIN_ADDS, 4, "ts").map((c) =>
        agent === undefined ? c : { ...c, env: { ...c.env, ...agent.env } },
      );
      const goPods = Array.from({ length: GO_ADDS }, (_, i) => ({
        containerId: `go-ctr-${i}`,
        podRef: `default/go-${i}`,
      }));
      const go = new GoWriter({ url: api.url, namespace, lease: true });
      // Go was there first (its Lease exists), as in a cluster being migrated.
      const first = await go.add(network, goPods[0]!);
      assert.ok(first.ok, "the first Go ADD");
      let goDone = false;
      const goRun = inParallel(goPods.slice(1), IN_FLIGHT, (p) => go.add(network, p)).finally(() => {
        goDone = true;
      });
      const pluginResults: PluginOutcome[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (!goDone && next < plugin.length) pluginResults[next] = await add(plugin[next++]!);
        }),
      );
      const goResults = [first, ...(await goRun)];
      const added = plugin.slice(0, pluginResults.length);
      const goFailed = goResults.flatMap((r, i) => (r.ok ? [] : [`go-${i}: ${r.error}`]));
      const attempts = goResults.map((r) => r.attempts);
      t.diagnostic(
        `Go: ${GO_ADDS - goFailed.length}/${GO_ADDS} ok, at most ${Math.max(...attempts)} pool attempts, ${go.leaseWaits} Lease waits; plugin ADDs meanwhile: ${added.length}`,
      );
      assert.ok(added.length >= GO_ADDS, "plugin ADDs ran all along");
      assert.deepEqual(
        goFailed.filter((f) => f.includes("ORIP")),
        [],
        "no Go ADD fails at its reservation POST",
      );
      if (agent !== undefined) {
        assert.deepEqual(goFailed, [], "every Go ADD succeeds");
        assert.ok(
          Math.max(...attempts) <= GO_LIKE_ATTEMPTS,
          `Go plugins retry no more than beside Go plugins (${attempts.join(",")})`,
        );
      }
      for (const [i, o] of pluginResults.entries())
        assert.equal(o.code, 0, `ADD ${plugin[i]!.pod}: ${o.stdout}`);

      const succeeded = goPods.filter((_, i) => goResults[i]!.ok);
      const reported: Holding[] = [
        ...goResults.flatMap((r, i) => (r.ok ? [{ address: r.address, podRef: goPods[i]!.podRef }] : [])),
        ...reportedHoldings(added, pluginResults),
      ];
      const objects = await rawObjects(api, namespace);
      await assertNoDuplicates(rawStore(objects), reported);
      assert.equal(holdings(objects).length, succeeded.length + added.length, "every ADD is recorded");
      assert.equal(
        objects.reservations.length,
        succeeded.length + added.length,
        "every ADD holds its reservation",
      );

      const [goDels, pluginDels] = await Promise.all([
        inParallel(goPods, IN_FLIGHT, (p) => go.del(network, p)),
        inParallel(added, IN_FLIGHT, (c) => del(c)),
      ]);
      assert.deepEqual(
        goDels.filter((r) => !r.ok),
        [],
        "every Go DEL succeeds",
      );
      for (const [i, o] of pluginDels.entries()) assert.equal(o.code, 0, `DEL ${added[i]!.pod}: ${o.stdout}`);
      await assertEmpty(rawStore(await rawObjects(api, namespace)));
    });
});
