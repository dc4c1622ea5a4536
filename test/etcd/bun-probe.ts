// Runs the etcd store under Bun (the runtime of the shipped binary, whose fetch carries the TLS
// client certificate), for etcd-store.test.ts. Does nothing without arguments, so a test runner
// may load it harmlessly.
//   bun test/etcd/bun-probe.ts '<EtcdSettings JSON>'   ping, commit one entry with a reservation, read it back
import { openEtcdStore } from "../../src/store/etcd/etcd-store.ts";
import { poolChange } from "../../src/store/store.ts";

async function main(argv: readonly string[]): Promise<void> {
  const [configJson] = argv;
  if (configJson === undefined) return;
  const store = await openEtcdStore(JSON.parse(configJson), { timeoutMs: 5_000 });
  try {
    await store.ping();
    const result = await store.commit(
      poolChange("probe", "10.9.0.0/24", {
        create: [["1", { containerId: "c-bun", podRef: "ns/bun", ifName: "eth0" }]],
        reserve: [{ name: "10.9.0.1", podRef: "ns/bun", ifName: "eth0", containerId: "c-bun" }],
      }),
    );
    const after = await store.getPool("probe");
    const runtime = typeof process.versions["bun"] === "string" ? "bun" : "node";
    process.stdout.write(
      `${JSON.stringify({ runtime, result, entries: [...after.allocations], reservation: await store.getReservation("10.9.0.1") })}\n`,
    );
  } catch (error) {
    process.stdout.write(
      `${JSON.stringify({ error: (error as Error).message, code: (error as { code?: number }).code })}\n`,
    );
  } finally {
    await store.close();
  }
}

await main(process.argv.slice(2));
