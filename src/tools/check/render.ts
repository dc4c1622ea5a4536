// How `check` prints. Table (for people): a line saying what was checked, the findings as a table
// that fits the terminal (one row each), then each finding's full sentence and what to do, wrapped
// to the width (prose is wrapped, table cells are cut). json/yaml: the same records with stable
// field names (docs/tools.md, "check").
import { type Look, paint, printable, renderTable, type Style } from "../output.ts";
import type { Finding, FindingKind } from "./findings.ts";
import type { FixReport } from "./fix.ts";
import type { CheckReport } from "./run.ts";

/** A finding as json/yaml carry it. */
export interface FindingRecord {
  readonly kind: FindingKind;
  readonly pool: string;
  readonly address: string;
  readonly key?: string;
  readonly reservation?: string;
  readonly owner?: { readonly pod: string; readonly interface: string; readonly containerId: string };
  readonly detail: string;
  readonly action: string;
  /** Whether `check --fix` repairs it. */
  readonly fixable: boolean;
}

export function findingRecord(f: Finding): FindingRecord {
  return {
    kind: f.kind,
    pool: f.pool,
    address: f.address,
    ...(f.key === undefined ? {} : { key: f.key }),
    ...(f.reservation === undefined ? {} : { reservation: f.reservation }),
    ...(f.owner === undefined
      ? {}
      : { owner: { pod: f.owner.podRef, interface: f.owner.ifName, containerId: f.owner.containerId } }),
    detail: f.detail,
    action: f.action,
    fixable: f.repair !== undefined,
  };
}

/** The whole report as json/yaml carry it. */
export function checkRecord(report: CheckReport, fix?: FixReport, after?: CheckReport): object {
  return {
    datastore: report.datastore,
    ...(report.namespace === undefined ? {} : { namespace: report.namespace }),
    podChecks: report.podChecks,
    pools: report.pools,
    reservations: report.reservations,
    ...(report.pods === undefined ? {} : { pods: report.pods }),
    findings: report.findings.map(findingRecord),
    ...(fix === undefined ? {} : { fix: { done: fix.done, notDone: fix.notDone } }),
    ...(after === undefined ? {} : { after: { findings: after.findings.map(findingRecord) } }),
  };
}

/** Kinds that mean two holders or a broken pool, shown in red; the rest in yellow. */
const SEVERE: ReadonlySet<FindingKind> = new Set([
  "unreadable-range",
  "unreadable-key",
  "outside-range",
  "duplicate-address",
  "duplicate-attachment",
  "status-not-stored",
]);

function styleOf(kind: FindingKind): Style {
  return SEVERE.has(kind) ? "red" : "yellow";
}

/**
 * `head` then `text` wrapped at spaces to `width`; continuation lines are indented by as many
 * columns as `head` takes.
 */
export function wrap(head: string, text: string, width: number): string[] {
  const indent = " ".repeat([...head].length);
  const room = Math.max(20, width - indent.length);
  const lines: string[] = [];
  let line = "";
  for (const word of printable(text).split(" ")) {
    const candidate = line === "" ? word : `${line} ${word}`;
    if (line !== "" && [...candidate].length > room) {
      lines.push(line);
      line = word;
    } else line = candidate;
  }
  lines.push(line);
  return lines.map((l, i) => `${i === 0 ? head : indent}${l}`);
}

export function scopeLine(report: CheckReport): string {
  const where =
    report.namespace === undefined
      ? `${report.datastore} store`
      : `${report.datastore} store, namespace ${report.namespace}`;
  const what =
    report.pods === undefined
      ? `${report.pools} pools and ${report.reservations} reservations`
      : `${report.pools} pools, ${report.reservations} reservations and ${report.pods} pods`;
  return `Checked ${what} (${where}).`;
}

/** Why there are no pod checks, for the stores that know no pods. */
export function noPodsLine(report: CheckReport): string | undefined {
  if (report.podChecks) return undefined;
  return `The ${report.datastore} store has no cluster to ask about pods: this checks the store's own consistency (no pod checks).`;
}

/** The findings as a table, then each one's sentence and action. */
export function findingsText(findings: readonly Finding[], look: Look): string {
  if (findings.length === 0) return `${paint("No problems found.", "green", look.colour)}\n`;
  const fixable = findings.filter((f) => f.repair !== undefined).length;
  const rows = findings.map((f, i) => [
    String(i + 1),
    { text: f.kind, style: styleOf(f.kind) },
    f.pool || "-",
    f.address || f.key || f.reservation || "-",
    // the pod alone: its interface is in the sentence below
    f.owner === undefined || f.owner.podRef === "" ? "-" : f.owner.podRef,
    f.repair === undefined ? "-" : { text: "yes", style: "green" as const },
  ]);
  const table = renderTable(
    [
      { header: "#", align: "right", shrink: 0 },
      { header: "KIND", shrink: 1 },
      { header: "POOL", shrink: 2 },
      { header: "ADDRESS", shrink: 0 },
      { header: "POD", shrink: 3 },
      { header: "FIX", shrink: 0 },
    ],
    rows,
    look,
  );
  const notes = findings.flatMap((f, i) => {
    const n = `${i + 1}.`.padEnd(4);
    return [...wrap(n, f.detail, look.width), ...wrap("    → ", f.action, look.width)];
  });
  const count = `${findings.length} ${findings.length === 1 ? "problem" : "problems"} found${fixable > 0 ? `, ${fixable} of them repairable with --fix` : ""}.`;
  return `${table}\n${notes.join("\n")}\n\n${paint(count, "red", look.colour)}\n`;
}

export function checkText(report: CheckReport, look: Look): string {
  const note = noPodsLine(report);
  const head = [
    ...wrap("", scopeLine(report), look.width),
    ...(note === undefined ? [] : wrap("", note, look.width)),
  ];
  return `${head.join("\n")}\n\n${findingsText(report.findings, look)}`;
}

export function fixText(fix: FixReport, after: CheckReport, look: Look): string {
  const lines = [
    "",
    paint("Repairs:", "bold", look.colour),
    ...(fix.done.length === 0 ? ["  nothing changed"] : fix.done.flatMap((l) => wrap("  ", l, look.width))),
    ...fix.notDone.flatMap((l) => wrap("  not done: ", l, look.width)),
    "",
    paint("Checked again:", "bold", look.colour),
  ];
  return `${lines.join("\n")}\n\n${findingsText(after.findings, look)}`;
}
