// `thereabouts release ADDRESS | --pod NS/NAME` (and `kubectl thereabouts release`): frees an
// address, or everything a pod holds, with the reservations that go with it, through the
// controller's commit path. A live owner is refused unless --force: on Kubernetes the pod is read
// (and read again just before each change, which happens only while it is the same pod and still
// gone); the local and etcd stores have no cluster to ask, so there --force is always needed.
// Exit 0 freed, 1 refused or not everything freed (or nothing held), 2 bad usage.

import { splitPodRef } from "../controller/liveness.ts";
import { formatIP, parseIP } from "../ip/index.ts";
import { poolOf } from "../ipam/pool-ref.ts";
import { ownerText } from "../tools/check/findings.ts";
import { modelOf, type PoolModel } from "../tools/check/model.ts";
import { livePods, readPoolsAndReservations } from "../tools/check/read.ts";
import { inNetwork, poolRecord } from "../tools/inventory.ts";
import { lookOf, OUTPUT_OPTION, parseFormat, renderData, renderTable } from "../tools/output.ts";
import { type FreeReport, freePlan, type Guard } from "../tools/release/free.ts";
import { planRelease, type ReleasePlan, type ReleaseTarget } from "../tools/release/plan.ts";
import {
  openTarget,
  TARGET_OPTIONS,
  TARGET_USAGE,
  type Target,
  type TargetContext,
} from "../tools/target.ts";
import { parseCommandArgs, printCommandHelp, UsageError } from "../tools/usage-error.ts";

const HELP = `Usage: thereabouts release ADDRESS [--network NAME] [--force] STORE
       thereabouts release --pod NS/NAME [ADDRESS] [--network NAME]
           [--force] STORE
       (STORE: --config FILE or --kubeconfig PATH, below)

Frees the address (every pool entry holding it in one network), every address
the pod holds, or with both the address as the pod holds it (one holder of an
address held twice), with the overlapping-range reservations that go with them,
and prints what it freed. An address held in more than one network needs
--network (--config implies its own network).

Refuses (exit 1, naming the holder) while the owner pod exists and is not gone
(not found, Succeeded or Failed, evicted count as gone); --force frees it
anyway. The local and etcd stores have no cluster to ask about pods: there
--force is always needed. Each change is made only while the entry still holds
what was read (and on Kubernetes, without --force, only while the pod is the
one read and still gone).

Exit status: 0 freed, 1 refused, nothing held, or not everything freed, 2 bad
usage.

  --pod NS/NAME        what this pod holds (with ADDRESS: only that address)
  --force              free it even though the owner pod is alive, or cannot be
                       asked
  -o, --output FORMAT  table (default), json or yaml: what was freed

${TARGET_USAGE}
`;

