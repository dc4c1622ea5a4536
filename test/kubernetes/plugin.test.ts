// The Kubernetes datastore through the shipped executable, one call at a time (issue #3 items 3
// and 6): request budgets counted by the API double, dual-stack, overlapping ranges across
// networks (A.4 E18/E19), network_name isolation, reservations released only by their owner, a
// failed ADD leaving nothing behind, and the transport: HTTPS with the kubeconfig's
// certificate-authority-data and a bearer token, a wrong token, STATUS with the API server down.
import assert from "node:assert/strict";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { PluginOutcome } from "../../src/cli/exec-plugin.ts";
import type { FaultRule } from "../k8s-api/faults.ts";
import { type ApiDouble, startApiDouble } from "../k8s-api/harness.ts";
import { assertEmpty } from "../support/invariants.ts";
import {
  type AddCall,
  add,
  addressesOf,
  assertCleanOutcome,
  del,
  netConf,
  podArgs,
  run,
  type TempDir,
  tempDir,
} from "../support/plugin.ts";
import { cniError, delUntilDone, kubeIpam } from "./go-runtime.ts";
import {
  assertReservationsMatchEntries,
  holdings,
  type RawObjects,
  rawObjects,
  rawStore,
} from "./go-view.ts";

/** An attachment of pod `pod` (namespace default) with a container id derived from it. */
function attachment(config: string, pod: string, extra: Partial<AddCall> = {}): AddCall {
  return { config, pod, containerId: `ctr-${pod}`, ...extra };
}

async function requestsDuring(api: ApiDouble, work: () => Promise<unknown>) {
  await api.resetRequests();
  await work();
  const { total, counts } = await api.requests();
  return { total, counts };
}

