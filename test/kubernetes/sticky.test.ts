// Issue 12 through the shipped executable on the API double (thereabouts' CRDs applied): addresses
// that follow the workload. StatefulSet pods keep theirs across a container restart, a
// reschedule to another node and a scale to zero and back; KubeVirt VMs across a restart (a new
// virt-launcher pod) and a live migration (source and target pods at once, the migration
// completed or aborted); requested addresses (runtimeConfig `ips`, the pod annotation) are
// allocated and recorded, and refused with nothing written when taken or outside the range; a
// reuse cooldown holds released addresses back and hands them out least recently released first;
// Go Whereabouts' reading of the pools sees every sticky address as taken; the embedded store
// keeps sticky addresses too; and 32 plugins in flight mixing all of these never hand one
// address to two attachments.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { inParallel, type PluginOutcome } from "../../src/cli/exec-plugin.ts";
import { type ApiDouble, startApiDouble } from "../k8s-api/harness.ts";
import { agentMetrics, startAgentProcess } from "../support/agent.ts";
import { assertNoDuplicates, type Holding } from "../support/invariants.ts";
import {
  type AddCall,
  add,
  addressesOf,
  del,
  netConf,
  run,
  type TempDir,
  tempDir,
} from "../support/plugin.ts";
import { thereabouts } from "../tools/check-support.ts";
import { cniError, kubeIpam } from "./go-runtime.ts";
import { assertReservationsMatchEntries, holdings, rawObjects, rawStore } from "./go-view.ts";
import { GoWriter } from "./go-writer.ts";

const here = dirname(fileURLToPath(import.meta.url));
const DEPLOY_CRDS = join(here, "..", "..", "deploy", "crds");
/** Where the pods live; each test's pools live in a namespace of its own. */
const APPS = "apps";

interface PodSpec {
  readonly labels?: Record<string, string>;
  readonly owner?: { readonly kind: string; readonly name: string; readonly apiVersion: string };
  readonly annotations?: Record<string, string>;
  readonly node?: string;
}

/** Raw pool entries as stored, with thereabouts' own fields. */
interface StoredEntry {
  readonly id: string;
  readonly podref?: string;
  readonly ifname?: string;
  readonly owner?: string;
  readonly parkedat?: string;
}

const STS = (name: string) => ({ kind: "StatefulSet", name, apiVersion: "apps/v1" });
const VMI = (name: string) => ({ kind: "VirtualMachineInstance", name, apiVersion: "kubevirt.io/v1" });
const launcher = (vm: string) => ({ "kubevirt.io": "virt-launcher", "kubevirt.io/vm": vm });

