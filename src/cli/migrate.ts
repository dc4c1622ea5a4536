// `thereabouts migrate --from FILE --to FILE [--only-configured] [--dry-run]`: Go Whereabouts
// v0.5.4's etcd allocations copied into a thereabouts datastore (src/tools/migrate). Exit 0 when
// everything is there (written now or before), 1 when something could not be migrated or the
// target could not be written, 2 for bad usage.
import { describe } from "../errors/errors.ts";
import { asGoV054, migrate } from "../tools/migrate/migrate.ts";
import { migrationRecord, renderMigration } from "../tools/migrate/report.ts";
import { lookOf, OUTPUT_OPTION, parseFormat, progressReporter, renderData } from "../tools/output.ts";
import { loadNetworkConfig } from "../tools/target.ts";
import { parseCommandArgs, UsageError } from "../tools/usage-error.ts";

export const MIGRATE_USAGE = `Usage: thereabouts migrate --from FILE --to FILE [--only-configured]
                           [--dry-run] [-o FORMAT]

Copies the allocations Go Whereabouts v0.5.4 kept in etcd (keys
/whereabouts/<range>) into the pools and overlapping-range reservations of a
thereabouts datastore, as the target network's ADDs would have written them.
Stop every v0.5.4 plugin first. Safe to run again: what the target already
holds for the same container is left as it is; an address held there by anyone
else is a problem, and a run with any problem writes nothing.

  --from FILE          the network configuration v0.5.4 used (datastore etcd,
                       or none; etcd_host, etcd_username/etcd_password,
                       etcd_*_file)
  --to FILE            the thereabouts network configuration to migrate into
                       (kubernetes.kubeconfig, or datastore etcd): its
                       network_name and enable_overlapping_ranges apply
  -n, --namespace NS   with the Kubernetes datastore: the pools' namespace
                       instead of the kubeconfig context's
  --only-configured    only the --from network's range (default: every v0.5.4
                       range in the etcd)
  --dry-run            print the plan, write nothing
  -o, --output FORMAT  table (default), json or yaml

Exit status: 0 everything is in the target, 1 something could not be migrated,
2 bad usage.
`;

const OPTIONS = {
  from: { type: "string" },
  to: { type: "string" },
  namespace: { type: "string", short: "n" },
  "only-configured": { type: "boolean", default: false },
  "dry-run": { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
  ...OUTPUT_OPTION,
} as const;

export async function runMigrateCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs({
    args: [...args],
    options: OPTIONS,
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(MIGRATE_USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  if (values.from === undefined || values.to === undefined)
    throw new UsageError(
      "give both --from FILE (the v0.5.4 etcd network) and --to FILE (the thereabouts network)",
    );
  const format = parseFormat(values.output);
  const from = asGoV054(load(values.from, "--from"));
  const to = load(values.to, "--to");
  if (values.namespace !== undefined && to.datastore !== "kubernetes")
    throw new UsageError(
      `--namespace applies to the Kubernetes datastore; ${values.to} uses ${to.datastore}`,
    );
  const progress = progressReporter("migrating: addresses written");
  let result: Awaited<ReturnType<typeof migrate>>;
  try {
    result = await migrate({
      from,
      to,
      onlyConfigured: values["only-configured"],
      dryRun: values["dry-run"],
      namespace: values.namespace,
      onWriting: (done, total) => progress.step(done, total),
    });
  } finally {
    progress.finish();
  }
  const record = migrationRecord(result, {
    dryRun: values["dry-run"],
    networkName: to.networkName,
    overlapping: to.enableOverlappingRanges,
    endpoints: from.etcd.endpoints,
  });
  process.stdout.write(
    format === "table"
      ? renderMigration(record, lookOf(process.stdout, process.env))
      : renderData(format, record),
  );
  return record.problems.length === 0 && record.failure === undefined ? 0 : 1;
}

/** A network configuration file; every message names the flag that gave it. */
function load(path: string, flag: string) {
  try {
    return loadNetworkConfig(path, flag);
  } catch (error) {
    const message = describe(error);
    if (message.startsWith(flag)) throw error;
    throw new Error(`${flag} ${path}: ${message}`);
  }
}
