// Runs the Kubernetes store under Bun (the runtime of the shipped binary: its fetch carries the
// kubeconfig's CA and client certificate), for store.test.ts. Does nothing without arguments, so
// a test runner may load it harmlessly.
//   bun test/kubernetes/store-bun-probe.ts <kubeconfig>   ping, commit one entry with a reservation, read back
import { openKubernetesStore } from "../../src/store/kubernetes/kubernetes-store.ts";
import { poolChange } from "../../src/store/store.ts";

async function main(argv: readonly string[]): Promise<void> {
  const [kubeconfig] = argv;
  if (kubeconfig === undefined) return;
  const runtime = typeof process.versions["bun"] === "string" ? "bun" : "node";
  try {
    const store = await openKubernetesStore(kubeconfig, { timeoutMs: 5_000 });
    try {
      await store.ping();
      const owner = { containerId: "c-bun", podRef: "ns/bun", ifName: "eth0" };
      const result = await store.commit(
        poolChange("probe", "10.9.0.0/24", {
          create: [["1", owner]],
          reserve: [{ name: "10.9.0.1", ...owner }],
        }),
      );
      const after = await store.getPool("probe");
      const reservation = await store.getReservation("10.9.0.1");
      // The same owner from a new container: the reservation is merge-patched.
      await store.commit(
        poolChange("probe", "10.9.0.0/24", {
          reserve: [{ name: "10.9.0.1", ...owner, containerId: "c-bun-2" }],
        }),
      );
      const refreshed = await store.getReservation("10.9.0.1");
      // Released by a container whose label does not match: GET, then DELETE with a body.
      const released = await store.commit(
        poolChange("probe", "10.9.0.0/24", {
          unreserve: [{ name: "10.9.0.1", ...owner, containerId: "c-old" }],
        }),
      );
      const left = (await store.getReservation("10.9.0.1")) ?? null;
      process.stdout.write(
        `${JSON.stringify({ runtime, result, entries: [...after.allocations], reservation, refreshed, released, left, requests: store.requests })}\n`,
      );
    } finally {
      await store.close();
    }
  } catch (error) {
    process.stdout.write(
      `${JSON.stringify({ runtime, error: (error as Error).message, code: (error as { code?: number }).code })}\n`,
    );
  }
}

await main(process.argv.slice(2));
