// The meta-plugin's calls served by the node agent (bin/thereabouts agent, a child process) with its
// watch cache of this node's pods and the NADs, against the API double (its request log tells which
// requests each call sent), with bin/multus plugin processes, the Debian plugins in /usr/lib/cni and
// real network namespaces. Every answer through the agent is compared with thin mode's (the same
// call with no agent).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { buildOnce, createPod, deletePod } from "../controller/support.ts";
import { type ApiDouble, startApiDouble } from "../k8s-api/harness.ts";
import { type AgentProcess, startAgentProcess } from "../support/agent.ts";
import { addresses, ip, links, type MultusOutcome, runMultus } from "../support/multus.ts";
import { BINARY, type TempDir, tempDir } from "../support/plugin.ts";

const PARENT = "mlc-parent0";
const NODE = "node-1";
const TOKEN = "multus-cache-token";
const NETWORKS = "k8s.v1.cni.cncf.io/networks";
const STATUS = "k8s.v1.cni.cncf.io/network-status";
const NAD_RESOURCE = "network-attachment-definitions.k8s.cni.cncf.io";

type Mode = "agent" | "thin";

/** A result without what differs on every ADD: MAC addresses and the host end's name of a veth pair. */
const normal = (stdout: string) =>
  stdout.replace(/"mac":\s*"[0-9a-f:]+"/g, '"mac":"…"').replace(/"veth[0-9a-f]{8}"/g, '"veth…"');

/** The last request logged so far: `sent` and `untilWatching` look at what came after it. */
async function mark(api: ApiDouble): Promise<number> {
  const { log } = await api.requests();
  return log.at(-1)?.seq ?? 0;
}

