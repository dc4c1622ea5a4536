import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parseRequest } from "../cni/request.ts";
import { loadMultusConf } from "../multus/config.ts";
import { callLimits } from "./call-deadline.ts";
import { HostPaths } from "./host-paths.ts";
import { multusCallPaths, serveMultusCall, unseenInMultusCall } from "./multus-calls.ts";

const dir = mkdtempSync(join(tmpdir(), "thereabouts-multus-paths-"));
const shared = join(dir, "shared");
const outside = join(dir, "outside");
mkdirSync(shared);
mkdirSync(outside);
after(() => rmSync(dir, { recursive: true, force: true }));

const master = { cniVersion: "1.0.0", name: "m", type: "bridge" };

/** A meta-plugin ADD with every path in the shared directory, `conf` and `env` on top. */
function call(conf: object = {}, env: Record<string, string> = {}) {
  const stdin = JSON.stringify({
    cniVersion: "1.0.0",
    name: "multus-cni-network",
    type: "multus",
    delegates: [master],
    binDir: join(shared, "bin"),
    confDir: join(shared, "net.d"),
    cniDir: join(shared, "multus"),
    ...conf,
  });
  const req = parseRequest(
    {
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "c1",
      CNI_NETNS: join(shared, "netns", "pod"),
      CNI_IFNAME: "eth0",
      CNI_PATH: `${join(shared, "a")}:${join(shared, "b")}`,
      ...env,
    },
    stdin,
  );
  return { req, conf: loadMultusConf(req.config) };
}

const paths = new HostPaths([shared]);
const noKube = {};

describe("the paths of a meta-plugin call (agent --host-paths)", () => {
  it("are the delegates' directories, the configuration files, the caches, the kubeconfig, the log and readiness files and the netns", () => {
    const { req, conf } = call({
      clusterNetwork: "/etc/cni/net.d/10-flannel.conflist",
      defaultNetworks: ["by-name", "/etc/cni/more.conf"],
      kubeconfig: "/etc/cni/net.d/multus.d/multus.kubeconfig",
      logFile: "/var/log/multus.log",
      readinessindicatorfile: "/run/flannel/subnet.env",
    });
    assert.deepEqual(multusCallPaths(req, conf), [
      join(shared, "bin"),
      join(shared, "a"),
      join(shared, "b"),
      join(shared, "net.d"),
      "/etc/cni/net.d/10-flannel.conflist",
      "/etc/cni/more.conf",
      join(shared, "multus"),
      "/etc/cni/net.d/multus.d/multus.kubeconfig",
      "/var/log/multus.log",
      "/run/flannel/subnet.env",
      join(shared, "netns", "pod"),
    ]);
  });

  it("a call whose every path is shared is served; any one outside is declined, naming it", async () => {
    const served = call();
    assert.equal(await unseenInMultusCall(paths, served.req, served.conf, noKube), undefined);
    const cases: [object, Record<string, string>, string][] = [
      [{ binDir: join(outside, "bin") }, {}, join(outside, "bin")],
      [{}, { CNI_PATH: `${join(shared, "a")}:${join(outside, "cni")}` }, join(outside, "cni")],
      [{ cniDir: join(outside, "multus") }, {}, join(outside, "multus")],
      [{ confDir: join(outside, "net.d") }, {}, join(outside, "net.d")],
      [{ clusterNetwork: join(outside, "master.conf") }, {}, join(outside, "master.conf")],
      [{ logFile: join(outside, "multus.log") }, {}, join(outside, "multus.log")],
      [{ readinessindicatorfile: join(outside, "ready") }, {}, join(outside, "ready")],
      [{ kubeconfig: join(outside, "kubeconfig") }, {}, join(outside, "kubeconfig")],
      [{}, { CNI_NETNS: "/var/run/netns/pod" }, "/var/run/netns/pod"],
    ];
    for (const [conf, env, path] of cases) {
      const { req, conf: decoded } = call(conf, env);
      assert.equal(
        await unseenInMultusCall(paths, req, decoded, noKube),
        `${path} is outside --host-paths`,
        JSON.stringify(conf),
      );
    }
  });

  it("the files a shared kubeconfig names must be shared too", async () => {
    const kubeconfig = join(shared, "multus.kubeconfig");
    const ca = join(outside, "ca.crt");
    writeFileSync(ca, "not read\n");
    writeFileSync(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        `clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443", certificate-authority: ${ca}}}]`,
        "users: [{name: u, user: {token: t}}]",
        "contexts: [{name: c, context: {cluster: c, user: u}}]",
        "current-context: c",
        "",
      ].join("\n"),
    );
    const { req, conf } = call({ kubeconfig });
    assert.equal(await unseenInMultusCall(paths, req, conf, noKube), `${ca} is outside --host-paths`);
    assert.equal(await unseenInMultusCall(new HostPaths([shared, outside]), req, conf, noKube), undefined);
  });

  it("without a kubeconfig, an agent in a pod declines (it would reach the API the plugin on the host does not)", async () => {
    const { req, conf } = call();
    const inPod = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };
    assert.match(
      (await unseenInMultusCall(paths, req, conf, inPod)) ?? "",
      /^the configuration names no kubeconfig/,
    );
    assert.equal(
      await unseenInMultusCall(paths, req, conf, { KUBERNETES_SERVICE_HOST: "10.96.0.1" }),
      undefined,
    );
  });
});

describe("a served meta-plugin call's time limit", () => {
  it("is what is left of its verb's limit after its wait for a slot: answered code 11 in time", async () => {
    // ADD waits for the readiness file: without one, the call would run until its limit.
    const ready = join(dir, "ready");
    const stdin = JSON.stringify({
      cniVersion: "1.0.0",
      name: "multus-cni-network",
      type: "multus",
      delegates: [master],
      binDir: join(dir, "no-bin"),
      cniDir: join(dir, "multus"),
      readinessindicatorfile: ready,
    });
    const env = {
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "c-wait",
      CNI_NETNS: join(dir, "no-netns"),
      CNI_IFNAME: "eth0",
      CNI_PATH: join(dir, "no-path"),
    };
    const started = performance.now();
    const outcome = await serveMultusCall(
      { env, stdin },
      { connect: async () => undefined },
      undefined,
      callLimits("add") - 300,
    );
    const ms = performance.now() - started;
    assert.ok(ms >= 250 && ms < 2_000, `answered after ${Math.round(ms)} ms`);
    assert.ok("result" in outcome && outcome.result === "timeout", JSON.stringify(outcome));
    assert.equal(outcome.answer.code, 1);
    assert.equal((JSON.parse(outcome.answer.stdout) as { code: number }).code, 11);
    // The work itself goes on in the background (it cannot be cancelled): once the readiness
    // file is there, it writes the pod's delegate list, then fails on the missing namespace.
    writeFileSync(ready, "");
    const scratch = join(dir, "multus", "c-wait");
    for (let i = 0; i < 40 && !existsSync(scratch); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(existsSync(scratch), "the call went on after its answer");
  });
});
