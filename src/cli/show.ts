// `thereabouts show` (and `kubectl thereabouts show`): the pools of a store, how full they are, and
// who holds which address. Exit 0 when what was asked for was found, 1 when not (a pool that does
// not exist, a pod or an address that nothing holds), 2 for bad usage (checked before the store
// is opened).
import { formatIP, parseIP } from "../ip/index.ts";
import { podsIfAllowed, readInventory, readPool } from "../tools/inventory.ts";
import {
  lookOf,
  OUTPUT_OPTION,
  OUTPUT_USAGE,
  type OutputFormat,
  parseFormat,
  renderData,
} from "../tools/output.ts";
import {
  entriesTable,
  entryRecord,
  line,
  podAddressesTable,
  podAddressRecord,
  podHead,
  podRecord,
  poolHead,
  poolSummary,
  poolsHolding,
  poolsTable,
  reservationInNetwork,
  reservationRecord,
  reservationsTable,
  reservesAddress,
} from "../tools/show-report.ts";
import {
  openTarget,
  TARGET_OPTIONS,
  TARGET_USAGE,
  type Target,
  type TargetContext,
} from "../tools/target.ts";
import { parseCommandArgs, printCommandHelp, UsageError } from "../tools/usage-error.ts";

const HELP = `Usage: thereabouts show [pools]
       thereabouts show pool NAME
       thereabouts show pod NS/NAME
       thereabouts show ip ADDRESS

  pools                every pool: range, size, used, free, utilisation
  pool NAME            the pool's entries: address, pod, container, interface,
                       node, age
  pod NS/NAME          the pod's addresses in every pool (and its reservations)
  ip ADDRESS           which pools' entries and which reservations hold the
                       address

Exit status: 0 found, 1 not found (no such pool; nothing holds the pod or
address), 2 bad usage.

${OUTPUT_USAGE}

${TARGET_USAGE}
`;

type Query =
  | { readonly kind: "pools" }
  | { readonly kind: "pool"; readonly name: string }
  | { readonly kind: "pod"; readonly ref: string }
  | { readonly kind: "ip"; readonly text: string };

const OPTIONS = { ...TARGET_OPTIONS, ...OUTPUT_OPTION, help: { type: "boolean", short: "h" } } as const;

/** What was asked, checked before anything is opened. */
export function parseQuery(positionals: readonly string[]): Query {
  const [what = "pools", arg, ...extra] = positionals;
  const one = (name: string): string => {
    if (arg === undefined || arg === "") throw new UsageError(`${what} needs ${name}`);
    if (extra.length > 0) throw new UsageError(`${what} takes one ${name}; unexpected ${extra.join(" ")}`);
    return arg;
  };
  switch (what) {
    case "pools":
      if (arg !== undefined) throw new UsageError(`pools takes no argument; unexpected ${arg}`);
      return { kind: "pools" };
    case "pool":
      return { kind: "pool", name: one("a pool NAME") };
    case "pod": {
      const ref = one("a pod as NAMESPACE/NAME");
      const slash = ref.indexOf("/");
      if (slash <= 0 || slash === ref.length - 1 || ref.indexOf("/", slash + 1) >= 0)
        throw new UsageError(`pod ${ref}: name the pod as NAMESPACE/NAME`);
      return { kind: "pod", ref };
    }
    case "ip": {
      const text = one("an ADDRESS");
      if (parseIP(text) === undefined) throw new UsageError(`ip ${text}: not an IPv4 or IPv6 address`);
      return { kind: "ip", text };
    }
    default:
      throw new UsageError(
        `unknown query ${JSON.stringify(what)}: say pools, pool NAME, pod NS/NAME or ip ADDRESS`,
      );
  }
}

export async function runShow(args: readonly string[], context: TargetContext): Promise<number> {
  const { values, positionals } = parseCommandArgs({
    args: [...args],
    options: OPTIONS,
    allowPositionals: true,
  });
  if (values.help === true) return printCommandHelp(HELP, "show", context);
  const query = parseQuery(positionals);
  const format = parseFormat(values.output);
  const target = await openTarget(values, context);
  try {
    return await answer(target, query, format);
  } finally {
    await target.close();
  }
}

/** Prints the records in the format asked; the table is the query's own. */
function print(format: OutputFormat, record: object, table: () => string): void {
  process.stdout.write(format === "table" ? table() : renderData(format, record));
}

