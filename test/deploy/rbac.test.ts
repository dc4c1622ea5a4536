// The RBAC of the manifests against what the shipped executable actually asks of the API: the
// plugin alone, the plugin through the node agent, and the controller, each run on the Kubernetes
// API double, whose request log lists every request (verb, resource, namespace, name). Both ways:
// every request is allowed to the ServiceAccount that sends it, and every permission granted is
// used by some request (cluster-wide ones by a request outside the pools' namespace).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { before, describe, it } from "node:test";
import { kustomize } from "../../scripts/manifests.ts";
import type { PluginOutcome } from "../../src/cli/exec-plugin.ts";
import {
  createPod,
  installKubevirtCrds,
  NS,
  ROOT,
  startController,
  WB,
  waitFor,
} from "../controller/support.ts";
import { type ApiDouble, startApiDouble } from "../k8s-api/harness.ts";
import type { LoggedRequest } from "../k8s-api/request-log.ts";
import { kubeIpam } from "../kubernetes/go-runtime.ts";
import { GoWriter } from "../kubernetes/go-writer.ts";
import { startAgentProcess } from "../support/agent.ts";
import { type AddCall, add, del, netConf, podArgs, run } from "../support/plugin.ts";
import { type Access, type Account, accessOf, deniedAccesses, grantsOf, unusedPermissions } from "./rbac.ts";
import { find, type KubeObject, parseObjects, render } from "./render.ts";

const PLUGIN: Account = { namespace: NS, name: "thereabouts" };
const CONTROLLER: Account = { namespace: NS, name: "thereabouts-controller" };

function ok(o: PluginOutcome, what: string): void {
  assert.equal(o.code, 0, `${what}: ${o.stdout} ${o.stderr}`);
}

async function expectStatus(
  api: ApiDouble,
  method: string,
  path: string,
  body: object,
  headers: Record<string, string> = {},
): Promise<void> {
  const r = await api.request(method, path, body, headers);
  assert.ok(r.status === 200 || r.status === 201, `${method} ${path}: HTTP ${r.status} ${r.body}`);
}

/** What Go Whereabouts leaves for an attachment: a pool entry and a reservation without our owner label. */
async function goAttachment(
  api: ApiDouble,
  pool: string,
  range: string,
  key: string,
  podref: string,
  ip: string,
) {
  await expectStatus(api, "POST", `${WB}/ippools`, {
    apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
    kind: "IPPool",
    metadata: { name: pool },
    spec: { range, allocations: { [key]: { id: `go-${key}`, podref, ifname: "eth0" } } },
  });
  await expectStatus(api, "POST", `${WB}/overlappingrangeipreservations`, {
    apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
    kind: "OverlappingRangeIPReservation",
    metadata: { name: ip },
    spec: { podref, ifname: "eth0" },
  });
}

/**
 * The plugin's calls, every path that sends a different request: a pool's first ADD, a repeated
 * ADD under a new container id (entry and reservation refreshed), an ADD whose reservation is
 * taken in an overlapping range (the pool it created is deleted again), STATUS, DELs of its own
 * attachments and of one Go wrote.
 */
