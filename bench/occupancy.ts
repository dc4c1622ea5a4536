// ADD cost against pool occupancy (`npm run bench -- occupancy`): per store (local, etcd), an ADD
// into an empty pool and into one holding 60,000 live entries, in-process (one store handle,
// sequential) and process per call (bin/thereabouts, no agent), with the ratio. Two full shapes:
// contiguous from the window's start (the first free offset past them all), and the same count
// with holes spread through (every 11th offset free). The pools are filled through the store,
// many entries per commit. The in-process rows also read the pool whole (the store's part reads
// hidden, as every ADD read before them) for comparison.
import { join } from "node:path";
import { execPlugin } from "../src/cli/exec-plugin.ts";
import { loadIpamConfig } from "../src/config/load.ts";
import type { IpamConfig } from "../src/config/types.ts";
import { addAttachment } from "../src/ipam/add.ts";
import { deadlineIn } from "../src/ipam/retry.ts";
import { silentLogger } from "../src/log/logger.ts";
import { openStore } from "../src/store/open.ts";
import { poolChange, type Store } from "../src/store/store.ts";
import { EtcdCluster } from "../test/etcd/etcd-cluster.ts";
import { fmt, percentile } from "./stats.ts";

const ROOT = join(import.meta.dirname, "..");
const PLUGIN = { file: join(ROOT, "bin", "thereabouts") };
const RANGE = "198.18.0.0/15";
const POOL = "198.18.0.0-15";
const FULL = 60_000;
const IN_PROCESS_ADDS = 200;
const PROCESS_ADDS = 60;
/**
 * Entries per filling commit: etcd's within its 128 operations per transaction, whatever a create
 * costs there; sqlite's as large as is quick.
 */
const FILL_BATCH = { local: 5_000, etcd: 20, kubernetes: 1 } as const;
const FILL_IN_FLIGHT = 8;

type Shape = "empty" | "60,000 contiguous" | "60,000 with holes";
const SHAPES: readonly Shape[] = ["empty", "60,000 contiguous", "60,000 with holes"];

/** The offsets a shape holds: 1…60,000, or 60,000 of 1…66,000 with every 11th free. */
function offsetsOf(shape: Shape): number[] {
  if (shape === "empty") return [];
  if (shape === "60,000 contiguous") return Array.from({ length: FULL }, (_, i) => i + 1);
  const out: number[] = [];
  for (let o = 1; out.length < FULL; o++) if (o % 11 !== 0) out.push(o);
  return out;
}

async function fill(store: Store, offsets: readonly number[]): Promise<void> {
  const batches: number[][] = [];
  const size = FILL_BATCH[store.datastore];
  for (let i = 0; i < offsets.length; i += size) batches.push(offsets.slice(i, i + size));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      const result = await store.commit(
        poolChange(POOL, RANGE, {
          create: batch.map((o) => [
            String(o),
            { containerId: `f${o}`, podRef: `fill/p${o}`, ifName: "eth0" },
          ]),
        }),
      );
      if (!result.ok) throw new Error(`bench occupancy: filling the pool failed (${JSON.stringify(result)})`);
    }
  };
  await Promise.all(Array.from({ length: FILL_IN_FLIGHT }, worker));
}

