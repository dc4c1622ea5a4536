// Embedded-store benchmarks: plugin start-up, ADD latency and throughput process-per-call
// (against the Debian host-local plugin, measured in the same run) and in-process, and the cost
// of allocation decisions on huge ranges.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { assign } from "../src/allocator/assign.ts";
import { viewPool } from "../src/allocator/pool-view.ts";
import { rule } from "../src/allocator/test-support.ts";
import { execPlugin, inParallel } from "../src/cli/exec-plugin.ts";
import { loadIpamConfig } from "../src/config/load.ts";
import { addAttachment } from "../src/ipam/add.ts";
import { deadlineIn } from "../src/ipam/retry.ts";
import { silentLogger } from "../src/log/logger.ts";
import { MAX_RELEASE_RECORDS } from "../src/pool/allocation.ts";
import { openLocalStore } from "../src/store/local/sqlite-store.ts";
import { startAgentProcess } from "../test/support/agent.ts";
import { startupSection } from "./startup-modules.ts";
import { fmt, percentile, SWEEP_HEADER, sweep, sweepRow } from "./stats.ts";

const ROOT = join(import.meta.dirname, "..");
const PLUGIN = { file: join(ROOT, "bin", "thereabouts") };
const HOST_LOCAL = { file: "/usr/lib/cni/host-local" };

function timeCommand(
  file: string,
  args: string[],
  env: Record<string, string>,
  runs: number,
): Promise<number[]> {
  return inParallel(Array.from({ length: runs }), 1, () =>
    execPlugin({ file, args }, { command: "VERSION", config: "{}", env }).then((o) => o.ms),
  );
}

