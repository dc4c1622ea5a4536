// etcd benchmarks: plugin processes against real etcd (1 and 3 members), alone and through the
// node agent, requests per ADD from etcd's own gRPC counters, throughput and latency at 1, 8 and
// 32 ADDs in flight; and the floor: a do-nothing Bun-compiled plugin on the same harness.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { execPlugin } from "../src/cli/exec-plugin.ts";
import { EtcdCluster } from "../test/etcd/etcd-cluster.ts";
import { type AgentProcess, startAgentProcess } from "../test/support/agent.ts";
import { tempDir } from "../test/support/plugin.ts";
import { fmt, SWEEP_HEADER, sweep, sweepRow } from "./stats.ts";

const ROOT = join(import.meta.dirname, "..");
const PLUGIN = { file: join(ROOT, "bin", "thereabouts") };
const BUN = join(ROOT, "node_modules", "@oven", "bun-linux-x64", "bin", "bun");
const PODS = 200;
const IN_FLIGHT = [1, 8, 32] as const;

function total(calls: Record<string, number>): number {
  return Object.values(calls).reduce((a, b) => a + b, 0);
}

function addCall(config: string, i: number, env: Record<string, string>) {
  return {
    command: "ADD" as const,
    config,
    containerId: `c${i}`,
    ifName: "eth0",
    netns: "/x",
    cniArgs: `K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod-${i}`,
    env,
  };
}

/** bench/null-plugin.ts compiled as the shipped binary is; run at 32 in flight. */
async function nullPluginRow(): Promise<string> {
  const dir = tempDir("thereabouts-null-plugin-");
  try {
    const file = join(dir.path, "null-plugin");
    const built = spawnSync(
      BUN,
      [
        "build",
        "--compile",
        "--minify",
        "--bytecode",
        "--format=esm",
        join(import.meta.dirname, "null-plugin.ts"),
        "--outfile",
        file,
      ],
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    if (built.status !== 0) throw new Error("bench: could not compile bench/null-plugin.ts");
    const result = await sweep((i) => execPlugin({ file }, addCall("{}", i, {})), PODS, 32);
    return sweepRow("do-nothing Bun plugin (floor), no store", result);
  } finally {
    dir.remove();
  }
}

export async function benchEtcd(): Promise<string> {
  const out = [
    "## etcd",
    "",
    `${PODS} pods per run, one pool, process per call, overlapping-range reservations on. "alone": each plugin`,
    'process opens its own etcd client; "agent": plugins hand their call to `thereabouts agent` (one per node;',
    "warm client, cached pool, grouped commits), started with the cluster and kept for all three runs, as a",
    "node's agent would be.",
    "",
  ];
  const rows: string[] = [];
  const calls: string[] = [];
  for (const members of [1, 3] as const) {
    const cluster = await EtcdCluster.start({ members });
    try {
      for (const mode of ["alone", "agent"] as const) {
        const agent: AgentProcess | undefined = mode === "agent" ? await startAgentProcess() : undefined;
        try {
          for (const inFlight of IN_FLIGHT) {
            const prefix = `/bench-${members}-${mode}-${inFlight}`;
            const config = JSON.stringify({
              cniVersion: "1.0.0",
              name: "bench",
              ipam: { type: "thereabouts", range: "198.18.0.0/22", ...cluster.ipamKeys({ prefix }) },
            });
            const env = agent === undefined ? { THEREABOUTS_AGENT_SOCKET: "/nonexistent" } : agent.env;
            const before = total(await cluster.grpcCalls());
            const result = await sweep((i) => execPlugin(PLUGIN, addCall(config, i, env)), PODS, inFlight);
            const perAdd = (total(await cluster.grpcCalls()) - before) / PODS;
            const label = `thereabouts ADD, ${mode}, ${members} member${members > 1 ? "s" : ""}`;
            rows.push(sweepRow(label, result));
            calls.push(`| ${mode} | ${members} | ${inFlight} | ${fmt(perAdd, 2)} |`);
          }
        } finally {
          await agent?.stop();
        }
      }
    } finally {
      await cluster.stop();
    }
  }
  rows.push(await nullPluginRow());
  out.push(SWEEP_HEADER, ...rows, "", "etcd calls per ADD (etcd's own gRPC counters, all members):", "");
  out.push("| mode | members | in flight | calls per ADD |", "|---|---|---|---|", ...calls, "");
  out.push(
    "Reference (issue #4): Go Whereabouts v0.5.4's etcd store, one member, 200 pods: 44 ADDs/s at one in flight,",
    "73 ADDs/s at 32 in flight with p99 568 ms, 8–11 etcd calls per ADD. Target: ≤ 3 calls per uncontended ADD,",
    "p99 at 32 in flight ≤ 284 ms. The do-nothing row is the floor under any plugin shipped as a Bun-compiled",
    "executable on this harness (process start-up alone, ~7–8 ms of CPU per call on 2 cores shared with the",
    "harness): where it is above the target, no store or agent design can meet it.",
    "",
    'Since part reads ("ADD cost against pool occupancy"), an ADD costs the same in a pool of 60,000 entries',
    "as in an empty one, and the small pool keeps its cost: a part's first transaction reads every key of the",
    "window's first block (skipped when its marker says full), so a plugin alone reads once per ADD whatever the",
    "block holds; a commit that loses a race reads, in its else-branch, the part its retry asks for, so a lost",
    "race costs one call; and the agent answers ADDs from the part it read last (each commit stating that the",
    "attachment holds no entry of the pool, which etcd checks), reading again every 2 s, after a lost race,",
    "or when the part cannot decide, so its ADDs are one call (the commit) and grouping takes them below one.",
    "What the small pool still pays: commits carry the index keys.",
    "",
  );
  return out.join("\n");
}
