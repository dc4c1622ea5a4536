// Date and machine facts for the record in docs/benchmarks.md.
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";

export function machineLine(): string {
  let model = cpus()[0]?.model ?? "unknown CPU";
  try {
    model = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? model;
  } catch {
    // not Linux: keep os.cpus()
  }
  const gib = Math.round(totalmem() / 2 ** 30);
  return `${new Date().toISOString().slice(0, 10)}, ${model}, ${cpus().length} cores, ${gib} GiB, Node ${process.version}`;
}
