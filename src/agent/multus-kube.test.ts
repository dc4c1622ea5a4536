import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { KubeConnection } from "../kube/kubeconfig.ts";
import { connectKube, type MultusKube } from "../multus/kube.ts";
import { defaultNodeName, MultusKubeCache } from "./multus-kube.ts";
import { MultusView, type WatchedView } from "./multus-view.ts";

/** Views that record how they were opened, stopped and closed (no API behind them). */
function watcher() {
  const opened: { connection: KubeConnection; node: string; watching: boolean; closed: boolean }[] = [];
  const watch = (connection: KubeConnection, node: string): WatchedView => {
    const record = { connection, node, watching: true, closed: false };
    opened.push(record);
    const requests: MultusKube = {
      getPod: async () => undefined,
      getNad: async () => ({ missing: "" }),
      setStatusAnnotation: async () => "done",
      requests: 0,
      close: () => {
        record.closed = true;
      },
    };
    const idle = { live: false, get: () => undefined };
    return {
      view: new MultusView({ requests, pods: idle, nads: idle }),
      stopWatching: () => {
        record.watching = false;
      },
    };
  };
  return { opened, watch };
}

function kubeconfig(tokenFile: string): string {
  return [
    "apiVersion: v1",
    "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]",
    `users: [{name: u, user: {tokenFile: '${tokenFile}'}}]`,
    "contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]",
    "current-context: x",
    "",
  ].join("\n");
}

function withFiles(work: (dir: string, path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "multus-kube-"));
  writeFileSync(join(dir, "token"), "first\n");
  writeFileSync(join(dir, "kubeconfig"), kubeconfig(join(dir, "token")));
  return work(dir, join(dir, "kubeconfig")).finally(() => rmSync(dir, { recursive: true, force: true }));
}

describe("MultusKubeCache: one warm connection per kubeconfig", () => {
  it("calls share one connection; each call's close() leaves it open", () =>
    withFiles(async (_dir, path) => {
      const w = watcher();
      const cache = new MultusKubeCache({ nodeName: "n1", watch: w.watch });
      const calls = await Promise.all(Array.from({ length: 20 }, () => cache.deps.connect(path)));
      for (const kube of calls) kube?.close();
      (await cache.deps.connect(path))?.close();
      assert.equal(w.opened.length, 1, "arriving together, they share one opening");
      assert.equal(w.opened[0]!.node, "n1");
      assert.equal(w.opened[0]!.connection.authorization, "Bearer first");
      assert.deepEqual([w.opened[0]!.watching, w.opened[0]!.closed], [true, false]);
      cache.close();
      assert.deepEqual([w.opened[0]!.watching, w.opened[0]!.closed], [false, true]);
    }));

  it("a rotated token (the file the kubeconfig names) or a rewritten kubeconfig replaces the connection; the old one closes when its calls are done", () =>
    withFiles(async (dir, path) => {
      const w = watcher();
      const cache = new MultusKubeCache({ nodeName: "n1", watch: w.watch });
      const during = await cache.deps.connect(path);
      writeFileSync(join(dir, "token"), "second\n");
      (await cache.deps.connect(path))?.close();
      assert.equal(w.opened.length, 2);
      assert.equal(w.opened[1]!.connection.authorization, "Bearer second");
      assert.deepEqual([w.opened[0]!.watching, w.opened[0]!.closed], [false, false], "a call still uses it");
      during?.close();
      assert.equal(w.opened[0]!.closed, true);
      writeFileSync(path, kubeconfig(join(dir, "token")).replace("127.0.0.1:1", "127.0.0.1:2"));
      (await cache.deps.connect(path))?.close();
      assert.equal(w.opened.length, 3);
      assert.equal(w.opened[2]!.connection.server, "http://127.0.0.1:2");
      (await cache.deps.connect(path))?.close();
      assert.equal(w.opened.length, 3, "unchanged files: the same connection");
      cache.close();
    }));

  it("a kubeconfig that cannot be used fails each call with the plugin's own error, and is not kept", () =>
    withFiles(async (dir, path) => {
      const w = watcher();
      const cache = new MultusKubeCache({ nodeName: "n1", watch: w.watch });
      rmSync(join(dir, "token"));
      const alone = await connectKube(path, {}).then(
        () => "connected",
        (e: Error) => e.message,
      );
      assert.match(alone, /open .*token: no such file or directory/);
      for (let i = 0; i < 2; i++)
        await assert.rejects(cache.deps.connect(path), (e: Error) => e.message === alone);
      assert.equal(w.opened.length, 0);
      writeFileSync(join(dir, "token"), "back\n");
      (await cache.deps.connect(path))?.close();
      assert.equal(w.opened.length, 1);
      cache.close();
    }));

  it("no kubeconfig: in-cluster from the agent's environment, else no Kubernetes at all", async () => {
    const w = watcher();
    const none = new MultusKubeCache({ nodeName: "n1", watch: w.watch, env: {} });
    assert.equal(await none.deps.connect(""), undefined);
    const files: Record<string, string> = {
      "/var/run/secrets/kubernetes.io/serviceaccount/token": "sa-token",
      "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt": "CA",
    };
    const read = (p: string) => {
      const text = files[p];
      if (text === undefined) throw Object.assign(new Error(`open ${p}`), { code: "ENOENT" });
      return text;
    };
    const env = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };
    const cache = new MultusKubeCache({ nodeName: "n1", watch: w.watch, env, read });
    (await cache.deps.connect(""))?.close();
    assert.equal(w.opened[0]!.connection.server, "https://10.96.0.1:443");
    files["/var/run/secrets/kubernetes.io/serviceaccount/token"] = "rotated";
    (await cache.deps.connect(""))?.close();
    assert.equal(w.opened.length, 2, "a projected token rotated by kubelet");
    assert.equal(w.opened[1]!.connection.authorization, "Bearer rotated");
    cache.close();
  });

  it("closeIdle closes a connection no call used for idleMs, never one in use", () =>
    withFiles(async (_dir, path) => {
      let now = 0;
      const w = watcher();
      const cache = new MultusKubeCache({ nodeName: "n1", watch: w.watch, idleMs: 1_000, now: () => now });
      const busy = await cache.deps.connect(path);
      now = 5_000;
      assert.equal(cache.closeIdle(), 0, "in use");
      busy?.close();
      now = 5_999;
      assert.equal(cache.closeIdle(), 0);
      now = 6_000;
      assert.equal(cache.closeIdle(), 1);
      assert.deepEqual([w.opened[0]!.watching, w.opened[0]!.closed], [false, true]);
      assert.equal(cache.size, 0);
      (await cache.deps.connect(path))?.close();
      assert.equal(w.opened.length, 2, "opened again by the next call");
      cache.close();
    }));

  it("the node is $NODENAME, else the host name in lower case", () => {
    assert.equal(defaultNodeName({ NODENAME: "worker-7" }), "worker-7");
    assert.equal(
      defaultNodeName({ NODENAME: " worker-7\n" }),
      "worker-7",
      "trimmed, as the node-slice lookup reads it",
    );
    assert.match(defaultNodeName({}), /^[^A-Z]+$/);
  });
});