const OPTIONS = {
  ...TARGET_OPTIONS,
  ...OUTPUT_OPTION,
  pod: { type: "string" },
  force: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** What to release, checked before anything is opened. */
export function parseReleaseTarget(positionals: readonly string[], pod: string | undefined): ReleaseTarget {
  if (positionals.length > 1)
    throw new UsageError(`release takes one ADDRESS; unexpected ${positionals.slice(1).join(" ")}`);
  const [text] = positionals;
  if (text === undefined && pod === undefined)
    throw new UsageError("say what to release: an ADDRESS, --pod NS/NAME, or both");
  if (pod !== undefined && (splitPodRef(pod) === undefined || pod.indexOf("/") !== pod.lastIndexOf("/")))
    throw new UsageError(`--pod ${pod}: name the pod as NAMESPACE/NAME`);
  const address = text === undefined ? undefined : parseIP(text);
  if (text !== undefined && address === undefined)
    throw new UsageError(`${text}: not an IPv4 or IPv6 address`);
  return { ...(address === undefined ? {} : { address }), ...(pod === undefined ? {} : { podRef: pod }) };
}

export async function runRelease(args: readonly string[], context: TargetContext): Promise<number> {
  const { values, positionals } = parseCommandArgs({
    args: [...args],
    options: OPTIONS,
    allowPositionals: true,
  });
  if (values.help === true) return printCommandHelp(HELP, "release", context);
  const what = parseReleaseTarget(positionals, values.pod);
  const format = parseFormat(values.output);
  const target = await openTarget(values, context);
  try {
    const plan = await planFor(target, what);
    const guard = await ownersGuard(target, plan, values.force === true);
    const report = await freePlan(target.store, plan, guard);
    process.stdout.write(
      format === "table"
        ? releaseText(report, lookOf(process.stdout, process.env))
        : renderData(format, releaseRecord(report)),
    );
    for (const line of report.notDone) process.stderr.write(`thereabouts release: ${line}\n`);
    return report.notDone.length === 0 && report.freed.length > 0 ? 0 : 1;
  } finally {
    await target.close();
  }
}

/** "nothing to release: …" */
function nothingHeld(what: ReleaseTarget, network: string | undefined): string {
  const address = what.address === undefined ? "" : formatIP(what.address);
  const where = network === undefined || network === "" ? "" : ` in network ${network}`;
  if (what.podRef === undefined) return `nothing holds ${address}${where}`;
  return what.address === undefined
    ? `pod ${what.podRef} holds nothing${where}`
    : `pod ${what.podRef} does not hold ${address}${where}`;
}

/** The network to release in: --network, else for an ADDRESS the --config network's. */
function networkOf(target: Target, what: ReleaseTarget): string | undefined {
  return target.network ?? (what.address === undefined ? undefined : target.networkConfig?.networkName);
}

function scopeOf(target: Target, network: string | undefined): Parameters<typeof planRelease>[2] {
  const config = target.networkConfig;
  if (network === undefined) return undefined;
  const configured = new Map(
    (config?.ranges ?? []).map((r) => [poolOf(config!, r).name, poolOf(config!, r)]),
  );
  return {
    pool: (p: PoolModel) =>
      p.network === network ||
      inNetwork(poolRecord(p.snapshot, configured.get(p.snapshot.name)), network, config),
    // --network may name the --config network by its name rather than its network_name.
    network: (n: string) => n === network || (config?.name === network && n === config.networkName),
  };
}

async function planFor(target: Target, what: ReleaseTarget): Promise<ReleasePlan> {
  const read = await readPoolsAndReservations(target);
  const config = target.networkConfig;
  const model = modelOf(read.pools, read.reservations, (n) =>
    config !== undefined && config.networkName === n ? config.enableOverlappingRanges : undefined,
  );
  const network = networkOf(target, what);
  const scope = scopeOf(target, network);
  const plan = planRelease(model, what, scope);
  if (plan.entries.length === 0 && plan.reservations.length === 0)
    throw new Error(`nothing to release: ${nothingHeld(what, network)}`);
  if (what.podRef === undefined && plan.networks.length > 1)
    throw new Error(
      `${formatIP(what.address!)} is held in more than one network (pools ${plan.entries.map((e) => e.pool).join(", ")}): say which with --network NAME`,
    );
  return plan;
}

/** Every holder of the plan: podref → what it holds, for messages. */
function holdersOf(plan: ReleasePlan): Map<string, string[]> {
  const holders = new Map<string, string[]>();
  const add = (ref: string, text: string) => holders.set(ref, [...(holders.get(ref) ?? []), text]);
  for (const group of plan.entries)
    for (const e of group.entries)
      add(e.allocation.podRef, `${formatIP(e.address)} in pool ${group.pool} (${ownerText(e.allocation)})`);
  for (const r of plan.reservations) add(r.podRef, `reservation ${r.name} (${ownerText(r)})`);
  return holders;
}

/**
 * Refuses a live owner unless forced, and returns the guard asked before each change: with
 * --force none; otherwise every pod must still be the one read now, and still gone.
 */
async function ownersGuard(target: Target, plan: ReleasePlan, force: boolean): Promise<Guard> {
  if (force) return async () => undefined;
  const holders = holdersOf(plan);
  if (target.kube === undefined) {
    const [ref, held] = [...holders][0]!;
    throw new Error(
      `the ${target.store.datastore} store has no cluster to ask whether ${ref === "" ? "the owner" : `pod ${ref}`} is gone (it holds ${held.join(", ")}): check the pod yourself, then release with --force`,
    );
  }
  const pods = livePods(target.kube);
  const judged = new Map<string, string | undefined>();
  for (const [ref, held] of holders) {
    const parts = splitPodRef(ref);
    if (parts === undefined) throw new Error(`${held[0]} names no pod to ask: release it with --force`);
    const pod = await pods.get(parts.namespace, parts.name);
    if (pod !== undefined && pod.gone === undefined)
      throw new Error(
        `pod ${ref} exists and is not gone (uid ${pod.uid}); it holds ${held.join(", ")}: not released; --force frees it anyway`,
      );
    judged.set(ref, pod?.uid);
  }
  return async (refs) => {
    for (const ref of refs) {
      const parts = splitPodRef(ref);
      if (parts === undefined) return `${ref} names no pod`;
      const pod = await pods.get(parts.namespace, parts.name);
      if (pod === undefined) continue;
      if (pod.uid !== judged.get(ref)) return `pod ${ref} was re-created meanwhile (uid ${pod.uid})`;
      if (pod.gone === undefined) return `pod ${ref} is no longer gone`;
    }
    return undefined;
  };
}

function releaseRecord(report: FreeReport): object {
  return {
    freed: report.freed.map((f) => ({
      pool: f.pool,
      address: f.address,
      owner: { pod: f.owner.podRef, interface: f.owner.ifName, containerId: f.owner.containerId },
      ...(f.reservation === undefined ? {} : { reservation: f.reservation }),
    })),
    notDone: report.notDone,
  };
}

function releaseText(report: FreeReport, look: Parameters<typeof renderTable>[2]): string {
  if (report.freed.length === 0) return "Nothing was freed.\n";
  return `Freed:\n${renderTable(
    [
      { header: "ADDRESS", shrink: 0 },
      { header: "POOL", shrink: 2 },
      { header: "OWNER", shrink: 2 },
      { header: "RESERVATION", shrink: 1 },
    ],
    report.freed.map((f) => [f.address || "-", f.pool || "-", ownerText(f.owner), f.reservation ?? "-"]),
    look,
  )}`;
}
