// What GC says it did, through the shipped executable (log_level verbose, stderr): how many
// allocations it released on the embedded store, and on a shared store (etcd here) that it did
// nothing, because the cluster controller collects that store's garbage.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EtcdCluster } from "../etcd/etcd-cluster.ts";
import { add, addressesOf, netConf, run, type TempDir, tempDir } from "../support/plugin.ts";

/** Plugins working alone: no node agent at this socket. */
const ALONE = { THEREABOUTS_AGENT_SOCKET: "/nonexistent/agent.sock" };

/** The GC request for `config`, with no attachment left valid. */
function gcOf(config: string): string {
  return JSON.stringify({ ...JSON.parse(config), "cni.dev/valid-attachments": [] });
}

describe("GC reports what it did", () => {
  let dir: TempDir;
  let etcd: EtcdCluster;
  before(async () => {
    dir = tempDir();
    etcd = await EtcdCluster.start({ members: 1, inMemory: true });
  });
  after(async () => {
    await etcd?.stop();
    dir?.remove();
  });

  it("on the embedded store: how many allocations it released", async () => {
    const path = join(dir.path, "gc.db");
    const config = netConf(
      {
        type: "thereabouts",
        range: "192.0.2.0/24",
        datastore: "local",
        local: { path },
        log_level: "verbose",
      },
      "1.1.0",
    );
    for (const pod of ["a", "b"]) addressesOf(await add({ config, pod, containerId: pod, env: ALONE }));
    const out = await run({ command: "GC", config: gcOf(config), env: ALONE });
    assert.equal(out.code, 0, out.stdout);
    assert.match(out.stderr, /^\S+ \[verbose\] gc released 2 allocation\(s\) of network testnet\n$/);
  });

  it("on a shared store: that it did nothing, and it leaves every allocation in place", async () => {
    const config = netConf(
      {
        type: "thereabouts",
        range: "198.18.40.0/24",
        ...etcd.ipamKeys({ prefix: "/gc-log/" }),
        log_level: "verbose",
      },
      "1.1.0",
    );
    const pod = { config, pod: "a", containerId: "a", env: ALONE };
    assert.deepEqual(addressesOf(await add(pod)), ["198.18.40.1/24"]);
    const out = await run({ command: "GC", config: gcOf(config), env: ALONE });
    assert.equal(out.code, 0, out.stdout);
    assert.match(
      out.stderr,
      /^\S+ \[verbose\] gc: datastore etcd is shared by other hosts, so the cluster controller collects its garbage; nothing done here for network testnet\n$/,
    );
    assert.doesNotMatch(out.stderr, /released/);
    // The attachment GC was told is gone still holds its address: nothing was released.
    const check = await run({
      command: "CHECK",
      config,
      containerId: "a",
      ifName: "eth0",
      netns: "/x",
      cniArgs: "K8S_POD_NAMESPACE=default;K8S_POD_NAME=a",
      env: ALONE,
    });
    assert.equal(check.code, 0, check.stdout);
  });
});
