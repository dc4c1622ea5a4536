// stdin is decoded once, as Go's encoding/json reads it, and that one reading serves every check
// of the call: the network name and version, the IPAM config, CHECK's prevResult and GC's list of
// valid attachments. A `null` under another spelling of a key (or a repeated key) never hides the
// value, through the shipped executable.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openLocalStore } from "../../src/store/local/sqlite-store.ts";
import { storedHoldings } from "../support/invariants.ts";
import { add, addressesOf, run, type TempDir, tempDir } from "../support/plugin.ts";

let dir: TempDir;
let n = 0;
before(() => {
  dir = tempDir();
});
after(() => dir.remove());

function ipam(): { ipam: string; path: string } {
  const path = join(dir.path, `s${n++}.db`);
  return {
    ipam: JSON.stringify({ type: "thereabouts", range: "192.0.2.0/24", datastore: "local", local: { path } }),
    path,
  };
}

describe("stdin decoded once, as Go reads it", () => {
  it("a null spelling of name, cniVersion or ipam hides nothing (ADD and CHECK)", async () => {
    const { ipam: section } = ipam();
    const config = `{"cniVersion":"1.1.0","CNIVersion":null,"name":"testnet","NAME":null,"name":null,"ipam":${section},"IPAM":null}`;
    const out = await add({ config, pod: "p", containerId: "c1" });
    assert.deepEqual(addressesOf(out), ["192.0.2.1/24"]);
    assert.equal(JSON.parse(out.stdout).cniVersion, "1.1.0");
    // CHECK reads prevResult from the same decoded document: a null spelling keeps the real one.
    const check = (prev: string) =>
      run({
        command: "CHECK",
        config: `${config.slice(0, -1)},${prev}}`,
        containerId: "c1",
        ifName: "eth0",
        netns: "/x",
        cniArgs: "K8S_POD_NAME=p;K8S_POD_NAMESPACE=default",
      });
    const held = await check('"prevResult":{"ips":[{"address":"192.0.2.1/24"}]},"PREVRESULT":null');
    assert.equal(held.code, 0, held.stdout);
    const other = await check('"prevResult":{"ips":[{"address":"192.0.2.9/24"}]},"PrevResult":null');
    assert.equal(JSON.parse(other.stdout).code, 101, "the non-null prevResult was compared");
  });

  it("GC keeps the listed attachments when another spelling of the list is null", async () => {
    const { ipam: section, path } = ipam();
    const config = `{"cniVersion":"1.1.0","name":"testnet","ipam":${section}}`;
    for (const id of ["keep", "drop"]) addressesOf(await add({ config, pod: id, containerId: id }));
    const out = await run({
      command: "GC",
      config: `${config.slice(0, -1)},"cni.dev/valid-attachments":[{"containerID":"keep","ifname":"eth0"}],"CNI.DEV/VALID-ATTACHMENTS":null}`,
    });
    assert.equal(out.code, 0, out.stdout);
    const store = await openLocalStore(path);
    try {
      assert.deepEqual(await storedHoldings(store), [{ address: "192.0.2.1", podRef: "default/keep" }]);
    } finally {
      await store.close();
    }
  });
});
