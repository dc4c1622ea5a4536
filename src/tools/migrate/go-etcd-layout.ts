// How Go Whereabouts v0.5.4 kept its allocations in etcd (its last release with an etcd datastore),
// read back. Pure. One key per range, named by the range as Go prints a masked CIDR
// (`/whereabouts/10.10.0.0/16`, `/whereabouts/fd00:10::/64`): the configured `range` with host bits
// cleared, whatever network used it (v0.5.4 had no network_name, so networks sharing a range shared
// its key). Its value is the range's allocations as newline-joined `<ip> <containerID>` lines (no
// pod, no interface). Each plugin call held an etcd mutex on the range for its whole run: keys
// `/whereabouts/<range>/<lease id in hex>`, one per waiting or holding session, tied to a 60 s lease.
import {
  type Cidr,
  contains,
  formatCidr,
  formatIP,
  type IP,
  masked,
  parseCidr,
  parseIPSloppy,
} from "../../ip/index.ts";

/** Every key v0.5.4 wrote starts with this. */
export const GO_ETCD_PREFIX = "/whereabouts/";

/** What one key under the prefix is. */
export type GoKey =
  | { readonly kind: "range"; readonly range: Cidr }
  /** A session waiting for or holding the range's mutex. */
  | { readonly kind: "lock"; readonly range: Cidr; readonly lease: string }
  /** Not v0.5.4's (another tool's, or a range key v0.5.4 could not have formed): left alone. */
  | { readonly kind: "other" };

/** The range key v0.5.4 reads for a configured range. */
export function goRangeKey(range: Cidr): string {
  return `${GO_ETCD_PREFIX}${formatCidr(masked(range))}`;
}

/**
 * The range a key's text names, when it is the text v0.5.4 forms for it (a masked CIDR printed
 * canonically); any other spelling is a key v0.5.4 never read.
 */
function rangeNamed(text: string): Cidr | undefined {
  const range = parseCidr(text);
  return range !== undefined && formatCidr(masked(range)) === text ? masked(range) : undefined;
}

export function classifyKey(key: string): GoKey {
  if (!key.startsWith(GO_ETCD_PREFIX)) return { kind: "other" };
  const parts = key.slice(GO_ETCD_PREFIX.length).split("/");
  const range = parts.length >= 2 ? rangeNamed(`${parts[0]}/${parts[1]}`) : undefined;
  if (range === undefined) return { kind: "other" };
  if (parts.length === 2) return { kind: "range", range };
  // etcd's concurrency.Mutex: `<mutex prefix>/<lease id as %x>`.
  if (parts.length === 3 && /^[0-9a-f]+$/.test(parts[2]!)) return { kind: "lock", range, lease: parts[2]! };
  return { kind: "other" };
}

/** One allocation of a v0.5.4 range. */
export interface GoEntry {
  readonly address: IP;
  readonly containerId: string;
}

/** A line of a range's value that does not hold an allocation of the range. */
export interface GoBadLine {
  /** 1-based. */
  readonly line: number;
  readonly reason: string;
}

export interface GoRange {
  readonly range: Cidr;
  readonly entries: readonly GoEntry[];
  readonly bad: readonly GoBadLine[];
}

/**
 * The allocations of a range's value. Go splits the value on "\n" and each line at its first
 * space into an IP (net.ParseIP of Go 1.16, which took leading zeros) and the container id; a
 * line it cannot split makes v0.5.4 read the whole range as empty. Here every readable line
 * counts and each unreadable one is reported (an emptied range holds "": no line at all). The
 * same address on two lines of one container is one allocation; of two containers, both are
 * kept, for the plan to report.
 */
export function parseGoRange(range: Cidr, value: string): GoRange {
  const entries: GoEntry[] = [];
  const bad: GoBadLine[] = [];
  const seen = new Set<string>();
  const lines = value === "" ? [] : value.split("\n");
  for (const [i, text] of lines.entries()) {
    const line = i + 1;
    const space = text.indexOf(" ");
    if (space < 0) {
      bad.push({ line, reason: "not `<ip> <container id>`" });
      continue;
    }
    const address = parseIPSloppy(text.slice(0, space));
    const containerId = text.slice(space + 1);
    if (address === undefined) bad.push({ line, reason: "not an IP address before the space" });
    else if (containerId === "") bad.push({ line, reason: "no container id" });
    else if (!contains(range, address))
      bad.push({ line, reason: `${formatIP(address)} is outside ${formatCidr(range)}` });
    else {
      const id = `${address.value}\0${containerId}`;
      if (seen.has(id)) continue;
      seen.add(id);
      entries.push({ address, containerId });
    }
  }
  return { range, entries, bad };
}
