// `thereabouts check [--fix]` (and `kubectl thereabouts check`): scans every pool of the selected
// store and reports what is wrong; with --fix repairs what is safe to repair and checks again.
// Exit 0 nothing wrong (after --fix: nothing left), 1 findings or the check could not be made,
// 2 bad usage.
import { checkRecord, checkText, fixText } from "../tools/check/render.ts";
import { checkTarget, fixTarget } from "../tools/check/run.ts";
import {
  lookOf,
  OUTPUT_OPTION,
  OUTPUT_USAGE,
  parseFormat,
  progressReporter,
  renderData,
} from "../tools/output.ts";
import { openTarget, STORE_USAGE, TARGET_OPTIONS, type TargetContext } from "../tools/target.ts";
import { parseCommandArgs, printCommandHelp, UsageError } from "../tools/usage-error.ts";

const HELP = `Usage: thereabouts check [--fix] [-o FORMAT] STORE
       (STORE: --config FILE or --kubeconfig PATH, below)

Scans every pool and reservation of the store (not only one network's) and
reports, each with the pool, the address, the owner and what to do: addresses
held twice in one network, an attachment holding two addresses of a pool, pools
whose range or keys cannot be read, entries outside their pool's range,
reservations without their entry and entries without their reservation, and on
Kubernetes entries of pods that are gone (not found, Succeeded or Failed,
evicted) and pods whose network-status disagrees with the store. The local and
etcd stores have no cluster to ask about pods: there only the store's own
consistency is checked.

  --fix                repair what is safe, print each action, then check
                       again: frees what pods confirmed gone hold (each pod
                       read again just before, and only while it is the pod the
                       check judged), creates missing reservations of entries.
                       Never touches duplicates or corrupted pools: those are
                       for an operator to decide.

Exit status: 0 nothing wrong (with --fix: nothing left), 1 problems found or the
check could not be made, 2 bad usage.

${OUTPUT_USAGE}

${STORE_USAGE}
`;

const OPTIONS = {
  ...TARGET_OPTIONS,
  ...OUTPUT_OPTION,
  fix: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export async function runCheck(args: readonly string[], context: TargetContext): Promise<number> {
  const { values, positionals } = parseCommandArgs({
    args: [...args],
    options: OPTIONS,
    allowPositionals: true,
  });
  if (values.help === true) return printCommandHelp(HELP, "check", context);
  if (positionals.length > 0)
    throw new UsageError(`check takes no argument; unexpected ${positionals.join(" ")}`);
  if (values.network !== undefined)
    throw new UsageError("check scans every pool of the store: --network does not apply");
  const format = parseFormat(values.output);
  const look = lookOf(process.stdout, process.env);
  const target = await openTarget(values, context);
  try {
    const scan = async (label: string) => {
      const progress = progressReporter(label);
      try {
        return await checkTarget(target, { progress: (done, total) => progress.step(done, total) });
      } finally {
        progress.finish();
      }
    };
    const report = await scan("checking pools");
    if (values.fix !== true || report.findings.length === 0) {
      process.stdout.write(
        format === "table" ? checkText(report, look) : renderData(format, checkRecord(report)),
      );
      return report.findings.length === 0 ? 0 : 1;
    }
    if (format === "table") process.stdout.write(checkText(report, look));
    const fix = await fixTarget(target, report.findings);
    const after = await scan("checking again");
    process.stdout.write(
      format === "table" ? fixText(fix, after, look) : renderData(format, checkRecord(report, fix, after)),
    );
    return after.findings.length === 0 ? 0 : 1;
  } finally {
    await target.close();
  }
}