/** The requests after `since` by verb and resource: "get pods", "get <NAD_RESOURCE>", "patch pods/status". */
async function sent(api: ApiDouble, since: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const r of (await api.requests()).log) {
    if (r.seq <= since) continue;
    if (r.resource !== "pods" && r.resource !== "pods/status" && r.resource !== NAD_RESOURCE) continue;
    const key = `${r.verb} ${r.resource}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** Until the agent watches pods and NADs after `since` (each watch follows its completed LIST). */
async function untilWatching(api: ApiDouble, since: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const counts = await sent(api, since);
    if ((counts["watch pods"] ?? 0) > 0 && (counts[`watch ${NAD_RESOURCE}`] ?? 0) > 0) return;
    await sleep(25);
  }
  assert.fail("the agent never watched pods and NADs");
}

function kubeconfigText(api: ApiDouble, token: string): string {
  return readFileSync(api.kubeconfigPath("default"), "utf8").replace(
    `token: ${JSON.stringify(TOKEN)}`,
    `token: ${JSON.stringify(token)}`,
  );
}

describe("multus through the node agent: the watch cache of pods and NADs", () => {
  let api: ApiDouble;
  let agent: AgentProcess;
  let dir: TempDir;
  let ns: string;
  let serial = 0;

  /** A bridge master with static IPAM: its result (the one printed) is the same on every ADD. */
  const config = (name: string, kubeconfig = api.kubeconfigPath("default")) => ({
    cniVersion: "1.0.0",
    name: "multus-cni-network",
    type: "multus",
    kubeconfig,
    cniDir: join(dir.path, `cni-${name}`),
    binDir: "/nonexistent",
    confDir: join(dir.path, "net.d"),
    delegates: [
      {
        cniVersion: "1.0.0",
        name: "cbr0",
        type: "bridge",
        bridge: "mlcbr0",
        ipam: { type: "static", addresses: [{ address: "10.244.19.5/24" }] },
      },
    ],
  });

  const nad = async (name: string, spec: object, target = api) => {
    const res = await target.request(
      "POST",
      "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions",
      {
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: { name },
        spec: { config: JSON.stringify(spec) },
      },
    );
    assert.equal(res.status, 201, res.body);
  };
  const staticNad = (address: string) => ({
    cniVersion: "1.0.0",
    type: "macvlan",
    master: PARENT,
    ipam: { type: "static", addresses: [{ address }] },
  });

  const podAnnotations = async (name: string) =>
    (
      JSON.parse((await api.request("GET", `/api/v1/namespaces/default/pods/${name}`)).body) as {
        metadata: { annotations?: Record<string, string> };
      }
    ).metadata.annotations ?? {};

  function multus(
    mode: Mode,
    command: string,
    pod: string,
    uid: string,
    conf: object,
    netns = ns,
    via = agent,
  ): Promise<MultusOutcome> {
    const cid = `ctr-${netns}`;
    return runMultus(command, conf, {
      // Empty: the plugin never uses an agent (thin mode).
      THEREABOUTS_AGENT_SOCKET: mode === "agent" ? via.socket : "",
      CNI_IFNAME: "eth0",
      CNI_PATH: "/usr/lib/cni",
      CNI_CONTAINERID: cid,
      CNI_NETNS: `/var/run/netns/${netns}`,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod};K8S_POD_INFRA_CONTAINER_ID=${cid};K8S_POD_UID=${uid}`,
    }).then((outcome) => {
      if (mode === "agent") assert.doesNotMatch(outcome.stderr, /did not answer/, "the agent answered");
      return outcome;
    });
  }

  const ok = (o: MultusOutcome, what: string) => assert.equal(o.code, 0, `${what}: ${o.stdout} ${o.stderr}`);

  before(async () => {
    buildOnce();
    api = await startApiDouble({ token: TOKEN });
    agent = await startAgentProcess(undefined, ["--node-name", NODE]);
    dir = tempDir("thereabouts-multus-cache-");
    ip("link", "add", PARENT, "type", "veth", "peer", "name", `${PARENT}p`);
    ip("link", "set", PARENT, "up");
    await nad("macvlan-conf", {
      cniVersion: "0.3.1",
      type: "macvlan",
      master: PARENT,
      mode: "bridge",
      ipam: { type: "host-local", ranges: [[{ subnet: "192.168.87.0/24" }]], dataDir: join(dir.path, "hl") },
    });
    await nad("static-conf", staticNad("192.168.88.5/24"));
  });

  after(async () => {
    for (const link of [PARENT, "mlcbr0"]) {
      try {
        ip("link", "del", link);
      } catch {
        // not created
      }
    }
    assert.equal(await agent.stop(), 0);
    await api.stop();
    dir.remove();
  });

  beforeEach(() => {
    ns = `mlc-${process.pid}-${++serial}`;
    ip("netns", "add", ns);
  });
  afterEach(() => ip("netns", "del", ns));

  it("after warm-up, ADD of a pod with two NAD attachments sends only the status PATCH (thin: GET pod, a GET per NAD, PATCH); DEL only its PATCH; answers as thin mode's", async () => {
    const uid = await createPod(api, "default", "twice", {
      nodeName: NODE,
      annotations: { [NETWORKS]: "macvlan-conf,macvlan-conf" },
    });
    const conf = config("twice");
    let since = await mark(api);
    const thin = await multus("thin", "ADD", "twice", uid, conf);
    ok(thin, "thin ADD");
    assert.deepEqual(await sent(api, since), {
      "get pods": 1,
      [`get ${NAD_RESOURCE}`]: 2,
      "patch pods/status": 1,
    });
    since = await mark(api);
    ok(await multus("thin", "DEL", "twice", uid, conf), "thin DEL");
    assert.deepEqual(await sent(api, since), { "get pods": 1, "patch pods/status": 1 });

    // The first call through the agent opens its connection and starts the watches.
    since = await mark(api);
    ok(await multus("agent", "ADD", "twice", uid, conf), "first agent ADD");
    ok(await multus("agent", "DEL", "twice", uid, conf), "first agent DEL");
    await untilWatching(api, since);

    since = await mark(api);
    const served = await multus("agent", "ADD", "twice", uid, conf);
    ok(served, "agent ADD");
    assert.deepEqual(await sent(api, since), { "patch pods/status": 1 }, "no GET of the pod or a NAD");
    assert.equal(normal(served.stdout), normal(thin.stdout));
    assert.deepEqual(links(ns), ["eth0", "lo", "net1", "net2"]);
    const status = JSON.parse((await podAnnotations("twice"))[STATUS]!) as {
      interface: string;
      ips: string[];
    }[];
    assert.deepEqual(
      status.map((s) => [s.interface, s.ips]),
      ["eth0", "net1", "net2"].map((dev) => [dev, addresses(ns, dev)]),
    );

    // Right after the ADD: the agent knows the annotation it wrote, whether or not the watch brought it.
    since = await mark(api);
    ok(await multus("agent", "DEL", "twice", uid, conf), "agent DEL");
    assert.deepEqual(
      await sent(api, since),
      { "patch pods/status": 1 },
      "network-status cleared without a GET",
    );
    assert.equal((await podAnnotations("twice"))[STATUS], undefined);
    assert.deepEqual(links(ns), ["lo"]);
  });

  it("a pod created right before its ADD is found (a GET when the cache has not seen it yet)", async () => {
    await untilWatching(api, 0);
    for (let i = 0; i < 3; i++) {
      const name = `fresh-${i}`;
      const uid = await createPod(api, "default", name, {
        nodeName: NODE,
        annotations: { [NETWORKS]: "static-conf" },
      });
      const conf = config(name);
      ok(await multus("agent", "ADD", name, uid, conf), `ADD ${name}`);
      assert.deepEqual(addresses(ns, "net1"), ["192.168.88.5"]);
      assert.match((await podAnnotations(name))[STATUS] ?? "", /"interface": "net1"/);
      ok(await multus("agent", "DEL", name, uid, conf), `DEL ${name}`);
      assert.deepEqual(links(ns), ["lo"]);
    }
  });

  it("a pod deleted and re-created under the same name with a new UID is not taken for the old one", async () => {
    const first = await createPod(api, "default", "again", {
      nodeName: NODE,
      annotations: { [NETWORKS]: "macvlan-conf" },
    });
    const conf = config("again");
    await untilWatching(api, 0);
    await sleep(200); // the watch brings the pod: the first incarnation is in the cache
    ok(await multus("agent", "ADD", "again", first, conf), "ADD of the first");
    assert.deepEqual(links(ns), ["eth0", "lo", "net1"]);
    ok(await multus("agent", "DEL", "again", first, conf), "DEL of the first");
    await deletePod(api, "default", "again");
    const second = await createPod(api, "default", "again", {
      nodeName: NODE,
      annotations: { [NETWORKS]: "static-conf,macvlan-conf" },
    });
    ok(await multus("agent", "ADD", "again", second, conf), "ADD of the second, at once");
    assert.deepEqual(links(ns), ["eth0", "lo", "net1", "net2"]);
    assert.deepEqual(addresses(ns, "net1"), ["192.168.88.5"], "the second's annotation");
    assert.match((await podAnnotations("again"))[STATUS] ?? "", /192\.168\.88\.5/);
    ok(await multus("agent", "DEL", "again", second, conf), "DEL of the second");
    // A runtime still asking for the first: Multus' UID mismatch, through the agent as alone.
    const stale = await multus("agent", "ADD", "again", first, conf);
    const alone = await multus("thin", "ADD", "again", first, conf);
    assert.equal(stale.code, alone.code);
    assert.equal(stale.stdout, alone.stdout);
    assert.match(stale.stdout, /expected pod UID/);
    assert.deepEqual(links(ns), ["lo"]);
  });

  it("a NAD changed is seen; a NAD deleted fails the ADD with Multus' not-found text, as thin mode", async () => {
    await nad("moving", staticNad("192.168.89.5/24"));
    const uid = await createPod(api, "default", "mover", {
      nodeName: NODE,
      annotations: { [NETWORKS]: "moving" },
    });
    const conf = config("mover");
    await untilWatching(api, 0);
    ok(await multus("agent", "ADD", "mover", uid, conf), "ADD");
    assert.deepEqual(addresses(ns, "net1"), ["192.168.89.5"]);
    ok(await multus("agent", "DEL", "mover", uid, conf), "DEL");
    const patched = await api.request(
      "PATCH",
      "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/moving",
      { spec: { config: JSON.stringify(staticNad("192.168.89.6/24")) } },
      { "Content-Type": "application/merge-patch+json" },
    );
    assert.equal(patched.status, 200, patched.body);
    let seen: string[] = [];
    for (let i = 0; i < 50 && seen[0] !== "192.168.89.6"; i++) {
      ok(await multus("agent", "ADD", "mover", uid, conf), "ADD after the change");
      seen = addresses(ns, "net1");
      ok(await multus("agent", "DEL", "mover", uid, conf), "DEL after the change");
      if (seen[0] !== "192.168.89.6") await sleep(100);
    }
    assert.deepEqual(seen, ["192.168.89.6"], "the changed NAD is used");
    const removed = await api.request(
      "DELETE",
      "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/moving",
    );
    assert.equal(removed.status, 200, removed.body);
    let failed: MultusOutcome | undefined;
    for (let i = 0; i < 50 && failed === undefined; i++) {
      const o = await multus("agent", "ADD", "mover", uid, conf);
      if (o.code !== 0) failed = o;
      else {
        ok(await multus("agent", "DEL", "mover", uid, conf), "DEL while the NAD is still cached");
        await sleep(100);
      }
    }
    assert.ok(failed !== undefined, "the deleted NAD is seen");
    const alone = await multus("thin", "ADD", "mover", uid, conf);
    assert.equal(failed.code, alone.code);
    assert.equal(failed.stdout, alone.stdout);
    assert.match(
      failed.stdout,
      /cannot find a network-attachment-definition \(moving\) in namespace \(default\): network-attachment-definitions.k8s.cni.cncf.io \\"moving\\" not found/,
    );
    assert.deepEqual(links(ns), ["lo"], "nothing added");
  });

  it("credentials rotated in the kubeconfig: a revoked token fails as thin mode; the new one works and is cached again", async () => {
    const kubeconfig = join(dir.path, "rotating.kubeconfig");
    writeFileSync(kubeconfig, kubeconfigText(api, TOKEN), { mode: 0o600 });
    const uid = await createPod(api, "default", "rotor", {
      nodeName: NODE,
      annotations: { [NETWORKS]: "static-conf" },
    });
    const conf = config("rotor", kubeconfig);
    let since = await mark(api);
    ok(await multus("agent", "ADD", "rotor", uid, conf), "first ADD");
    ok(await multus("agent", "DEL", "rotor", uid, conf), "first DEL");
    await untilWatching(api, since);
    since = await mark(api);
    ok(await multus("agent", "ADD", "rotor", uid, conf), "cached ADD");
    assert.deepEqual(await sent(api, since), { "patch pods/status": 1 });
    ok(await multus("agent", "DEL", "rotor", uid, conf), "cached DEL");

    // The installer writes a new token; the API no longer takes the one the agent connected with.
    writeFileSync(kubeconfig, kubeconfigText(api, "revoked-token"));
    const refused = await multus("agent", "ADD", "rotor", uid, conf);
    const alone = await multus("thin", "ADD", "rotor", uid, conf);
    assert.notEqual(refused.code, 0);
    assert.equal(refused.code, alone.code);
    assert.equal(refused.stdout, alone.stdout);
    assert.match(refused.stdout, /Unauthorized/);
    assert.deepEqual(links(ns), ["lo"]);

    since = await mark(api);
    writeFileSync(kubeconfig, kubeconfigText(api, TOKEN));
    ok(await multus("agent", "ADD", "rotor", uid, conf), "ADD with the new kubeconfig");
    ok(await multus("agent", "DEL", "rotor", uid, conf), "DEL with the new kubeconfig");
    await untilWatching(api, since);
    since = await mark(api);
    ok(await multus("agent", "ADD", "rotor", uid, conf), "cached again");
    assert.deepEqual(await sent(api, since), { "patch pods/status": 1 });
    ok(await multus("agent", "DEL", "rotor", uid, conf), "last DEL");
  });

  it("an account that may not list pods and NADs (here: anonymous, 403): the agent says so once and asks the API per call, answering as thin mode", async () => {
    const uid = await createPod(api, "default", "barred", {
      nodeName: NODE,
      annotations: { [NETWORKS]: "static-conf" },
    });
    const conf = config("barred", api.kubeconfigPath("default", { token: null }));
    const alone = await multus("thin", "ADD", "barred", uid, conf);
    assert.notEqual(alone.code, 0);
    assert.match(alone.stdout, /forbidden/);
    for (let i = 0; i < 3; i++) {
      const served = await multus("agent", "ADD", "barred", uid, conf);
      assert.deepEqual([served.code, served.stdout], [alone.code, alone.stdout]);
      await sleep(200);
    }
    const said = (what: string) =>
      agent
        .stderr()
        .split("\n")
        .filter((l) =>
          l.includes(`multus cache: ${what} cannot be listed (HTTP 403): each call GETs them instead`),
        );
    assert.equal(said(`pods of node ${NODE}`).length, 1, agent.stderr());
    assert.equal(said("network-attachment-definitions").length, 1);
    assert.match(
      said("network-attachment-definitions")[0]!,
      /grant list and watch on network-attachment-definitions/,
    );
    assert.deepEqual(links(ns), ["lo"]);
  });

  it("an agent of another node (--node-name) caches none of this node's pods: each call GETs its pod, NADs still cached; a malformed name is refused", async () => {
    const bad = spawnSync(
      BINARY.file,
      ["agent", "--socket", join(dir.path, "x.sock"), "--node-name", "Node_1"],
      {
        encoding: "utf8",
      },
    );
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--node-name "Node_1": expected the Kubernetes node's name/);
    const elsewhere = await startAgentProcess(undefined, ["--node-name", "node-2"]);
    try {
      const uid = await createPod(api, "default", "local", {
        nodeName: NODE,
        annotations: { [NETWORKS]: "static-conf,macvlan-conf" },
      });
      const conf = config("local");
      let since = await mark(api);
      ok(await multus("agent", "ADD", "local", uid, conf, ns, elsewhere), "first ADD");
      ok(await multus("agent", "DEL", "local", uid, conf, ns, elsewhere), "first DEL");
      await untilWatching(api, since);
      since = await mark(api);
      ok(await multus("agent", "ADD", "local", uid, conf, ns, elsewhere), "ADD");
      // The call's own requests: the informers' background LIST/WATCH (a relist when the double
      // ends a watch), pods' or NADs', is no call's, and varies with timing.
      const own = Object.fromEntries(
        Object.entries(await sent(api, since)).filter(([verb]) => !/^(list|watch) /.test(verb)),
      );
      assert.deepEqual(own, { "get pods": 1, "patch pods/status": 1 });
      ok(await multus("agent", "DEL", "local", uid, conf, ns, elsewhere), "DEL");
      assert.deepEqual(links(ns), ["lo"]);
    } finally {
      assert.equal(await elsewhere.stop(), 0);
    }
  });

  it("with the API server stopped, DEL through the agent removes every interface from the on-disk cache, as quickly as thin mode", async () => {
    const own = await startApiDouble();
    try {
      await nad("static-conf", staticNad("192.168.90.5/24"), own);
      await nad("macvlan-conf", staticNad("192.168.90.6/24"), own);
      const res = await own.request("POST", "/api/v1/namespaces/default/pods", {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "offline", annotations: { [NETWORKS]: "static-conf,macvlan-conf" } },
        spec: { nodeName: NODE, containers: [{ name: "c", image: "busybox:1.36" }] },
      });
      const uid = (JSON.parse(res.body) as { metadata: { uid: string } }).metadata.uid;
      // A copy: stopping the double removes its files, and a missing kubeconfig is another case.
      const kubeconfig = join(dir.path, "offline.kubeconfig");
      writeFileSync(kubeconfig, readFileSync(own.kubeconfigPath("default")), { mode: 0o600 });
      const conf = config("offline", kubeconfig);
      ok(await multus("agent", "ADD", "offline", uid, conf), "first ADD");
      ok(await multus("agent", "DEL", "offline", uid, conf), "first DEL");
      await untilWatching(own, 0);
      // Two sandboxes of the pod: one torn down by a plugin alone, one through the agent.
      const other = `${ns}-b`;
      ip("netns", "add", other);
      try {
        ok(await multus("agent", "ADD", "offline", uid, conf), "cached ADD");
        ok(await multus("agent", "ADD", "offline", uid, conf, other), "second ADD");
        for (const netns of [ns, other]) assert.deepEqual(links(netns), ["eth0", "lo", "net1", "net2"]);
        await own.stop();
        const timed = async (mode: Mode, netns: string) => {
          const started = Date.now();
          const o = await multus(mode, "DEL", "offline", uid, conf, netns);
          return { ...o, ms: Date.now() - started };
        };
        const alone = await timed("thin", other);
        const served = await timed("agent", ns);
        for (const o of [alone, served]) assert.deepEqual([o.code, o.stdout], [0, ""], o.stderr);
        for (const netns of [ns, other]) assert.deepEqual(links(netns), ["lo"]);
        // Both look for the pod with Multus' retries and go on without it: the agent no longer
        // trusts a cache whose watch failed (and so does not retry a status write for 20 s).
        assert.ok(
          served.ms < alone.ms + 2_000,
          `DEL through the agent took ${served.ms} ms, alone ${alone.ms} ms`,
        );
      } finally {
        ip("netns", "del", other);
      }
    } finally {
      await own.stop();
    }
  });
});
