// `thereabouts demo`: the quickstart. Simulated pods on simulated nodes are attached through the
// real plugin (one process per attachment, as a runtime would run it) on an embedded store;
// the table shows who got which address, then every pod is detached and the pools are empty.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execPlugin, inParallel, selfInvocation } from "./exec-plugin.ts";

export interface DemoOptions {
  pods?: string | undefined;
  nodes?: string | undefined;
  range?: string | undefined;
  store?: string | undefined;
}

function count(text: string | undefined, fallback: number, what: string): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 10_000)
    throw new Error(`--${what} must be an integer from 1 to 10000`);
  return n;
}

export async function runDemo(options: DemoOptions): Promise<number> {
  const pods = count(options.pods, 12, "pods");
  const nodes = count(options.nodes, 4, "nodes");
  const dir = options.store === undefined ? mkdtempSync(join(tmpdir(), "thereabouts-demo-")) : undefined;
  const storePath = options.store ?? join(dir!, "store.db");
  const config = JSON.stringify({
    cniVersion: "1.0.0",
    name: "demo-net",
    type: "macvlan",
    ipam: {
      type: "thereabouts",
      range: options.range ?? "192.0.2.0/28",
      datastore: "local",
      local: { path: storePath },
    },
  });
  const self = selfInvocation();
  const pod = (i: number) => ({
    name: `web-${i}`,
    node: `node-${(i % nodes) + 1}`,
    containerId: `demo${i.toString(16).padStart(8, "0")}`,
  });
  const list = Array.from({ length: pods }, (_, i) => pod(i));
  const call = (p: ReturnType<typeof pod>, command: "ADD" | "DEL") =>
    execPlugin(self, {
      command,
      config,
      containerId: p.containerId,
      ifName: "net1",
      netns: `/var/run/netns/${p.name}`,
      cniArgs: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${p.name}`,
      env: { NODENAME: p.node },
    });
  process.stdout.write(`store: ${storePath}\nattaching ${pods} pods on ${nodes} nodes, 8 at a time…\n\n`);
  const added = await inParallel(list, 8, (p) => call(p, "ADD"));
  process.stdout.write(`${"pod".padEnd(18)}${"node".padEnd(10)}result\n`);
  added.forEach((outcome, i) => {
    const p = list[i]!;
    let shown: string;
    if (outcome.code === 0) {
      const result = JSON.parse(outcome.stdout) as { ips: { address: string }[] };
      shown = result.ips.map((ip) => ip.address).join(", ");
    } else {
      const error = JSON.parse(outcome.stdout || "{}") as { code?: number; msg?: string };
      shown = `error ${error.code}: ${error.msg}`;
    }
    process.stdout.write(`${`default/${p.name}`.padEnd(18)}${p.node.padEnd(10)}${shown}\n`);
  });
  const removed = await inParallel(list, 8, (p) => call(p, "DEL"));
  const delFailures = removed.filter((o) => o.code !== 0).length;
  const { openLocalStore } = await import("../store/local/sqlite-store.ts");
  const store = await openLocalStore(storePath);
  const left = (await store.listPools()).reduce((n, pool) => n + pool.allocations.size, 0);
  await store.close();
  process.stdout.write(
    `\ndetached all ${pods} pods (${delFailures} DEL failures); allocations left in the store: ${left}\n`,
  );
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  return delFailures === 0 && left === 0 ? 0 : 1;
}