describe("sticky addresses, requested addresses and reuse cooldown through the plugin", () => {
  let api: ApiDouble;
  let dir: TempDir;
  let serial = 0;
  before(async () => {
    api = await startApiDouble({ podTerminationMs: 0 });
    dir = tempDir();
    const applied = await api.kubectl(["apply", "-k", DEPLOY_CRDS, "--validate=false"]);
    assert.equal(applied.code, 0, applied.stderr);
  });
  after(async () => {
    await api?.stop();
    dir?.remove();
  });

  /** Creates pod `name` in APPS; returns its uid. */
  async function createPod(name: string, spec: PodSpec = {}): Promise<string> {
    const owner = spec.owner;
    const r = await api.request("POST", `/api/v1/namespaces/${APPS}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        ...(spec.labels === undefined ? {} : { labels: spec.labels }),
        ...(spec.annotations === undefined ? {} : { annotations: spec.annotations }),
        ...(owner === undefined
          ? {}
          : { ownerReferences: [{ ...owner, uid: `uid-of-${owner.name}`, controller: true }] }),
      },
      spec: { nodeName: spec.node ?? "node-1", containers: [{ name: "c", image: "busybox:1.36" }] },
    });
    assert.equal(r.status, 201, r.body);
    return (r.json() as { metadata: { uid: string } }).metadata.uid;
  }

  async function deletePod(name: string): Promise<void> {
    const r = await api.request("DELETE", `/api/v1/namespaces/${APPS}/pods/${name}?gracePeriodSeconds=0`);
    assert.ok(r.status === 200 || r.status === 202, r.body);
  }

  /** An attachment of pod APPS/`pod` as kubelet passes it (with the pod's UID), on `node`. */
  function call(config: string, pod: string, uid: string, containerId: string, node = "node-1"): AddCall {
    return {
      config,
      pod,
      containerId,
      env: {
        NODENAME: node,
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${APPS};K8S_POD_NAME=${pod};K8S_POD_UID=${uid}`,
      },
    };
  }

  /** A network storing its pools in a namespace of its own. */
  function network(ipam: Record<string, unknown>, name = "stickynet"): { config: string; pools: string } {
    const pools = `pools-${serial++}`;
    return { config: netConf(kubeIpam(api.kubeconfigPath(pools), ipam), "1.0.0", name), pools };
  }

  async function entries(pools: string): Promise<Map<string, StoredEntry>> {
    const out = new Map<string, StoredEntry>();
    for (const p of (await rawObjects(api, pools)).pools)
      for (const [key, e] of Object.entries(p.spec.allocations ?? {})) out.set(key, e as StoredEntry);
    return out;
  }

  const one = (o: PluginOutcome) => {
    const ips = addressesOf(o);
    assert.equal(ips.length, 1, `one address: ${ips.join(", ")}`);
    return ips[0]!;
  };

  it("a StatefulSet pod keeps its address across a restart, a reschedule to another node and a scale to 0 and back", async () => {
    const { config, pools } = network({ range: "10.70.0.0/24", sticky_addresses: true });
    const web0 = await createPod("web-0", { owner: STS("web") });
    const web1 = await createPod("web-1", {
      owner: STS("web"),
      labels: { "apps.kubernetes.io/pod-index": "1" },
    });
    const plain = await createPod("plain-a");
    assert.equal(one(await add(call(config, "web-0", web0, "w0-a"))), "10.70.0.1/24");
    assert.equal(one(await add(call(config, "web-1", web1, "w1-a"))), "10.70.0.2/24");
    assert.equal(one(await add(call(config, "plain-a", plain, "p-a"))), "10.70.0.3/24");
    let stored = await entries(pools);
    assert.equal(stored.get("1")?.owner, "statefulset/apps/web/0");
    assert.equal(stored.get("2")?.owner, "statefulset/apps/web/1");
    assert.equal(stored.get("3")?.owner, undefined, "a pod no StatefulSet controls gets no owner");

    // Container restart: the DEL parks, the next sandbox of the same pod gets the address back.
    assert.equal((await del(call(config, "web-0", web0, "w0-a"))).code, 0);
    stored = await entries(pools);
    assert.match(stored.get("1")?.parkedat ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, "parked at");
    assert.equal(stored.get("1")?.id, "w0-a", "the last holder stays recorded");
    assertReservationsMatchEntries(await rawObjects(api, pools), "");
    assert.equal(one(await add(call(config, "web-0", web0, "w0-b"))), "10.70.0.1/24");
    stored = await entries(pools);
    assert.equal(stored.get("1")?.parkedat, undefined, "no longer parked");
    assert.equal(stored.get("1")?.id, "w0-b");

    // Reschedule: the pod is deleted and created again (new UID) on another node; meanwhile the
    // parked address is no one else's.
    assert.equal((await del(call(config, "web-0", web0, "w0-b"))).code, 0);
    await deletePod("web-0");
    const plainB = await createPod("plain-b");
    assert.equal(one(await add(call(config, "plain-b", plainB, "p-b"))), "10.70.0.4/24");
    const web0Again = await createPod("web-0", { owner: STS("web"), node: "node-2" });
    // A sandbox of the deleted pod (its UID) is refused, with nothing written.
    const before = JSON.stringify(await rawObjects(api, pools));
    const stale = await add(call(config, "web-0", web0, "w0-stale"));
    assert.equal(cniError(stale).code, 11, stale.stdout);
    assert.match(cniError(stale).msg, /pod apps\/web-0 .* is another pod than the one being attached/);
    assert.equal(JSON.stringify(await rawObjects(api, pools)), before, "nothing written");
    assert.equal(one(await add(call(config, "web-0", web0Again, "w0-c", "node-2"))), "10.70.0.1/24");

    // Scale to zero: both pods' DELs park, the pods go; plain pods meanwhile get other addresses;
    // scaled back up (web-1 first), each ordinal gets its own address back.
    for (const [pod, uid, ctr] of [
      ["web-0", web0Again, "w0-c"],
      ["web-1", web1, "w1-a"],
    ] as const) {
      assert.equal((await del(call(config, pod, uid, ctr))).code, 0);
      await deletePod(pod);
    }
    const plainC = await createPod("plain-c");
    const plainD = await createPod("plain-d");
    assert.equal(one(await add(call(config, "plain-c", plainC, "p-c"))), "10.70.0.5/24");
    assert.equal(one(await add(call(config, "plain-d", plainD, "p-d"))), "10.70.0.6/24");
    const web1Back = await createPod("web-1", { owner: STS("web"), node: "node-3" });
    const web0Back = await createPod("web-0", { owner: STS("web"), node: "node-2" });
    assert.equal(one(await add(call(config, "web-1", web1Back, "w1-b", "node-3"))), "10.70.0.2/24");
    assert.equal(one(await add(call(config, "web-0", web0Back, "w0-d", "node-2"))), "10.70.0.1/24");
    const objects = await rawObjects(api, pools);
    assertReservationsMatchEntries(objects, "");
    await assertNoDuplicates(
      rawStore(objects),
      holdings(objects).map((h) => ({ address: h.address, podRef: h.allocation.podRef })),
    );
  });

  it("a KubeVirt VM keeps its address across a restart (a new virt-launcher pod), keyed by the VM", async () => {
    const { config, pools } = network({ range: "10.71.0.0/24", sticky_addresses: true });
    const first = await createPod("virt-launcher-vm-a-abcde", {
      owner: VMI("vm-a"),
      labels: launcher("vm-a"),
    });
    assert.equal(one(await add(call(config, "virt-launcher-vm-a-abcde", first, "va-1"))), "10.71.0.1/24");
    assert.equal((await entries(pools)).get("1")?.owner, "vm/apps/vm-a");
    assert.equal((await del(call(config, "virt-launcher-vm-a-abcde", first, "va-1"))).code, 0);
    await deletePod("virt-launcher-vm-a-abcde");
    const other = await createPod("plain-vm-test");
    assert.equal(one(await add(call(config, "plain-vm-test", other, "pv-1"))), "10.71.0.2/24");
    // The restarted VM runs in a pod of another name: the address follows the VM.
    const second = await createPod("virt-launcher-vm-a-fghij", {
      owner: VMI("vm-a"),
      labels: launcher("vm-a"),
    });
    assert.equal(
      one(await add(call(config, "virt-launcher-vm-a-fghij", second, "va-2", "node-2"))),
      "10.71.0.1/24",
    );
    const objects = await rawObjects(api, pools);
    const entry = (await entries(pools)).get("1");
    assert.equal(entry?.podref, "apps/virt-launcher-vm-a-fghij");
    assert.equal(entry?.parkedat, undefined);
    // Its reservation was taken over by the new pod: one reservation per address.
    assertReservationsMatchEntries(objects, "");
  });

  it("live migration: the target pod gets the VM's address while the source holds it; the source's DEL keeps it; an aborted migration's target DEL keeps it for the source", async () => {
    const { config, pools } = network({ range: "10.74.0.0/24", sticky_addresses: true });
    const src = await createPod("virt-launcher-vm-m-src01", { owner: VMI("vm-m"), labels: launcher("vm-m") });
    assert.equal(one(await add(call(config, "virt-launcher-vm-m-src01", src, "vm-src"))), "10.74.0.1/24");
    const tgt = await createPod("virt-launcher-vm-m-tgt01", {
      owner: VMI("vm-m"),
      labels: launcher("vm-m"),
      node: "node-2",
    });
    // Both pods hold it while the memory moves.
    assert.equal(
      one(await add(call(config, "virt-launcher-vm-m-tgt01", tgt, "vm-tgt", "node-2"))),
      "10.74.0.1/24",
    );
    assert.equal((await entries(pools)).get("1")?.podref, "apps/virt-launcher-vm-m-tgt01");
    assertReservationsMatchEntries(await rawObjects(api, pools), "");
    // The migration completes: the source pod's DEL leaves the target's address alone.
    assert.equal((await del(call(config, "virt-launcher-vm-m-src01", src, "vm-src"))).code, 0);
    await deletePod("virt-launcher-vm-m-src01");
    const afterSourceDel = (await entries(pools)).get("1");
    assert.equal(afterSourceDel?.id, "vm-tgt");
    assert.equal(afterSourceDel?.parkedat, undefined, "held, not parked");
    const check = await run({
      command: "CHECK",
      config: JSON.stringify({ ...JSON.parse(config), prevResult: { ips: [{ address: "10.74.0.1/24" }] } }),
      containerId: "vm-tgt",
      ifName: "eth0",
      netns: "/var/run/netns/tgt",
      cniArgs: `K8S_POD_NAMESPACE=${APPS};K8S_POD_NAME=virt-launcher-vm-m-tgt01`,
    });
    assert.equal(check.code, 0, `the target holds it: ${check.stdout}`);

    // The next migration is aborted: its target got the address, then its DEL parks it; the
    // running pod (the former target) still has it, and nobody else gets it.
    const abort = await createPod("virt-launcher-vm-m-tgt02", {
      owner: VMI("vm-m"),
      labels: launcher("vm-m"),
    });
    assert.equal(one(await add(call(config, "virt-launcher-vm-m-tgt02", abort, "vm-abort"))), "10.74.0.1/24");
    assert.equal((await del(call(config, "virt-launcher-vm-m-tgt02", abort, "vm-abort"))).code, 0);
    await deletePod("virt-launcher-vm-m-tgt02");
    assert.notEqual((await entries(pools)).get("1")?.parkedat, undefined, "kept, parked");
    const plain = await createPod("plain-migration");
    assert.equal(one(await add(call(config, "plain-migration", plain, "pm-1"))), "10.74.0.2/24");
    // The VM's pod (a new sandbox of it, e.g. after a restart of its network) gets it back.
    assert.equal(
      one(await add(call(config, "virt-launcher-vm-m-tgt01", tgt, "vm-tgt-2", "node-2"))),
      "10.74.0.1/24",
    );
    assertReservationsMatchEntries(await rawObjects(api, pools), "");
  });

  it("requested addresses (runtimeConfig ips, the pod annotation) are allocated from the pool and recorded; taken or outside the range: code 7, nothing written", async () => {
    const ipam = { range: "10.72.0.0/24", exclude: ["10.72.0.128/25"], requested_ips_from_pod: true };
    const { config, pools } = network(ipam, "reqnet");
    const withIps = (ips: string[]) => JSON.stringify({ ...JSON.parse(config), runtimeConfig: { ips } });
    const a = await createPod("req-a");
    const outcome = await add(call(withIps(["10.72.0.50/24"]), "req-a", a, "ra-1"));
    assert.deepEqual(addressesOf(outcome), ["10.72.0.50/24"], "only the requested address, recorded");
    assert.equal((await entries(pools)).get("50")?.podref, "apps/req-a");
    assertReservationsMatchEntries(await rawObjects(api, pools), "");

    const b = await createPod("req-b", {
      annotations: { "thereabouts.io/ips": '{"reqnet": ["10.72.0.60"], "other": ["10.9.9.9"]}' },
    });
    assert.deepEqual(
      addressesOf(await add(call(config, "req-b", b, "rb-1"))),
      ["10.72.0.60/24"],
      "from the annotation",
    );
    const c = await createPod("req-c", {
      annotations: { "thereabouts.io/ips": '{"reqnet": ["10.72.0.61"]}' },
    });
    assert.deepEqual(
      addressesOf(await add(call(withIps(["10.72.0.70"]), "req-c", c, "rc-1"))),
      ["10.72.0.70/24"],
      "runtimeConfig ips win over the annotation",
    );

    const before = JSON.stringify(await rawObjects(api, pools));
    const d = await createPod("req-d");
    for (const [ips, why] of [
      [["10.72.0.50"], /requested address 10\.72\.0\.50 is held by apps\/req-a/],
      [["10.73.9.9/24"], /requested address 10\.73\.9\.9 \(runtimeConfig ips\) is outside every range/],
      [["10.72.0.200"], /requested address 10\.72\.0\.200 is excluded/],
    ] as const) {
      const refused = await add(call(withIps([...ips]), "req-d", d, "rd-1"));
      assert.equal(cniError(refused).code, 7, refused.stdout);
      assert.match(cniError(refused).msg, why);
      assert.equal(JSON.stringify(await rawObjects(api, pools)), before, `nothing written for ${ips}`);
    }
    // CNI_ARGS IP= keeps Whereabouts' meaning: an extra static address, not allocated.
    const extra = await add({
      ...call(config, "req-d", d, "rd-2"),
      env: {
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${APPS};K8S_POD_NAME=req-d;K8S_POD_UID=${d};IP=192.0.2.9/24`,
      },
    });
    assert.deepEqual(addressesOf(extra), ["10.72.0.1/24", "192.0.2.9/24"]);
    // Multus passes a selection's ips both as runtimeConfig ips and as CNI_ARGS IP=: one address.
    const e = await createPod("req-e");
    const both = await add({
      ...call(withIps(["10.72.0.80/24"]), "req-e", e, "re-1"),
      env: {
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${APPS};K8S_POD_NAME=req-e;K8S_POD_UID=${e};IP=10.72.0.80/24`,
      },
    });
    assert.deepEqual(addressesOf(both), ["10.72.0.80/24"], "reported once, recorded");
    assert.deepEqual(
      [...(await entries(pools)).keys()].sort(),
      ["1", "50", "60", "70", "80"],
      "the static address is not in the pool",
    );
  });

  it("reuse_cooldown_seconds: a released address is not reused within the cooldown; then the least recently released comes first", async () => {
    const { config, pools } = network({ range: "10.75.0.0/29", reuse_cooldown_seconds: 2 });
    const uids = new Map<string, string>();
    const addPod = async (pod: string) => {
      if (!uids.has(pod)) uids.set(pod, await createPod(pod));
      return add(call(config, pod, uids.get(pod)!, `ctr-${pod}`));
    };
    const delPod = (pod: string) => del(call(config, pod, uids.get(pod)!, `ctr-${pod}`));
    for (const [pod, ip] of [
      ["cool-1", "10.75.0.1/29"],
      ["cool-2", "10.75.0.2/29"],
      ["cool-3", "10.75.0.3/29"],
    ] as const)
      assert.equal(one(await addPod(pod)), ip);
    assert.equal((await delPod("cool-2")).code, 0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal((await delPod("cool-1")).code, 0);
    const released = (await rawObjects(api, pools)).pools[0]?.spec as { released?: Record<string, string> };
    assert.deepEqual(Object.keys(released.released ?? {}).sort(), ["1", "2"], "release records in the pool");
    const cooldownStart = Date.now();
    // Within the cooldown: never-released addresses first, then nothing.
    assert.equal(one(await addPod("cool-4")), "10.75.0.4/29");
    assert.equal(one(await addPod("cool-5")), "10.75.0.5/29");
    assert.equal(one(await addPod("cool-6")), "10.75.0.6/29");
    const exhausted = await addPod("cool-7");
    assert.equal(cniError(exhausted).code, 100, exhausted.stdout);
    assert.match(
      cniError(exhausted).msg,
      /^Could not allocate IP in range: .*2 free addresses were released less than reuse_cooldown_seconds \(2\) ago/,
    );
    assert.ok(Date.now() - cooldownStart < 2_000, "the refusal came within the cooldown");
    await new Promise((resolve) => setTimeout(resolve, 2_100 - (Date.now() - cooldownStart)));
    // Out of cooldown: the least recently released (.2) before the lower .1.
    assert.equal(one(await addPod("cool-7")), "10.75.0.2/29");
    assert.equal(one(await addPod("cool-8")), "10.75.0.1/29");
    const records = (await rawObjects(api, pools)).pools[0]?.spec as { released?: Record<string, string> };
    assert.deepEqual(Object.keys(records.released ?? {}), [], "a reused address's record is forgotten");
  });

  it("Go Whereabouts reads a sticky (parked) address as taken, and its writes leave thereabouts' fields alone", async () => {
    const { config, pools } = network({ range: "10.76.0.0/24", sticky_addresses: true });
    const db0 = await createPod("db-0", { owner: STS("db") });
    assert.equal(one(await add(call(config, "db-0", db0, "db0-a"))), "10.76.0.1/24");
    assert.equal((await del(call(config, "db-0", db0, "db0-a"))).code, 0);
    // Go's reading: the entry is an allocation like any other.
    const goView = holdings(await rawObjects(api, pools));
    assert.deepEqual(
      goView.map((h) => [h.address, h.allocation.podRef, h.allocation.containerId]),
      [["10.76.0.1", "apps/db-0", "db0-a"]],
    );
    const go = new GoWriter({ url: api.url, namespace: pools });
    const goAdd = await go.add({ range: "10.76.0.0/24" }, { containerId: "go-1", podRef: "apps/go-pod" });
    assert.ok(goAdd.ok, JSON.stringify(goAdd));
    assert.equal(goAdd.address, "10.76.0.2", "Go skips the parked address");
    const goDel = await go.del({ range: "10.76.0.0/24" }, { containerId: "go-1", podRef: "apps/go-pod" });
    assert.ok(goDel.ok);
    const kept = (await entries(pools)).get("1");
    assert.equal(kept?.owner, "statefulset/apps/db/0");
    assert.notEqual(kept?.parkedat, undefined, "Go's patches left the parked entry as it was");
    // The StatefulSet's next pod of that slot still gets it.
    await deletePod("db-0");
    const db0Again = await createPod("db-0", { owner: STS("db") });
    assert.equal(one(await add(call(config, "db-0", db0Again, "db0-b"))), "10.76.0.1/24");
  });

  it("through a node agent: the pod lookup, parking, takeover and the cooldown run in the agent as in a plugin alone", async (t) => {
    const agent = await startAgentProcess();
    t.after(() => agent.stop());
    const { config, pools } = network({
      range: "10.80.0.0/29",
      sticky_addresses: true,
      reuse_cooldown_seconds: 60,
    });
    const via = (c: AddCall): AddCall => ({ ...c, env: { ...c.env, ...agent.env } });
    const s0 = await createPod("agent-set-0", { owner: STS("agent-set") });
    const plain = await createPod("agent-plain");
    assert.equal(one(await add(via(call(config, "agent-set-0", s0, "as0-a")))), "10.80.0.1/29");
    assert.equal(one(await add(via(call(config, "agent-plain", plain, "ap-a")))), "10.80.0.2/29");
    assert.equal((await del(via(call(config, "agent-set-0", s0, "as0-a")))).code, 0);
    assert.equal((await del(via(call(config, "agent-plain", plain, "ap-a")))).code, 0);
    const stored = await entries(pools);
    assert.notEqual(stored.get("1")?.parkedat, undefined, "parked by the agent's DEL");
    assert.equal(stored.has("2"), false);
    await deletePod("agent-set-0");
    const s0Again = await createPod("agent-set-0", { owner: STS("agent-set"), node: "node-2" });
    const plain2 = await createPod("agent-plain-2");
    // .2 is cooling: the next plain pod gets .3; the StatefulSet's pod its own .1.
    assert.equal(one(await add(via(call(config, "agent-plain-2", plain2, "ap2-a")))), "10.80.0.3/29");
    assert.equal(
      one(await add(via(call(config, "agent-set-0", s0Again, "as0-b", "node-2")))),
      "10.80.0.1/29",
    );
    const stale = await add(via(call(config, "agent-set-0", s0, "as0-stale")));
    assert.equal(cniError(stale).code, 11, stale.stdout);
    const metrics = await agentMetrics(agent.socket);
    assert.match(
      metrics,
      /thereabouts_agent_calls_total\{command="ADD",store="kubernetes",result="ok"\} 4\n/,
    );
    assert.match(
      metrics,
      /thereabouts_agent_calls_total\{command="DEL",store="kubernetes",result="ok"\} 2\n/,
    );
  });

  it("the embedded (local) store keeps sticky addresses too when a kubeconfig is given", async () => {
    const path = join(dir.path, "sticky.db");
    const config = netConf(
      {
        type: "thereabouts",
        datastore: "local",
        local: { path },
        range: "10.77.0.0/24",
        sticky_addresses: true,
        kubernetes: { kubeconfig: api.kubeconfigPath(APPS) },
      },
      "1.0.0",
      "localnet",
    );
    const w = await createPod("local-0", { owner: STS("local") });
    const p = await createPod("local-plain");
    assert.equal(one(await add(call(config, "local-0", w, "l0-a"))), "10.77.0.1/24");
    assert.equal((await del(call(config, "local-0", w, "l0-a"))).code, 0);
    await deletePod("local-0");
    assert.equal(one(await add(call(config, "local-plain", p, "lp-a"))), "10.77.0.2/24");
    const again = await createPod("local-0", { owner: STS("local"), node: "node-2" });
    assert.equal(one(await add(call(config, "local-0", again, "l0-b", "node-2"))), "10.77.0.1/24");
    // No controller frees it on this store: once the StatefulSet is gone, by hand.
    assert.equal((await del(call(config, "local-0", again, "l0-b", "node-2"))).code, 0);
    const file = join(dir.path, "localnet.conf");
    writeFileSync(file, config);
    const released = await thereabouts(["release", "10.77.0.1", "--force", "--config", file]);
    assert.equal(released.code, 0, released.stderr);
    const next = await createPod("local-next");
    assert.equal(one(await add(call(config, "local-next", next, "ln-a"))), "10.77.0.1/24");
  });

  it("the pod lookup's failures: a missing pod or an API away is code 11, refused credentials code 5, nothing written; a brief outage is retried; no kubeconfig is code 7", async (t) => {
    const { config, pools } = network({ range: "10.78.0.0/24", sticky_addresses: true });
    const missing = await add(call(config, "no-such-pod", "uid-x", "nsp-1"));
    assert.equal(cniError(missing).code, 11, missing.stdout);
    assert.match(cniError(missing).msg, /pod apps\/no-such-pod not found/);
    assert.deepEqual((await rawObjects(api, pools)).pools, []);

    const pod = await createPod("lookup-0", { owner: STS("lookup") });
    const onLocal = (kubeconfig: string) =>
      netConf(
        {
          type: "thereabouts",
          datastore: "local",
          local: { path: join(dir.path, "lookup.db") },
          range: "10.78.0.0/24",
          sticky_addresses: true,
          kubernetes: { kubeconfig },
        },
        "1.0.0",
      );
    // Credentials the API refuses (an API server that wants a token, given another one).
    const guarded = await startApiDouble({ tls: true, token: "sticky-token", anonymousAuth: false });
    t.after(() => guarded.stop());
    const wrongToken = await add(
      call(onLocal(guarded.kubeconfigPath(APPS, { token: "not-the-token" })), "lookup-0", pod, "lk-1"),
    );
    assert.equal(cniError(wrongToken).code, 5, wrongToken.stdout);
    assert.doesNotMatch(wrongToken.stdout, /not-the-token/, "no secret in the message");

    await api.setFaults([{ kind: "serviceUnavailable", verb: "get", resource: "pods", times: 2 }]);
    try {
      assert.equal(
        one(await add(call(config, "lookup-0", pod, "lk-2"))),
        "10.78.0.1/24",
        "retried through a brief outage",
      );
    } finally {
      await api.clearFaults();
    }
    await api.setFaults([{ kind: "serviceUnavailable", verb: "get", resource: "pods" }]);
    const started = Date.now();
    let away: PluginOutcome;
    try {
      away = await add(call(config, "lookup-0", pod, "lk-3"));
    } finally {
      await api.clearFaults();
    }
    assert.equal(cniError(away).code, 11, away.stdout);
    assert.match(cniError(away).msg, /Cannot get the pod from the Kubernetes API/);
    const tookMs = Date.now() - started;
    assert.ok(tookMs >= 9_000 && tookMs < 20_000, `gave up after its 10 s budget (${tookMs} ms)`);
    assert.deepEqual([...(await entries(pools)).keys()], ["1"], "the failed ADD wrote nothing");

    const noKube = netConf(
      {
        type: "thereabouts",
        datastore: "local",
        local: { path: join(dir.path, "x.db") },
        range: "10.78.0.0/24",
        sticky_addresses: true,
      },
      "1.0.0",
    );
    const refused = await add(call(noKube, "no-such-pod", "uid-x", "nsp-2"));
    assert.equal(cniError(refused).code, 7, refused.stdout);
    assert.match(cniError(refused).msg, /sticky_addresses needs to read the pod/);
  });

  it("32 in flight mixing StatefulSet, requested and plain pods: never one address for two live attachments; the StatefulSet's pods get theirs back", async () => {
    const { config, pools } = network({ range: "10.79.0.0/24", sticky_addresses: true });
    const withIps = (ips: string[]) => JSON.stringify({ ...JSON.parse(config), runtimeConfig: { ips } });
    const calls: AddCall[] = [];
    const pods: { name: string; spec: PodSpec }[] = [];
    for (let i = 0; i < 24; i++) pods.push({ name: `set-${i}`, spec: { owner: STS("set") } });
    for (let i = 0; i < 24; i++) pods.push({ name: `free-${i}`, spec: {} });
    for (let i = 0; i < 16; i++) pods.push({ name: `want-${i}`, spec: {} });
    const uids = await inParallel(pods, 8, (p) => createPod(p.name, p.spec));
    const requestedOf = (i: number) => `10.79.0.${200 + i}`;
    for (const [i, p] of pods.entries()) {
      const want = p.name.startsWith("want-") ? [requestedOf(Number(p.name.slice(5)))] : undefined;
      calls.push(
        call(want === undefined ? config : withIps(want), p.name, uids[i]!, `mix-a-${i}`, `node-${i % 4}`),
      );
    }
    const first = await inParallel(calls, 32, (c) => add(c));
    for (const [i, o] of first.entries()) assert.equal(o.code, 0, `ADD ${calls[i]!.pod}: ${o.stdout}`);
    const reported = (outcomes: readonly PluginOutcome[], of: readonly AddCall[]): Holding[] =>
      outcomes.map((o, i) => ({ address: one(o).split("/")[0]!, podRef: `${APPS}/${of[i]!.pod}` }));
    const firstHoldings = reported(first, calls);
    let objects = await rawObjects(api, pools);
    await assertNoDuplicates(rawStore(objects), firstHoldings);
    assertReservationsMatchEntries(objects, "");
    for (let i = 0; i < 16; i++) assert.equal(firstHoldings[48 + i]!.address, requestedOf(i));

    // All pods go: the StatefulSet's entries are parked, the rest released.
    const dels = await inParallel(calls, 32, (c) => del(c));
    for (const [i, o] of dels.entries()) assert.equal(o.code, 0, `DEL ${calls[i]!.pod}: ${o.stdout}`);
    await inParallel(pods, 8, (p) => deletePod(p.name));
    assert.equal(holdings(await rawObjects(api, pools)).length, 24, "the 24 parked entries stay");

    // They come back, with new plain pods and requests for the parked and the freed addresses.
    const again: AddCall[] = [];
    const back = [
      ...pods.slice(0, 24),
      ...Array.from({ length: 24 }, (_, i) => ({ name: `free2-${i}`, spec: {} })),
      ...Array.from({ length: 16 }, (_, i) => ({ name: `want2-${i}`, spec: {} })),
      ...Array.from({ length: 4 }, (_, i) => ({ name: `thief-${i}`, spec: {} })),
    ];
    const uids2 = await inParallel(back, 8, (p) => createPod(p.name, p.spec));
    for (const [i, p] of back.entries()) {
      const want = p.name.startsWith("want2-")
        ? [requestedOf(Number(p.name.slice(6)))]
        : p.name.startsWith("thief-")
          ? [firstHoldings[Number(p.name.slice(6))]!.address]
          : undefined;
      again.push(
        call(
          want === undefined ? config : withIps(want),
          p.name,
          uids2[i]!,
          `mix-b-${i}`,
          `node-${(i + 1) % 4}`,
        ),
      );
    }
    const second = await inParallel(again, 32, (c) => add(c));
    for (const [i, o] of second.entries()) {
      if (again[i]!.pod.startsWith("thief-")) {
        assert.equal(
          cniError(o).code,
          7,
          `a parked address requested by another pod is refused: ${o.stdout}`,
        );
        continue;
      }
      assert.equal(o.code, 0, `ADD ${again[i]!.pod}: ${o.stdout}`);
    }
    const ok = second.flatMap((o, i) => (o.code === 0 ? [[o, again[i]!] as const] : []));
    const secondHoldings = reported(
      ok.map(([o]) => o),
      ok.map(([, c]) => c),
    );
    objects = await rawObjects(api, pools);
    await assertNoDuplicates(rawStore(objects), secondHoldings);
    assertReservationsMatchEntries(objects, "");
    assert.equal(holdings(objects).length, 64, "no entry for a refused request");
    for (let i = 0; i < 24; i++)
      assert.equal(secondHoldings[i]!.address, firstHoldings[i]!.address, `set-${i} got its address back`);
  });
});