describe("kubernetes datastore through the plugin (HTTPS, CA data, bearer token)", () => {
  let api: ApiDouble;
  let dir: TempDir;
  before(async () => {
    api = await startApiDouble({ tls: true, token: "s3cret-token", anonymousAuth: false });
    dir = tempDir();
  });
  after(async () => {
    await api?.stop();
    dir?.remove();
  });

  const configIn = (namespace: string, extra: Record<string, unknown>, name = "testnet") =>
    netConf(kubeIpam(api.kubeconfigPath(namespace), extra), "0.3.1", name);

  it("ADD and DEL over HTTPS with certificate-authority-data and a token; objects land in the context's namespace", async () => {
    const config = configIn("tls-ns", { range: "10.60.0.0/24" });
    const a = attachment(config, "tls-pod");
    assert.deepEqual(addressesOf(await add(a)), ["10.60.0.1/24"]);
    const objects = await rawObjects(api, "tls-ns");
    assert.deepEqual(
      holdings(objects).map((h) => [h.pool, h.key, h.address, h.allocation]),
      [
        [
          "10.60.0.0-24",
          "1",
          "10.60.0.1",
          { containerId: "ctr-tls-pod", podRef: "default/tls-pod", ifName: "eth0" },
        ],
      ],
    );
    assertReservationsMatchEntries(objects, "");
    assert.equal((await rawObjects(api, "kube-system")).pools.length, 0, "nothing in another namespace");
    assert.equal((await del(a)).code, 0);
    await assertEmpty(rawStore(await rawObjects(api, "tls-ns")));
  });

  it(`uncontended ADD takes 3 API requests with overlapping ranges on or off (off: one a NodeSlicePool GET, no write); DEL ≤ 3; no LIST, no Lease`, async (t) => {
    const overBudget: string[] = [];
    for (const overlapping of [true, false]) {
      const namespace = `budget-${overlapping ? "on" : "off"}`;
      const config = configIn(namespace, { range: "10.61.0.0/24", enable_overlapping_ranges: overlapping });
      const first = await requestsDuring(api, async () => {
        assert.equal((await add(attachment(config, "warm-up"))).code, 0);
      });
      t.diagnostic(`overlapping ${overlapping}: first ADD (pool created) ${JSON.stringify(first.counts)}`);
      const a = attachment(config, "counted");
      const addCost = await requestsDuring(api, async () => {
        assert.deepEqual(addressesOf(await add(a)), ["10.61.0.2/24"]);
      });
      const again = await requestsDuring(api, async () => {
        assert.deepEqual(addressesOf(await add({ ...a, containerId: "ctr-counted-2" })), ["10.61.0.2/24"]);
      });
      const delCost = await requestsDuring(api, async () => {
        assert.equal((await del({ ...a, containerId: "ctr-counted-2" })).code, 0);
      });
      const absent = await requestsDuring(api, async () => {
        assert.equal((await del(a)).code, 0);
      });
      t.diagnostic(
        `overlapping ${overlapping}: ADD ${JSON.stringify(addCost.counts)}; re-ADD ${JSON.stringify(again.counts)}; ` +
          `DEL ${JSON.stringify(delCost.counts)}; DEL of nothing ${JSON.stringify(absent.counts)}`,
      );
      const show = (c: { total: number; counts: object }) => `${c.total} ${JSON.stringify(c.counts)}`;
      if (addCost.total > 3) overBudget.push(`overlapping ${overlapping}: ADD ${show(addCost)}`);
      // Off, the third is a read: whether the network is sliced elsewhere (docs/node-slices.md).
      if (!overlapping)
        assert.equal(
          addCost.counts["get nodeslicepools.whereabouts.cni.cncf.io"],
          1,
          `one NodeSlicePool GET: ${show(addCost)}`,
        );
      if (delCost.total > 3) overBudget.push(`overlapping ${overlapping}: DEL ${show(delCost)}`);
      if (absent.total > 3) overBudget.push(`overlapping ${overlapping}: DEL of nothing ${show(absent)}`);
      for (const cost of [first, addCost, again, delCost, absent]) {
        const verbs = Object.keys(cost.counts).join(", ");
        assert.doesNotMatch(verbs, /leases|^list |, list /, `no Lease and no LIST: ${verbs}`);
      }
      assert.equal((await del(attachment(config, "warm-up"))).code, 0);
      await assertEmpty(rawStore(await rawObjects(api, namespace)));
    }
    assert.deepEqual(overBudget, [], "request budgets");
  });

  it("dual-stack: one address per family; DEL releases every range and reservation", async () => {
    const namespace = "dual";
    const config = configIn(namespace, {
      ipRanges: [{ range: "198.51.100.0/24" }, { range: "2001:db8:1::/64" }],
    });
    const a = attachment(config, "dual-pod");
    assert.deepEqual(addressesOf(await add(a)), ["198.51.100.1/24", "2001:db8:1::1/64"]);
    const objects = await rawObjects(api, namespace);
    assert.deepEqual(
      holdings(objects)
        .map((h) => `${h.pool} ${h.address}`)
        .sort(),
      ["198.51.100.0-24 198.51.100.1", "2001-db8-1---64 2001:db8:1::1"],
    );
    assertReservationsMatchEntries(objects, "");
    assert.deepEqual(objects.reservations.map((r) => r.metadata.name).sort(), [
      "198.51.100.1",
      "2001-db8-1--1",
    ]);
    assert.equal((await del(a)).code, 0);
    await assertEmpty(rawStore(await rawObjects(api, namespace)));

    // An attachment that holds an entry only in the second range (Go's DEL stops at the first
    // range without one): DEL still releases it.
    const onlyV6 = attachment(configIn(namespace, { range: "2001:db8:1::/64" }), "v6-only");
    assert.deepEqual(addressesOf(await add(onlyV6)), ["2001:db8:1::1/64"]);
    assert.equal((await del({ ...onlyV6, config })).code, 0);
    await assertEmpty(rawStore(await rawObjects(api, namespace)));
  });

  it("overlapping ranges across two networks: the second skips what the first holds (A.4 E18, E19)", async () => {
    const namespace = "overlap";
    for (const [wide, narrow, first, second] of [
      ["192.168.22.0/24", "192.168.22.0/28", "192.168.22.1/24", "192.168.22.2/28"],
      ["2001::2:3:0/124", "2001::2:3:0/126", "2001::2:3:1/124", "2001::2:3:2/126"],
    ] as const) {
      const a = attachment(configIn(namespace, { range: wide }, "net-a"), "pod-a");
      const b = attachment(configIn(namespace, { range: narrow }, "net-b"), "pod-b");
      assert.deepEqual(addressesOf(await add(a)), [first]);
      assert.deepEqual(addressesOf(await add(b)), [second]);
      assert.equal((await del(a)).code, 0);
      assert.equal((await del(b)).code, 0);
    }
    await assertEmpty(rawStore(await rawObjects(api, namespace)));
  });

  it("a reservation is deleted only by its owner (DEL of another network's entry for the same address)", async () => {
    const namespace = "owner";
    // A holds .1 with a reservation; X got .1 too on a network without overlap protection (A.4 E20).
    const a = attachment(configIn(namespace, { range: "192.168.33.0/24" }, "net-a"), "pod-a");
    const x = attachment(
      configIn(namespace, { range: "192.168.33.0/28", enable_overlapping_ranges: false }, "net-x"),
      "pod-x",
    );
    assert.deepEqual(addressesOf(await add(a)), ["192.168.33.1/24"]);
    assert.deepEqual(addressesOf(await add(x)), ["192.168.33.1/28"]);
    // X's network turns protection on before X is deleted: its DEL must not take A's reservation.
    const xProtected = {
      ...x,
      config: configIn(namespace, { range: "192.168.33.0/28" }, "net-x"),
    };
    assert.equal((await del(xProtected)).code, 0);
    const objects = await rawObjects(api, namespace);
    assert.deepEqual(
      objects.reservations.map((r) => [r.metadata.name, r.spec.podref]),
      [["192.168.33.1", "default/pod-a"]],
    );
    assert.deepEqual(
      holdings(objects).map((h) => `${h.pool} ${h.address} ${h.allocation.podRef}`),
      ["192.168.33.0-24 192.168.33.1 default/pod-a"],
    );
    assert.equal((await del(a)).code, 0);
    await assertEmpty(rawStore(await rawObjects(api, namespace)));
  });

  it("network_name isolates networks on the same range: separate pools, prefixed reservation names", async () => {
    const namespace = "named";
    const blue = attachment(configIn(namespace, { range: "10.40.0.0/24", network_name: "blue" }), "pod-blue");
    const green = attachment(
      configIn(namespace, { range: "10.40.0.0/24", network_name: "green" }),
      "pod-green",
    );
    assert.deepEqual(addressesOf(await add(blue)), ["10.40.0.1/24"]);
    assert.deepEqual(addressesOf(await add(green)), ["10.40.0.1/24"]);
    let objects = await rawObjects(api, namespace);
    assert.deepEqual(objects.pools.map((p) => p.metadata.name).sort(), [
      "blue-10.40.0.0-24",
      "green-10.40.0.0-24",
    ]);
    assert.deepEqual(objects.reservations.map((r) => [r.metadata.name, r.spec.podref]).sort(), [
      ["blue-10.40.0.1", "default/pod-blue"],
      ["green-10.40.0.1", "default/pod-green"],
    ]);
    assertReservationsMatchEntries(objects, "blue", {
      pools: (n) => n.startsWith("blue-"),
      exclusive: false,
    });
    assertReservationsMatchEntries(objects, "green", {
      pools: (n) => n.startsWith("green-"),
      exclusive: false,
    });
    assert.equal((await del(blue)).code, 0);
    objects = await rawObjects(api, namespace);
    assert.deepEqual(
      holdings(objects).map((h) => `${h.pool} ${h.address}`),
      ["green-10.40.0.0-24 10.40.0.1"],
      "the other network keeps its address",
    );
    assert.equal((await del(green)).code, 0);
    await assertEmpty(rawStore(await rawObjects(api, namespace)));
  });

  it("a failed ADD (second range exhausted) leaves no entry and no reservation behind", async () => {
    const namespace = "rollback";
    const small = configIn(namespace, { range: "10.51.0.0/30" });
    const fillers = ["fill-1", "fill-2"].map((p) => attachment(small, p));
    for (const f of fillers) assert.equal((await add(f)).code, 0);
    const both = attachment(
      configIn(namespace, { ipRanges: [{ range: "10.50.0.0/24" }, { range: "10.51.0.0/30" }] }),
      "late",
    );
    const failed = await add(both);
    assertCleanOutcome(failed, "ADD late");
    assert.equal(cniError(failed).code, 100, failed.stdout);
    assert.match(cniError(failed).msg, /Could not allocate IP in range/);
    const objects = await rawObjects(api, namespace);
    assert.deepEqual(
      holdings(objects)
        .map((h) => `${h.address} ${h.allocation.podRef}`)
        .sort(),
      ["10.51.0.1 default/fill-1", "10.51.0.2 default/fill-2"],
    );
    assertReservationsMatchEntries(objects, "");
    assert.equal((await del(both)).code, 0, "the runtime's DEL after the failed ADD succeeds");
    for (const f of fillers) assert.equal((await del(f)).code, 0);
    await assertEmpty(rawStore(await rawObjects(api, namespace)));
  });

  // Writes whose outcome the plugin cannot see: an ADD reports an address only if it is recorded,
  // and whatever a failed ADD leaves is gone after the runtime's DEL.
  const unseen: readonly { readonly what: string; readonly faults: readonly FaultRule[] }[] = [
    {
      what: "the pool write lands but its answer is lost (500 after the commit)",
      faults: [{ kind: "internalError", verb: "patch", resource: "ippools", after: true, times: 1 }],
    },
    {
      what: "the reservation lands but the connection drops before the answer",
      faults: [
        {
          kind: "timeout",
          verb: "create",
          resource: "overlappingrangeipreservations",
          after: true,
          times: 1,
          holdMs: 200,
        },
      ],
    },
    {
      what: "every pool write is dropped unanswered (never applied, outcome unknown to the plugin)",
      faults: [{ kind: "timeout", verb: "patch", resource: "ippools", holdMs: 300 }],
    },
    {
      what: "every pool write fails with 503 and so does deleting the reservation again",
      faults: [
        { kind: "serviceUnavailable", verb: "patch", resource: "ippools" },
        {
          kind: "serviceUnavailable",
          verb: ["delete", "deletecollection"],
          resource: "overlappingrangeipreservations",
        },
      ],
    },
  ];
  for (const [n, { what, faults }] of unseen.entries()) {
    it(`${what}: the ADD is recorded or fails cleanly; after the runtime's DEL nothing is left`, async (t) => {
      const namespace = `unseen-${n}`;
      const config = configIn(namespace, { range: "10.64.0.0/24" });
      const warm = attachment(config, "warm-up");
      assert.equal((await add(warm)).code, 0);
      const victim = attachment(config, "victim");
      await api.setFaults(faults);
      let o: PluginOutcome;
      try {
        o = await add(victim);
      } finally {
        await api.clearFaults();
      }
      assertCleanOutcome(o, "ADD");
      const objects = await rawObjects(api, namespace);
      const held = (xs: RawObjects) =>
        holdings(xs)
          .filter((h) => h.allocation.podRef === "default/victim")
          .map((h) => h.address);
      const reserved = (xs: RawObjects) =>
        xs.reservations.filter((r) => r.spec.podref === "default/victim").map((r) => r.metadata.name);
      if (o.code === 0) {
        const [address] = addressesOf(o);
        assert.deepEqual(held(objects), [address!.split("/")[0]], "the reported address is recorded");
        assertReservationsMatchEntries(objects, "");
      } else {
        t.diagnostic(
          `ADD failed (${cniError(o).code}) after ${o.ms.toFixed(0)} ms; left behind: entries ${JSON.stringify(held(objects))}, reservations ${JSON.stringify(reserved(objects))}`,
        );
      }
      await delUntilDone(victim);
      const after = await rawObjects(api, namespace);
      assert.deepEqual(
        { entries: held(after), reservations: reserved(after) },
        { entries: [], reservations: [] },
        "nothing of the attachment is left after its DEL",
      );
      assert.equal((await del(warm)).code, 0);
      await assertEmpty(rawStore(await rawObjects(api, namespace)));
    });
  }

  it("a wrong token is a clean CNI error and writes nothing", async () => {
    const namespace = "wrong-token";
    const config = netConf(
      kubeIpam(api.kubeconfigPath(namespace, { token: "not-the-token" }), { range: "10.62.0.0/24" }),
    );
    const started = performance.now();
    const o = await add(attachment(config, "denied"));
    const ms = performance.now() - started;
    assertCleanOutcome(o, "ADD with a wrong token");
    assert.notEqual(o.code, 0);
    assert.match(`${cniError(o).msg} ${cniError(o).details ?? ""}`, /unauthori[sz]ed|401/i);
    assert.ok(
      ms < 10_000,
      `an authentication failure is not retried until the deadline (${ms.toFixed(0)} ms)`,
    );
    assert.deepEqual((await rawObjects(api, namespace)).pools, []);
  });

  it("STATUS succeeds while the API server is up and fails with code 50 once it is down", async () => {
    const down = await startApiDouble({ tls: true, token: "t" });
    const kubeconfig = join(dir.path, "kubeconfig-down");
    copyFileSync(down.kubeconfigPath("status"), kubeconfig);
    const config = netConf(kubeIpam(kubeconfig, { range: "10.63.0.0/24" }), "1.1.0");
    const status = () => run({ command: "STATUS", config, cniArgs: podArgs("status") });
    try {
      const up = await status();
      assert.equal(up.code, 0, `STATUS while up: ${up.stdout} ${up.stderr}`);
    } finally {
      await down.stop();
    }
    const o = await status();
    assertCleanOutcome(o, "STATUS while down");
    assert.equal(cniError(o).code, 50, o.stdout);
  });
});