async function pluginScenario(api: ApiDouble, env: Record<string, string>): Promise<LoggedRequest[]> {
  await goAttachment(api, "10.81.0.0-24", "10.81.0.0/24", "1", "default/go-pod", "10.81.0.1");
  // What a controller made for the node-slice network (slicedCalls), with its one slice free.
  await expectStatus(api, "POST", `${WB}/nodeslicepools`, {
    apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
    kind: "NodeSlicePool",
    metadata: { name: "slicenet" },
    spec: { range: "10.85.0.0/24", sliceSize: "/26" },
    status: { allocations: [{ nodeName: "", sliceRange: "10.85.0.0/26" }] },
  });
  await api.resetRequests();
  const kubeconfig = api.kubeconfigPath(NS);
  const net = (range: string) => netConf(kubeIpam(kubeconfig, { range }), "1.1.0", "rbacnet");
  const call = (config: string, pod: string, containerId: string): AddCall => ({
    config,
    pod,
    containerId,
    env,
  });
  ok(await add(call(net("10.80.0.0/24"), "a", "a1")), "first ADD of a pool");
  ok(await add(call(net("10.80.0.0/24"), "a", "a2")), "repeated ADD, new container id");
  ok(await add(call(net("10.80.0.0/25"), "b", "b1")), "ADD in an overlapping range");
  ok(await run({ command: "STATUS", config: net("10.80.0.0/24"), cniArgs: podArgs("a"), env }), "STATUS");
  ok(await del(call(net("10.80.0.0/24"), "a", "a2")), "DEL");
  ok(await del(call(net("10.80.0.0/25"), "b", "b1")), "DEL in the overlapping range");
  ok(await del(call(net("10.81.0.0/24"), "go-pod", "go-1")), "DEL of Go's attachment");
  await slicedCalls(kubeconfig, call);
  if (env.THEREABOUTS_AGENT_SOCKET)
    await waitFor(
      "the agent's NodeSlicePool watch",
      async () =>
        ((await api.requests()).log as LoggedRequest[]).some(
          (r) => r.verb === "watch" && r.resource.startsWith("nodeslicepools."),
        ),
      10_000,
    );
  return (await api.requests()).log as LoggedRequest[];
}

/**
 * A node-slice network's ADD on a node without a slice (GET the NodeSlicePool, PATCH the claim)
 * and DEL. The node's name comes from `<configuration_path>/nodename`, as the installer writes it.
 */
