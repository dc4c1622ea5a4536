// What a run of the network-namespace lab leaves on the machine, and how a later run finds and
// removes it when the first one crashed. Every lab has a tag `<pid>-<6 hex>` and everything it makes
// carries it: namespaces `ta-host-<tag>[-role]` (nodes, the LAN switch, servers) and
// `ta-pod-<tag>-<n>`, the scratch directory `<tmp>/ta-e2e-<tag>-XXXXXX`, and the command line of
// every daemon it starts (they all get paths in that directory). The pid says whether the run is
// still alive, so parallel runs never touch each other's lab. (Infrastructure namespaces are all
// `ta-host-…`, the kind older harness versions also recognise, so they do not take them for strays.)
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deleteNamespace, ip, listNamespaces, processAlive, waitUntil } from "./netns-shell.ts";

const NAMESPACE_PREFIX = "ta-";
const NAMESPACE_PID = /^ta-(?:host|pod)-(\d+)-/;
const DIR_PREFIX = "ta-e2e-";
const DIR_PID = /^ta-e2e-(\d+)-[0-9a-f]{6}-/;

export function newRunTag(): string {
  return `${process.pid}-${randomBytes(3).toString("hex")}`;
}

/** A node, switch or server namespace of the run; `role` tells them apart. */
export function hostNamespaceName(tag: string, role?: string): string {
  return role === undefined ? `ta-host-${tag}` : `ta-host-${tag}-${role}`;
}

export function podNamespaceName(tag: string, index: number): string {
  return `ta-pod-${tag}-${index}`;
}

export function makeRunDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${tag}-`));
}

function staleOwner(pidText: string | undefined): boolean {
  if (pidText === undefined) return true;
  const pid = Number(pidText);
  return pid !== process.pid && !processAlive(pid);
}

/** Gone, or a zombie (its parent's business): either way it holds no namespace or socket. */
function processGone(pid: number): boolean {
  if (!processAlive(pid)) return true;
  try {
    return /^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

/** Processes whose command line names `dir`: the daemons a run started with paths in its directory. */
function processesUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(dir)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

async function processesIn(ns: string): Promise<number[]> {
  const out = await ip("netns", "pids", ns).catch(() => "");
  return out
    .split("\n")
    .filter((line) => /^\d+$/.test(line.trim()))
    .map(Number);
}

export interface StaleRuns {
  readonly namespaces: string[];
  readonly processes: number[];
  readonly dirs: string[];
}

/**
 * Removes what crashed runs left: their daemons (found in their namespaces and by their command
 * lines, killed by pid), their namespaces and their scratch directories. A `ta-*` namespace without
 * a pid in its name counts as stale too. Live runs, this one included, are left alone.
 */
export async function removeStaleRuns(): Promise<StaleRuns> {
  const namespaces = (await listNamespaces()).filter(
    (name) => name.startsWith(NAMESPACE_PREFIX) && staleOwner(NAMESPACE_PID.exec(name)?.[1]),
  );
  const dirs = readdirSync(tmpdir())
    .filter(
      (name) => name.startsWith(DIR_PREFIX) && DIR_PID.test(name) && staleOwner(DIR_PID.exec(name)?.[1]),
    )
    .map((name) => join(tmpdir(), name));
  const pids = new Set<number>();
  for (const ns of namespaces) for (const pid of await processesIn(ns)) pids.add(pid);
  for (const dir of dirs) for (const pid of processesUsing(dir)) pids.add(pid);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // exited meanwhile
    }
  }
  for (const pid of pids) await waitUntil(`stale process ${pid} to exit`, () => processGone(pid), 5_000);
  for (const ns of namespaces) await deleteNamespace(ns);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  return { namespaces, processes: [...pids], dirs };
}

/** Namespaces, processes and scratch directories of the run `tag` that still exist (for assertions). */
export async function leftoversOf(tag: string, dir: string): Promise<StaleRuns> {
  const namespaces = (await listNamespaces()).filter((n) => n.includes(`-${tag}`));
  const present = readdirSync(tmpdir()).some((name) => join(tmpdir(), name) === dir);
  return { namespaces, processes: processesUsing(dir), dirs: present ? [dir] : [] };
}
