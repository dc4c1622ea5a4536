// Small statistics helpers for the benchmarks (run by hand with `npm run bench`, never in tests).
import { inParallel, type PluginOutcome } from "../src/cli/exec-plugin.ts";

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function fmt(ms: number, digits = 1): string {
  return ms.toFixed(digits);
}

export interface Sweep {
  readonly inFlight: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly failures: number;
}

export function sweepRow(label: string, s: Sweep): string {
  return `| ${label} | ${s.inFlight} | ${fmt(s.perSecond, 0)} | ${fmt(s.p50)} | ${fmt(s.p99)} | ${s.failures} |`;
}

export const SWEEP_HEADER =
  "| workload | in flight | ADDs/s | p50 ms | p99 ms | failures |\n|---|---|---|---|---|---|";

/** Runs `pods` workloads with `inFlight` at a time; throughput and latency percentiles. */
export async function sweep(
  workload: (i: number) => Promise<PluginOutcome>,
  pods: number,
  inFlight: number,
): Promise<Sweep> {
  const started = performance.now();
  const outcomes = await inParallel(
    Array.from({ length: pods }, (_, i) => i),
    inFlight,
    workload,
  );
  const seconds = (performance.now() - started) / 1000;
  const ms = outcomes.map((o) => o.ms);
  return {
    inFlight,
    perSecond: pods / seconds,
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    failures: outcomes.filter((o) => o.code !== 0).length,
  };
}
