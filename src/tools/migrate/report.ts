// What `thereabouts migrate` prints: one record (json/yaml: stable field names, every address of
// the plan) or, for people, the source and target in two lines, a table of pools (what the v0.5.4
// range holds, what is added, what was already there), each problem in full (a message cut to fit
// would lose what to do: they are wrapped instead) and one closing line saying what happened.
import { withoutCredentials } from "../../errors/message.ts";
import { formatCidr, formatIP } from "../../ip/index.ts";
import { type Look, paint, printable, renderTable } from "../output.ts";
import type { MigrationResult } from "./migrate.ts";
import { type Problem, planTotals } from "./plan.ts";

export type Outcome =
  /** Everything planned was written. */
  | "migrated"
  /** The target already held everything. */
  | "unchanged"
  /** --dry-run: nothing written. */
  | "planned"
  /** The plan has problems: nothing written. */
  | "refused"
  /** Writing stopped part way (the target changed meanwhile, or could not be reached). */
  | "stopped";

export interface MigrationRecord {
  readonly outcome: Outcome;
  readonly dryRun: boolean;
  readonly source: {
    readonly endpoints: readonly string[];
    readonly revision: string;
    /** v0.5.4 ranges in the etcd / migrated by this run. */
    readonly ranges: number;
    readonly selected: number;
    readonly allocations: number;
    readonly locks: number;
    /** Keys under /whereabouts/ that are not v0.5.4's. */
    readonly otherKeys: number;
  };
  readonly target: {
    readonly datastore: string;
    readonly namespace?: string;
    readonly networkName: string;
    readonly overlappingRanges: boolean;
  };
  readonly pools: readonly PoolRecord[];
  readonly problems: readonly Problem[];
  /** What this run wrote (absent when it wrote nothing by design: dry run, problems). */
  readonly written?: { readonly entries: number; readonly reservations: number };
  /** Why writing stopped early. */
  readonly failure?: string;
}

export interface PoolRecord {
  readonly pool: string;
  readonly range: string;
  /** Allocations of the v0.5.4 range. */
  readonly allocations: number;
  readonly add: number;
  readonly present: number;
  /** Reservations to write (with new entries, or beside entries already there). */
  readonly reservations: number;
  readonly addresses: readonly {
    readonly address: string;
    readonly containerId: string;
    readonly action: "add" | "present";
  }[];
}

export function migrationRecord(
  result: MigrationResult,
  context: {
    readonly dryRun: boolean;
    readonly networkName: string;
    readonly overlapping: boolean;
    readonly endpoints: readonly string[];
  },
): MigrationRecord {
  const { plan, applied, source } = result;
  const totals = planTotals(plan);
  const problems = [...plan.problems, ...(applied?.problems ?? [])];
  const outcome: Outcome = context.dryRun
    ? "planned"
    : plan.problems.length > 0
      ? "refused"
      : applied !== undefined && (applied.failure !== undefined || applied.problems.length > 0)
        ? "stopped"
        : totals.add + totals.reservations === 0
          ? "unchanged"
          : "migrated";
  return {
    outcome,
    dryRun: context.dryRun,
    source: {
      endpoints: context.endpoints.map(withoutCredentials),
      revision: source.revision,
      ranges: source.ranges.length,
      selected: result.selected.length,
      allocations: result.selected.reduce((n, r) => n + r.entries.length, 0),
      locks: source.locks.length,
      otherKeys: source.otherKeys,
    },
    target: {
      datastore: result.target.datastore,
      ...(result.target.namespace === undefined ? {} : { namespace: result.target.namespace }),
      networkName: context.networkName,
      overlappingRanges: context.overlapping,
    },
    pools: plan.pools.map((p) => ({
      pool: p.pool.name,
      range: formatCidr(p.pool.range),
      allocations: p.source,
      add: p.add.length,
      present: p.present.length,
      reservations: p.add.filter((e) => e.reserve !== undefined).length + p.reserve.length,
      addresses: [
        ...p.add.map((e) => ({
          address: formatIP(e.address),
          containerId: e.allocation.containerId,
          action: "add" as const,
        })),
        ...p.present.map((e) => ({
          address: formatIP(e.address),
          containerId: e.containerId,
          action: "present" as const,
        })),
      ],
    })),
    problems,
    ...(applied === undefined
      ? {}
      : { written: { entries: applied.entries, reservations: applied.reservations } }),
    ...(applied?.failure === undefined ? {} : { failure: applied.failure }),
  };
}