async function slicedCalls(
  kubeconfig: string,
  call: (config: string, pod: string, containerId: string) => AddCall,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "thereabouts-rbac-"));
  try {
    writeFileSync(join(dir, "nodename"), "rbac-node");
    const ipam = kubeIpam(kubeconfig, {
      range: "10.85.0.0/24",
      node_slice_size: "/26",
      configuration_path: dir,
    });
    const sliced = call(netConf(ipam, "1.1.0", "slicenet"), "s", "s1");
    ok(await add(sliced), "ADD on a node-slice network (claims a slice)");
    ok(await del(sliced), "DEL on a node-slice network");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * An ADD and DEL of a network that keeps sticky addresses and reads requested ones from the pod:
 * besides the store's requests, one GET of the pod (in its own namespace).
 */
async function podReadingScenario(api: ApiDouble, env: Record<string, string>): Promise<LoggedRequest[]> {
  await createPod(api, "apps", "web-0");
  await api.resetRequests();
  const ipam = kubeIpam(api.kubeconfigPath(NS), {
    range: "10.84.0.0/24",
    sticky_addresses: true,
    requested_ips_from_pod: true,
  });
  const call: AddCall = {
    config: netConf(ipam, "1.1.0", "podnet"),
    pod: "web-0",
    containerId: "w0",
    env: { ...env, CNI_ARGS: podArgs("web-0", "apps") },
  };
  ok(await add(call), "ADD reading its pod");
  ok(await del(call), "DEL");
  return (await api.requests()).log as LoggedRequest[];
}

/** The base with a component of deploy/components/ (kustomize wants relative paths). */
function withComponent(component: string): KubeObject[] {
  const dir = mkdtempSync(join(tmpdir(), "thereabouts-kustomize-"));
  try {
    const deploy = relative(dir, join(ROOT, "deploy"));
    writeFileSync(
      join(dir, "kustomization.yaml"),
      `resources: [${deploy}/base]\ncomponents: [${deploy}/components/${component}]\n`,
    );
    return parseObjects(kustomize(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A controller run: leader election, the startup sweep freeing a deleted pod's entry (and Go's
 * reservation of it), a Succeeded pod's entry and a reservation no entry covers, Events on the
 * pods, the schedule read through the API, the Lease released on SIGTERM; and sticky entries of a
 * StatefulSet slot scaled away and of a deleted VM (with thereabouts' and KubeVirt's CRDs), whose
 * owners are watched and read again before their release.
 */
async function controllerScenario(api: ApiDouble): Promise<LoggedRequest[]> {
  const crds = await api.kubectl(["apply", "-k", join(ROOT, "deploy", "crds"), "--validate=false"]);
  assert.equal(crds.code, 0, crds.stderr);
  await installKubevirtCrds(api);
  await expectStatus(api, "POST", "/apis/apps/v1/namespaces/apps/statefulsets", {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "web" },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ name: "c", image: "busybox:1.36" }] },
      },
    },
  });
  await goAttachment(api, "10.82.0.0-24", "10.82.0.0/24", "1", "default/gone", "10.82.0.1");
  await expectStatus(api, "POST", `${WB}/overlappingrangeipreservations`, {
    apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
    kind: "OverlappingRangeIPReservation",
    metadata: { name: "10.82.0.9" },
    spec: { podref: "other/leaked", ifname: "eth0" },
  });
  await createPod(api, "apps", "done", { phase: "Succeeded" });
  await createPod(api, "apps", "live");
  await expectStatus(
    api,
    "PATCH",
    `${WB}/ippools/10.82.0.0-24`,
    {
      spec: {
        allocations: {
          "2": { id: "c-done", podref: "apps/done", ifname: "eth0" },
          "3": { id: "c-live", podref: "apps/live", ifname: "eth0" },
          "4": { id: "c-web-1", podref: "apps/web-1", ifname: "eth0", owner: "statefulset/apps/web/1" },
          "5": { id: "c-vm", podref: "apps/virt-launcher-vm-x-12345", ifname: "eth0", owner: "vm/apps/vm-x" },
        },
      },
    },
    { "Content-Type": "application/merge-patch+json" },
  );
  // Node slices: a NAD whose NodeSlicePool is created, one whose Go-written pool gets its nodes
  // (a patch), and a pool no NAD configures (deleted).
  for (const name of ["n1", "n2"])
    await expectStatus(api, "POST", "/api/v1/nodes", { apiVersion: "v1", kind: "Node", metadata: { name } });
  for (const [name, range] of [
    ["sliced", "10.84.0.0/24"],
    ["stale", "10.85.0.0/24"],
  ] as const)
    await expectStatus(
      api,
      "POST",
      `/apis/k8s.cni.cncf.io/v1/namespaces/${NS}/network-attachment-definitions`,
      {
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: { name },
        spec: {
          config: JSON.stringify({
            cniVersion: "0.3.1",
            name,
            type: "macvlan",
            ipam: { type: "whereabouts", range, node_slice_size: "/26" },
          }),
        },
      },
    );
  for (const [name, range] of [
    ["stale", "10.85.0.0/24"],
    ["orphan", "10.86.0.0/24"],
  ] as const)
    await expectStatus(api, "POST", `${WB}/nodeslicepools`, {
      apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
      kind: "NodeSlicePool",
      metadata: { name },
      spec: { range, sliceSize: "/25" },
      status: {
        allocations: [{ nodeName: name === "stale" ? "n1" : "", sliceRange: range.replace("/24", "/25") }],
      },
    });
  // n1's slice pool of the stale slicing, empty: retired by the re-slice and deleted.
  await expectStatus(api, "POST", `${WB}/ippools`, {
    apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
    kind: "IPPool",
    metadata: { name: "n1-10.85.0.0-25" },
    spec: { range: "10.85.0.0/25", allocations: {} },
  });
  await api.resetRequests();
  const controller = await startController(api, [
    "--renew-interval",
    "1s",
    "--retry-interval",
    "500ms",
    "--sticky-release-after",
    "1s",
  ]);
  try {
    await waitFor(
      "the sweep to free the gone and the Succeeded pod's addresses, and the release of the sticky ones",
      async () => {
        const { collections } = await api.objects();
        const pools = (collections["ippools.whereabouts.cni.cncf.io"] ?? []) as {
          spec: { allocations: Record<string, unknown> };
        }[];
        const reservations = collections["overlappingrangeipreservations.whereabouts.cni.cncf.io"] ?? [];
        const events = (collections["events"] ?? []).length;
        const slicePools = (collections["nodeslicepools.whereabouts.cni.cncf.io"] ?? []) as {
          metadata: { name: string };
          status: { allocations: { nodeName: string }[] };
        }[];
        const sliced = slicePools.filter(
          (p) => p.status.allocations.filter((a) => a.nodeName !== "").length === 2,
        );
        return (
          slicePools.length === 2 &&
          sliced.length === 2 &&
          pools.length === 1 &&
          Object.keys(pools[0]!.spec.allocations).join() === "3" &&
          reservations.length === 0 &&
          events >= 2
        );
      },
      20_000,
    );
    // At least one renewal of the Lease after it was taken.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
  } finally {
    assert.equal(await controller.kill("SIGTERM"), 0, "the controller stops cleanly");
  }
  return (await api.requests()).log as LoggedRequest[];
}

