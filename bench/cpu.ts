// CPU time by process from /proc, to say what bounds a benchmark's figures: a process's own time,
// and the time of the children it has waited for (the kernel adds a reaped child's whole tree to
// its parent's "children" time, so a plugin's delegates are counted under whoever ran them).
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICK_MS = 10;

export interface CpuTimes {
  /** ms of CPU the process itself used. */
  readonly own: number;
  /** ms of CPU of its children (and their descendants) that it has waited for. */
  readonly children: number;
}

export function cpuOf(pid: number | "self"): CpuTimes {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces; fields after it start with the state (field 3).
  const f = stat
    .slice(stat.lastIndexOf(")") + 2)
    .split(" ")
    .map((v) => Number(v));
  return { own: (f[11]! + f[12]!) * TICK_MS, children: (f[13]! + f[14]!) * TICK_MS };
}

/** Resident set size now and at its peak, in MiB. */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

/** Busy and total CPU ms of the whole machine (every process, every core) since boot, from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is within user)
  const t = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = t.reduce((a, b) => a + b, 0);
  return { busy: (total - t[3]! - t[4]!) * TICK_MS, total: total * TICK_MS };
}