/** The store with its part reads hidden: every ADD reads the pool whole, as before them. */
function wholeReads(store: Store): Store {
  return new Proxy(store, {
    get: (target, prop) => {
      if (prop === "parts") return undefined;
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function configOf(ipam: Record<string, unknown>): { text: string; config: IpamConfig } {
  const text = JSON.stringify({
    cniVersion: "1.0.0",
    name: "bench",
    ipam: { type: "thereabouts", range: RANGE, ...ipam },
  });
  return { text, config: loadIpamConfig({ stdin: text, cniArgs: "", readFile: () => undefined }) };
}

interface Latencies {
  readonly p50: number;
  readonly p99: number;
}

const summary = (ms: readonly number[]): Latencies => ({ p50: percentile(ms, 50), p99: percentile(ms, 99) });

async function inProcess(store: Store, config: IpamConfig, tag: string): Promise<Latencies> {
  const ms: number[] = [];
  for (let i = 0; i < IN_PROCESS_ADDS; i++) {
    const t0 = performance.now();
    await addAttachment(
      store,
      config,
      { containerId: `c-${tag}-${i}`, podRef: `bench/${tag}-${i}`, ifName: "eth0" },
      deadlineIn(60_000),
      silentLogger,
    );
    ms.push(performance.now() - t0);
  }
  return summary(ms);
}

async function perProcess(text: string, tag: string): Promise<Latencies> {
  const ms: number[] = [];
  for (let i = 0; i < PROCESS_ADDS; i++) {
    const outcome = await execPlugin(PLUGIN, {
      command: "ADD",
      config: text,
      containerId: `p-${tag}-${i}`,
      ifName: "eth0",
      netns: "/x",
      cniArgs: `K8S_POD_NAMESPACE=bench;K8S_POD_NAME=${tag}-${i}`,
      env: { THEREABOUTS_AGENT_SOCKET: "/nonexistent" },
    });
    if (outcome.code !== 0) throw new Error(`bench occupancy: ADD failed: ${outcome.stdout}`);
    ms.push(outcome.ms);
  }
  return summary(ms);
}

interface Row {
  readonly store: string;
  readonly mode: string;
  readonly byShape: Map<Shape, Latencies>;
}

/** Measures every shape on fresh pools `ipamOf(shape)` gives (an empty backend per shape). */
async function measure(
  store: string,
  ipamOf: (shape: Shape, mode: string) => Record<string, unknown>,
): Promise<Row[]> {
  const modes = ["in-process", "in-process, whole-pool reads (as before)", "process per call"] as const;
  const rows = modes.map((mode) => ({ store, mode, byShape: new Map<Shape, Latencies>() }));
  for (const shape of SHAPES)
    for (const [i, mode] of modes.entries()) {
      const { text, config } = configOf(ipamOf(shape, mode));
      const handle = await openStore(config);
      try {
        await fill(handle, offsetsOf(shape));
        const tag = `${shape.replace(/[^a-z0-9]/g, "")}-${i}`;
        const latencies =
          mode === "process per call"
            ? await perProcess(text, tag)
            : await inProcess(mode === "in-process" ? handle : wholeReads(handle), config, tag);
        rows[i]!.byShape.set(shape, latencies);
      } finally {
        await handle.close();
      }
    }
  return rows;
}

function table(rows: readonly Row[]): string[] {
  const out = [
    "| store | ADD | empty p50 / p99 ms | 60,000 contiguous p50 / p99 ms | ratio p50 | 60,000 with holes p50 / p99 ms | ratio p50 |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    const cell = (shape: Shape) => {
      const l = row.byShape.get(shape)!;
      return `${fmt(l.p50, 2)} / ${fmt(l.p99, 2)}`;
    };
    const ratio = (shape: Shape) => fmt(row.byShape.get(shape)!.p50 / row.byShape.get("empty")!.p50, 2);
    out.push(
      `| ${row.store} | ${row.mode} | ${cell("empty")} | ${cell("60,000 contiguous")} | ${ratio("60,000 contiguous")} | ${cell("60,000 with holes")} | ${ratio("60,000 with holes")} |`,
    );
  }
  return out;
}

export async function benchOccupancy(workdir: string): Promise<string> {
  const rows: Row[] = [];
  rows.push(
    ...(await measure("local", (shape, mode) => ({
      datastore: "local",
      local: {
        path: join(workdir, `occupancy-${shape.replace(/[^a-z0-9]/g, "")}-${mode.replace(/[^a-z]/g, "")}.db`),
      },
    }))),
  );
  const cluster = await EtcdCluster.start({ members: 1 });
  try {
    rows.push(
      ...(await measure("etcd, 1 member", (shape, mode) =>
        cluster.ipamKeys({
          prefix: `/occupancy-${shape.replace(/[^a-z0-9]/g, "")}-${mode.replace(/[^a-z]/g, "")}`,
        }),
      )),
    );
  } finally {
    await cluster.stop();
  }
  return [
    "## ADD cost against pool occupancy (local, etcd)",
    "",
    `One pool (${RANGE}), overlapping-range reservations on, plugin alone (no agent). Each cell: ${IN_PROCESS_ADDS}`,
    `sequential ADDs in-process (one store handle), or ${PROCESS_ADDS} sequential plugin processes; the pool empty,`,
    `or holding ${FULL.toLocaleString("en")} live entries filled through the store (contiguous from the window's start, or`,
    "spread over 66,000 offsets with every 11th free). Ratio: p50 against the empty pool (target ≤ 2). The",
    "whole-pool rows hide the store's part reads, so every ADD reads the pool whole, as all did before them.",
    "",
    ...table(rows),
    "",
  ].join("\n");
}