async function answer(target: Target, query: Query, format: OutputFormat): Promise<number> {
  const look = lookOf(process.stdout, process.env);
  const podsOf = async (refs: Iterable<string>) => {
    const { pods, refused } = await podsIfAllowed(target, refs);
    if (refused !== undefined) process.stderr.write(`thereabouts show: ${refused}\n`);
    return pods;
  };
  const now = Date.now();
  const network = target.network;
  const head = {
    datastore: target.store.datastore,
    ...(target.namespace === undefined ? {} : { namespace: target.namespace }),
  };
  switch (query.kind) {
    case "pools": {
      const pools = (await readInventory(target, { network })).pools.map(poolSummary);
      print(format, { ...head, pools }, () => poolsTable(pools, look));
      return 0;
    }
    case "pool": {
      const pool = await readPool(target, query.name, { network });
      if (pool === undefined) {
        const where = network === undefined ? "" : ` of network ${JSON.stringify(network)}`;
        process.stderr.write(line(`no pool ${query.name}${where} in this store`, look));
        return 1;
      }
      const pods = await podsOf(pool.entries.map((e) => e.allocation.podRef));
      const entries = pool.entries.map((e) => entryRecord(pool.name, e, pods));
      const summary = poolSummary(pool);
      print(format, { ...head, pool: { ...summary, entries, unreadableKeys: pool.unreadableKeys } }, () => {
        const unreadable =
          pool.unreadableKeys.length === 0
            ? ""
            : line(
                `${pool.unreadableKeys.length} keys name no address of the range: ${pool.unreadableKeys.join(", ")}`,
                look,
              );
        return poolHead(summary, look) + entriesTable(entries, look, now) + unreadable;
      });
      return 0;
    }
    case "pod": {
      const inventory = await readInventory(target, { network });
      const pods = await podsOf([query.ref]);
      const addresses = inventory.pools.flatMap((pool) =>
        pool.entries
          .filter((e) => e.allocation.podRef === query.ref)
          .map((e) => podAddressRecord(pool.name, e)),
      );
      const reservations = inventory.reservations
        .filter((r) => r.podRef === query.ref && (network === undefined || reservationInNetwork(r, network)))
        .map(reservationRecord);
      const pod = podRecord(pods, query.ref);
      const found = addresses.length + reservations.length > 0;
      print(
        format,
        { ...head, podRef: query.ref, pod, addresses, reservations },
        () =>
          podHead(query.ref, pod, look, now) +
          (addresses.length === 0 ? "no addresses\n" : podAddressesTable(addresses, look)) +
          (reservations.length === 0 ? "" : reservationsTable(reservations, look)),
      );
      return found ? 0 : 1;
    }
    case "ip": {
      const address = parseIP(query.text)!;
      const inventory = await readInventory(target, { network });
      const inRange = poolsHolding(inventory.pools, address);
      const held = inRange.flatMap((pool) =>
        pool.entries.filter((e) => e.address.value === address.value).map((e) => ({ pool, e })),
      );
      const reserved = inventory.reservations.filter((r) => reservesAddress(r, address, network));
      const pods = await podsOf([
        ...held.map(({ e }) => e.allocation.podRef),
        ...reserved.map((r) => r.podRef),
      ]);
      const holders = held.map(({ pool, e }) => entryRecord(pool.name, e, pods));
      const reservations = reserved.map(reservationRecord);
      print(
        format,
        {
          ...head,
          address: formatIP(address),
          pools: inRange.map((p) => ({ name: p.name, range: p.range })),
          holders,
          reservations,
        },
        () => {
          const free = inRange.filter((p) => !held.some((h) => h.pool === p)).map((p) => p.name);
          const freeLine = free.length === 0 ? "" : line(`${query.text} is free in ${free.join(", ")}`, look);
          const none =
            inRange.length === 0 && reserved.length === 0
              ? line(`${query.text} is in no pool's range`, look)
              : "";
          return (
            (holders.length === 0 ? "" : entriesTable(holders, look, now, { withPool: true })) +
            (reservations.length === 0 ? "" : reservationsTable(reservations, look)) +
            freeLine +
            none
          );
        },
      );
      return holders.length + reservations.length > 0 ? 0 : 1;
    }
  }
}