export async function benchLocal(workdir: string): Promise<string> {
  const out: string[] = ["## Embedded store (local, sqlite)", ""];
  const node = process.execPath;
  const version = percentile(await timeCommand(PLUGIN.file, [], {}, 40), 50);
  const bareNode = percentile(
    await inParallel(Array.from({ length: 20 }), 1, () =>
      execPlugin({ file: node, args: ["-e", "0"] }, { command: "VERSION", config: "" }).then((o) => o.ms),
    ),
    50,
  );
  const goVersion = existsSync(HOST_LOCAL.file)
    ? percentile(await timeCommand(HOST_LOCAL.file, [], {}, 40), 50)
    : NaN;
  out.push(
    "### Start-up (exec to result, p50 of 40 sequential runs)",
    "",
    "| command | ms |",
    "|---|---|",
    `| thereabouts VERSION (Bun-compiled executable) | ${fmt(version)} |`,
    `| host-local VERSION (Go, Debian) | ${fmt(goVersion)} |`,
    `| bare \`node -e 0\` (Node ${process.version}) | ${fmt(bareNode)} |`,
    "",
    startupSection(),
  );

  const pods = 200;
  const rows: string[] = [];
  const agent = await startAgentProcess(join(workdir, "agent.sock"));
  try {
    for (const inFlight of [1, 8, 32]) {
      for (const mode of ["process per call", "through the node agent"] as const) {
        const path = join(workdir, `local-${inFlight}-${mode === "process per call" ? "alone" : "agent"}.db`);
        const config = JSON.stringify({
          cniVersion: "1.0.0",
          name: "bench",
          ipam: { type: "thereabouts", range: "198.18.0.0/22", datastore: "local", local: { path } },
        });
        const env =
          mode === "process per call" ? { THEREABOUTS_AGENT_SOCKET: join(workdir, "none.sock") } : agent.env;
        rows.push(
          sweepRow(
            `thereabouts ADD, ${mode}`,
            await sweep(
              (i) =>
                execPlugin(PLUGIN, {
                  command: "ADD",
                  config,
                  containerId: `c${i}-${inFlight}`,
                  ifName: "eth0",
                  netns: "/x",
                  cniArgs: `K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod-${i}`,
                  env,
                }),
              pods,
              inFlight,
            ),
          ),
        );
      }
      const hostLocal = JSON.stringify({
        cniVersion: "1.0.0",
        name: `bench-${inFlight}-${process.pid}`,
        ipam: { type: "host-local", subnet: "198.18.0.0/22", dataDir: join(workdir, "host-local") },
      });
      if (existsSync(HOST_LOCAL.file)) {
        rows.push(
          sweepRow(
            "host-local ADD (Go), process per call",
            await sweep(
              (i) =>
                execPlugin(HOST_LOCAL, {
                  command: "ADD",
                  config: hostLocal,
                  containerId: `c${i}-${inFlight}`,
                  ifName: "eth0",
                  netns: "/x",
                }),
              pods,
              inFlight,
            ),
          ),
        );
      }
    }
  } finally {
    await agent.stop();
  }
  out.push(
    `### ADD, ${pods} pods, one pool, process per call`,
    "",
    "Plugins alone, and handing their calls to one `thereabouts agent` (started once, kept for all runs).",
    "",
    SWEEP_HEADER,
    ...rows,
    "",
  );

  // In-process: the same ADD logic without process start-up or the agent's socket hop.
  const path = join(workdir, "inproc.db");
  const config = loadIpamConfig({
    stdin: JSON.stringify({
      cniVersion: "1.0.0",
      name: "bench",
      ipam: { type: "thereabouts", range: "198.18.0.0/16", datastore: "local", local: { path } },
    }),
    cniArgs: "",
    readFile: () => undefined,
  });
  const store = await openLocalStore(path);
  const latencies: number[] = [];
  const started = performance.now();
  const count = 2000;
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await addAttachment(
      store,
      config,
      { containerId: `c${i}`, podRef: `bench/pod-${i}`, ifName: "eth0" },
      deadlineIn(60_000),
      silentLogger,
    );
    latencies.push(performance.now() - t0);
  }
  const seconds = (performance.now() - started) / 1000;
  await store.close();
  out.push(
    "### ADD in-process (one store handle, sequential)",
    "",
    `${count} ADDs: ${fmt(count / seconds, 0)} ADDs/s, p50 ${fmt(percentile(latencies, 50), 2)} ms, p99 ${fmt(percentile(latencies, 99), 2)} ms (the pool grows to ${count} entries, each ADD reading only the part of it it needs).`,
    "",
  );

  // Decision cost on huge ranges.
  const big = new Map<string, { containerId: string; podRef: string; ifName: string }>();
  for (let i = 1; i <= 100_000; i++)
    big.set(String(i), { containerId: `c${i}`, podRef: `ns/p${i}`, ifName: "eth0" });
  const r8 = rule("10.0.0.0/8");
  const tView = performance.now();
  const view8 = viewPool(
    { name: "big", range: "10.0.0.0/8", allocations: big, released: new Map(), version: "1" },
    { family: 4, value: r8.range.address },
  );
  const viewMs = performance.now() - tView;
  const me = { containerId: "x", podRef: "ns/x", ifName: "eth0" };
  const decide = (fn: () => unknown) => {
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) fn();
    return (performance.now() - t0) / 1000;
  };
  // The same pool under a reuse cooldown, with the most release records a pool keeps, all cooling.
  const released = new Map<string, number>();
  const nowMs = Date.now();
  for (let i = 0; i < MAX_RELEASE_RECORDS; i++) released.set(String(200_000 + i), nowMs - 1000);
  const view8Released = viewPool(
    { name: "big", range: "10.0.0.0/8", allocations: big, released, version: "1" },
    { family: 4, value: r8.range.address },
  );
  const cooldown = { cooldown: { nowMs, seconds: 60 } };
  const r64 = rule("2001:db8::/64", { exclude: ["2001:db8::/65"] });
  const view64 = viewPool(
    { name: "v6", range: "2001:db8::/64", allocations: new Map(), released: new Map(), version: "1" },
    { family: 6, value: r64.range.address },
  );
  out.push(
    "### Allocation decision on huge ranges (in-process, pure core)",
    "",
    "| case | per decision | building the pool index |",
    "|---|---|---|",
    `| /8 with 100k allocations | ${fmt(decide(() => assign(r8, view8, me)) * 1000, 1)} µs | ${fmt(viewMs)} ms (once per pool read) |`,
    `| /8 with 100k allocations, reuse cooldown, ${MAX_RELEASE_RECORDS} release records | ${fmt(decide(() => assign(r8, view8Released, me, cooldown)) * 1000, 1)} µs | – |`,
    `| /64 with a /65 excluded | ${fmt(decide(() => assign(r64, view64, me)) * 1000, 1)} µs | – |`,
    "",
  );
  return out.join("\n");
}
