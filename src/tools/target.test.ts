import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { kubectlKubeconfig, selectTarget } from "./target.ts";
import { UsageError } from "./usage-error.ts";

describe("target: which store a tool works on", () => {
  const plain = { kubectlPlugin: false, env: {} };

  it("--config: the network configuration's datastore and network", () => {
    const dir = mkdtempSync(join(tmpdir(), "thereabouts-target-"));
    try {
      const file = join(dir, "net.conf");
      const db = join(dir, "store.db");
      writeFileSync(
        file,
        JSON.stringify({
          cniVersion: "1.0.0",
          name: "storage",
          plugins: [
            { type: "macvlan", ipam: { type: "whereabouts", range: "198.51.100.0/24", local: { path: db } } },
          ],
        }),
      );
      const selected = selectTarget({ config: file }, plain);
      assert.equal(selected.settings.datastore, "local");
      assert.equal(selected.settings.local.path, db);
      assert.equal(selected.networkConfig?.name, "storage");
      assert.throws(
        () => selectTarget({ config: file, namespace: "x" }, plain),
        UsageError,
        "--namespace needs Kubernetes",
      );
      assert.throws(
        () => selectTarget({ config: join(dir, "none.conf") }, plain),
        /--config \S+none\.conf: no such file/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--kubeconfig: the Kubernetes datastore, --namespace overriding the context's", () => {
    const selected = selectTarget({ kubeconfig: "/etc/kube/admin.conf", namespace: "ipam" }, plain);
    assert.equal(selected.settings.datastore, "kubernetes");
    assert.equal(selected.settings.kubernetes.kubeconfig, "/etc/kube/admin.conf");
    assert.equal(selected.namespace, "ipam");
    assert.equal(selected.networkConfig, undefined);
  });

  it("neither, or both: bad usage, unless run by kubectl (then kubectl's kubeconfig)", () => {
    assert.throws(() => selectTarget({}, plain), UsageError);
    assert.throws(() => selectTarget({ config: "/a", kubeconfig: "/b" }, plain), UsageError);
    const kubectl = selectTarget({}, { kubectlPlugin: true, env: { KUBECONFIG: "/nonexistent/kc" } });
    assert.equal(kubectl.settings.kubernetes.kubeconfig, "/nonexistent/kc");
  });

  it("kubectl's kubeconfig: the first existing file of $KUBECONFIG, else ~/.kube/config", () => {
    const dir = mkdtempSync(join(tmpdir(), "thereabouts-target-"));
    try {
      const second = join(dir, "second");
      writeFileSync(second, "");
      assert.equal(kubectlKubeconfig({ KUBECONFIG: `${join(dir, "first")}:${second}` }, "/home/u"), second);
      assert.equal(kubectlKubeconfig({ KUBECONFIG: join(dir, "none") }, "/home/u"), join(dir, "none"));
      assert.equal(kubectlKubeconfig({}, "/home/u"), "/home/u/.kube/config");
      assert.equal(kubectlKubeconfig({ KUBECONFIG: "" }, "/home/u"), "/home/u/.kube/config");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