/** `text` in lines of at most `width` columns, broken at spaces (a longer word stays whole). */
export function wrapText(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width - indent.length) {
      lines.push(indent + line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(indent + line);
  return lines;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function renderMigration(record: MigrationRecord, look: Look): string {
  const { source, target } = record;
  const out: string[] = [];
  const where = target.namespace === undefined ? "" : ` (namespace ${target.namespace})`;
  const wrap = (text: string, indent = "") => wrapText(printable(text), look.width, indent);
  const of = source.selected === source.ranges ? "" : ` of ${source.ranges}`;
  out.push(
    ...wrap(
      `from: etcd ${source.endpoints.join(",")}, revision ${source.revision}: ` +
        `${plural(source.selected, "range")}${of}, ${plural(source.allocations, "allocation")}`,
    ),
    ...wrap(
      `to: ${target.datastore}${where}, network_name ${JSON.stringify(target.networkName)}, ` +
        `reservations ${target.overlappingRanges ? "on" : "off"}`,
    ),
  );
  if (record.pools.length > 0) {
    out.push("");
    const table = renderTable(
      [
        { header: "POOL", shrink: 2 },
        { header: "RANGE" },
        { header: "V0.5.4", align: "right", shrink: 0 },
        { header: "ADD", align: "right", shrink: 0 },
        { header: "PRESENT", align: "right", shrink: 0 },
        { header: "RESERVE", align: "right", shrink: 0 },
      ],
      record.pools.map((p) => [
        p.pool,
        p.range,
        String(p.allocations),
        { text: String(p.add), style: p.add > 0 ? "green" : undefined },
        String(p.present),
        String(p.reservations),
      ]),
      look,
    );
    out.push(table.trimEnd());
  }
  if (record.problems.length > 0) {
    out.push("");
    for (const problem of record.problems) {
      const [first = "", ...rest] = wrap(`${problem.kind}: ${problem.message}`, "  ");
      out.push(paint(`-${first.slice(1)}`, "red", look.colour), ...rest);
    }
  }
  out.push("", ...summary(record, look));
  return `${out.join("\n")}\n`;
}

function summary(record: MigrationRecord, look: Look): string[] {
  const adds = record.pools.reduce((n, p) => n + p.add, 0);
  const reservations = record.pools.reduce((n, p) => n + p.reservations, 0);
  const present = record.pools.reduce((n, p) => n + p.present, 0);
  const pools = record.pools.filter((p) => p.add + p.reservations > 0).length;
  const plan = `${plural(adds, "address", "addresses")} and ${plural(reservations, "reservation")} to write in ${plural(pools, "pool")}, ${present} already there`;
  const problems = plural(record.problems.length, "problem");
  const written = record.written ?? { entries: 0, reservations: 0 };
  const wrote = `${plural(written.entries, "address", "addresses")} and ${plural(written.reservations, "reservation")}`;
  const line = (() => {
    switch (record.outcome) {
      case "planned":
        return record.problems.length > 0
          ? `dry run: ${plan}; ${problems}, so a real run would write nothing`
          : `dry run: ${plan}; nothing written`;
      case "refused":
        return `${problems}: nothing written (${plan}); fix them and run again`;
      case "unchanged":
        return `nothing to do: all ${plural(present, "address", "addresses")} already there`;
      case "migrated":
        return `migrated ${wrote} into ${plural(pools, "pool")}; ${present} already there`;
      case "stopped":
        return `stopped after writing ${wrote}: ${record.failure ?? problems}; run migrate again to finish`;
    }
  })();
  const style =
    record.outcome === "migrated" || record.outcome === "unchanged"
      ? "green"
      : record.outcome === "planned"
        ? undefined
        : "red";
  return wrapText(printable(line), look.width, "").map((l) => paint(l, style, look.colour));
}