describe("RBAC of the manifests against the requests the executable sends", () => {
  const logs: {
    plugin?: Access[];
    agent?: Access[];
    podReading?: Access[];
    controller?: Access[];
    go?: Access[];
  } = {};
  let base: KubeObject[];

  before(async () => {
    base = render("base");
    const apis: ApiDouble[] = [];
    try {
      const alone = await startApiDouble({ podTerminationMs: 100 });
      apis.push(alone);
      logs.plugin = (await pluginScenario(alone, { THEREABOUTS_AGENT_SOCKET: "" })).map(accessOf);

      const viaAgent = await startApiDouble({ podTerminationMs: 100 });
      apis.push(viaAgent);
      const agent = await startAgentProcess();
      try {
        logs.agent = (await pluginScenario(viaAgent, agent.env)).map(accessOf);
      } finally {
        await agent.stop();
      }

      const podReading = await startApiDouble({ podTerminationMs: 100 });
      apis.push(podReading);
      logs.podReading = (await podReadingScenario(podReading, { THEREABOUTS_AGENT_SOCKET: "" })).map(
        accessOf,
      );

      const forController = await startApiDouble({ podTerminationMs: 100 });
      apis.push(forController);
      logs.controller = (await controllerScenario(forController)).map(accessOf);

      // Go Whereabouts' request sequence (lease, LIST, GET, PATCH, reservation), ADD then DEL.
      const forGo = await startApiDouble({ podTerminationMs: 100 });
      apis.push(forGo);
      const go = new GoWriter({ url: forGo.url, namespace: "openshift-multus", lease: true });
      const attachment = { containerId: "go-c1", podRef: "default/go-pod" };
      assert.equal((await go.add({ range: "10.83.0.0/24" }, attachment)).ok, true);
      assert.equal((await go.del({ range: "10.83.0.0/24" }, attachment)).ok, true);
      logs.go = ((await forGo.requests()).log as LoggedRequest[]).map(accessOf);
    } finally {
      for (const api of apis) await api.stop();
    }
  });

  it("the plugin's and the agent's requests are each allowed to the thereabouts ServiceAccount", () => {
    const grants = grantsOf(base, PLUGIN);
    assert.deepEqual(deniedAccesses(grants, logs.plugin!), [], "plugin alone");
    assert.deepEqual(deniedAccesses(grants, logs.agent!), [], "through the agent");
  });

  it("the agent's requests include Go's Lease and its NodeSlicePool watch (so the run went through the agent)", () => {
    assert.ok(logs.agent!.some((a) => a.group === "coordination.k8s.io" && a.name === "whereabouts"));
    assert.ok(!logs.plugin!.some((a) => a.group === "coordination.k8s.io"), "a plugin alone never reads it");
    for (const verb of ["list", "watch"]) {
      assert.ok(
        logs.agent!.some((a) => a.verb === verb && a.resource === "nodeslicepools"),
        `agent: ${verb}`,
      );
      assert.ok(
        !logs.plugin!.some((a) => a.verb === verb && a.resource === "nodeslicepools"),
        `plugin: ${verb}`,
      );
    }
    // So a plugin alone would leave exactly that grant unused (what the no-agent overlay drops).
    assert.deepEqual(unusedPermissions(grantsOf(base, PLUGIN), PLUGIN, logs.plugin!), [
      "Role/kube-system/thereabouts: get coordination.k8s.io/leases whereabouts",
      "Role/kube-system/thereabouts: list whereabouts.cni.cncf.io/nodeslicepools",
      "Role/kube-system/thereabouts: watch whereabouts.cni.cncf.io/nodeslicepools",
    ]);
  });

  it("the thereabouts ServiceAccount is granted nothing the plugin and the agent do not use", () => {
    const grants = grantsOf(base, PLUGIN);
    assert.deepEqual(unusedPermissions(grants, PLUGIN, [...logs.plugin!, ...logs.agent!]), []);
    assert.ok(
      grants.every((g) => g.namespace === NS),
      "only namespaced grants (no ClusterRoleBinding for the node pods)",
    );
  });

  it("pod-read component: a network reading its pod needs exactly get pods beyond the base, and the component grants just that", () => {
    assert.deepEqual(deniedAccesses(grantsOf(base, PLUGIN), logs.podReading!), ["get pods web-0 in apps"]);
    const objects = withComponent("pod-read");
    const grants = grantsOf(objects, PLUGIN);
    assert.deepEqual(deniedAccesses(grants, logs.podReading!), []);
    const added = grants.filter((g) => g.source === "ClusterRole/thereabouts-pod-read");
    assert.deepEqual(unusedPermissions(added, PLUGIN, logs.podReading!), []);
    assert.deepEqual(
      added.map((g) => g.rule),
      [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }],
    );
  });

  it("the controller's requests are allowed to thereabouts-controller, and it is granted nothing it does not use", () => {
    const grants = grantsOf(base, CONTROLLER);
    assert.deepEqual(deniedAccesses(grants, logs.controller!), []);
    assert.deepEqual(unusedPermissions(grants, CONTROLLER, logs.controller!), []);
  });

  it("no-agent overlay: the plugin alone needs all its Role grants, and no longer reads Go's Lease", () => {
    const grants = grantsOf(render("overlays/no-agent"), PLUGIN);
    assert.deepEqual(deniedAccesses(grants, logs.plugin!), []);
    assert.deepEqual(unusedPermissions(grants, PLUGIN, logs.plugin!), []);
    assert.deepEqual(
      grantsOf(render("overlays/no-agent"), CONTROLLER),
      grantsOf(base, CONTROLLER),
      "the controller's grants are the base's",
    );
  });

  it("openshift overlay: the base's grants in openshift-multus, plus Go's plugin's needs, used by Go's requests", () => {
    const objects = render("overlays/openshift");
    const inOpenShift = (a: Account): Account => ({ ...a, namespace: "openshift-multus" });
    const moved = (grants: ReturnType<typeof grantsOf>) =>
      grants.map((g) => ({
        rule: g.rule,
        namespace: g.namespace === undefined ? undefined : "openshift-multus",
        source: g.source.replace(`/${NS}/`, "/openshift-multus/"),
      }));
    const controller = grantsOf(objects, inOpenShift(CONTROLLER));
    assert.deepEqual(controller, moved(grantsOf(base, CONTROLLER)));
    const plugin = grantsOf(objects, inOpenShift(PLUGIN));
    const baseInOpenShift = moved(grantsOf(base, PLUGIN));
    const extra = plugin.filter((g) => !baseInOpenShift.some((b) => JSON.stringify(b) === JSON.stringify(g)));
    assert.equal(plugin.length, baseInOpenShift.length + extra.length, "every base grant is kept");
    assert.deepEqual(
      [...new Set(extra.map((g) => g.source))],
      ["Role/openshift-multus/thereabouts-go-plugin", "ClusterRole/thereabouts-scc"],
    );
    // Go's requests in openshift-multus are all allowed with the thereabouts token.
    assert.deepEqual(deniedAccesses(plugin, logs.go!), []);
    // The Go plugin Role: every permission used by Go's requests, except the NodeSlicePool read of
    // node-slice networks (Go's ADD GETs its NodeSlicePool first), which the emulation does not do.
    const goRole = extra.filter((g) => g.source.endsWith("thereabouts-go-plugin"));
    assert.deepEqual(unusedPermissions(goRole, inOpenShift(PLUGIN), logs.go!), [
      "Role/openshift-multus/thereabouts-go-plugin: get whereabouts.cni.cncf.io/nodeslicepools",
    ]);
    // Without the Go Role, Go's Lease requests would be refused: it is needed.
    assert.notDeepEqual(deniedAccesses(baseInOpenShift, logs.go!), []);
    // The SCC is usable by the node pods' account only.
    const scc = find(objects, "SecurityContextConstraints", "thereabouts");
    assert.ok(scc);
    assert.deepEqual(
      grantsOf(objects, inOpenShift(CONTROLLER)).filter((g) => g.source.includes("scc")),
      [],
    );
  });
  it("multus overlay: the base's grants, plus the meta-plugin's in every namespace (GET pod and NAD, the status patch)", () => {
    const objects = render("overlays/multus");
    const plugin = grantsOf(objects, PLUGIN);
    const extra = plugin.filter(
      (g) => !grantsOf(base, PLUGIN).some((b) => JSON.stringify(b) === JSON.stringify(g)),
    );
    assert.deepEqual([...new Set(extra.map((g) => g.source))], ["ClusterRole/thereabouts-multus"]);
    assert.ok(
      extra.every((g) => g.namespace === undefined),
      "cluster-wide: pods and NADs live in every namespace",
    );
    assert.deepEqual(
      deniedAccesses(plugin, [...logs.plugin!, ...logs.agent!]),
      [],
      "the IPAM requests as in the base",
    );
    assert.deepEqual(
      grantsOf(objects, CONTROLLER),
      grantsOf(base, CONTROLLER),
      "the controller's are the base's",
    );
    // What the meta-plugin sends for a pod with one attachment (thin mode): its pod, the NAD, the
    // network-status annotation through pods/status; a Go multus binary's UpdateStatus too; the
    // node agent's watch caches of its node's pods and of the NADs. Not (yet) from a logged run: the meta-plugin is not part of
    // these runs.
    const meta = (verb: string, group: string, resource: string, name: string): Access => ({
      verb,
      group,
      resource,
      namespace: "apps",
      name,
    });
    const sent = [
      meta("get", "", "pods", "web-0"),
      meta("get", "k8s.cni.cncf.io", "network-attachment-definitions", "macvlan-conf"),
      meta("patch", "", "pods/status", "web-0"),
      meta("update", "", "pods/status", "web-0"),
      { ...meta("list", "k8s.cni.cncf.io", "network-attachment-definitions", ""), namespace: "" },
      { ...meta("watch", "k8s.cni.cncf.io", "network-attachment-definitions", ""), namespace: "" },
      { ...meta("list", "", "pods", ""), namespace: "" },
      { ...meta("watch", "", "pods", ""), namespace: "" },
    ];
    assert.deepEqual(deniedAccesses(plugin, sent), []);
    assert.equal(
      deniedAccesses(grantsOf(base, PLUGIN), sent).length,
      sent.length,
      "none of them in the base",
    );
    assert.deepEqual(unusedPermissions(extra, PLUGIN, sent), [], "and nothing else is granted");
  });
});
