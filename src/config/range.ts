// Range normalisation, as Whereabouts does it: the top-level `range` (with range_start,
// range_end, exclude) comes first, then every `ipRanges` entry. Each becomes a RangeRule with a
// masked CIDR, bigint bounds and an exclude set. Error texts are Go's where Go has one.
import type { RangeRule } from "../allocator/assign.ts";
import { candidateWindow } from "../allocator/window.ts";
import { ConfigError } from "../errors/errors.ts";
import { clip, quote } from "../errors/message.ts";
import {
  type Cidr,
  contains,
  formatCidr,
  formatIP,
  type IP,
  ipOf,
  masked,
  networkOf,
  parseCidrSloppy,
  parseIP,
  parseIPSloppy,
  unmapped,
} from "../ip/index.ts";
import { parseExcludes } from "./exclude.ts";
import type { IpamInput, RangeInput } from "./ipam-input.ts";
import { requireFamily } from "./values.ts";

interface RangeEntry {
  readonly input: RangeInput;
  /** Message prefix of the entry's keys: "" for the top level, `ipRanges[1].` for an entry. */
  readonly prefix: string;
  /**
   * Go reads top-level range_start/range_end with the sloppy parser (leading zeros allowed), but
   * decodes them inside ipRanges as net.IP, the strict parser.
   */
  readonly strict: boolean;
}

/** Parses range_start / range_end. Go drops an unparsable top-level bound silently; we reject it. */
function parseBound(
  entry: RangeEntry,
  key: "range_start" | "range_end",
  text: string | undefined,
): IP | undefined {
  if (text === undefined) return undefined;
  const addr = (entry.strict ? parseIP : parseIPSloppy)(text);
  if (addr !== undefined) return unmapped(addr);
  const why = entry.strict ? `invalid IP address: ${clip(text)}` : "not an IP address";
  throw new ConfigError(`invalid ${entry.prefix}${key} ${quote(text)}: ${why}`);
}

/** `A-B/len`: the range starts at A and ends at B; the CIDR is B/len masked. */
function parseDashForm(text: string, dash: number): { cidr: Cidr; start: IP; end: IP } {
  const first = text.slice(0, dash);
  const last = text.slice(dash + 1);
  const start = parseIPSloppy(first);
  if (start === undefined) throw new ConfigError(`invalid range start IP: ${clip(first)}`);
  const cidr = parseCidrSloppy(last);
  if (cidr === undefined) {
    throw new ConfigError(
      `invalid CIDR (do you have the 'range' parameter set for Whereabouts?) '${clip(last)}': invalid CIDR address: ${clip(last)}`,
    );
  }
  const begin = unmapped(start);
  if (!contains(cidr, begin)) {
    throw new ConfigError(`invalid range start for CIDR ${formatCidr(masked(cidr))}: ${formatIP(begin)}`);
  }
  // Go takes B as the end with no check that B >= A (the allocator ignores an inverted end).
  return { cidr, start: begin, end: ipOf(cidr) };
}

function normaliseRange(entry: RangeEntry): RangeRule {
  const text = entry.input.range ?? "";
  const dash = text.indexOf("-");
  const parsed =
    dash >= 0 ? parseDashForm(text, dash) : { cidr: parseCidrSloppy(text), start: undefined, end: undefined };
  if (parsed.cidr === undefined)
    throw new ConfigError(`invalid CIDR ${clip(text)}: invalid CIDR address: ${clip(text)}`);
  const range = masked(parsed.cidr);
  candidateWindow(range); // rejects prefixes without usable addresses (/31, /32, /127, /128)

  const bounds = { range_start: entry.input.rangeStart, range_end: entry.input.rangeEnd };
  const given = {
    range_start: parseBound(entry, "range_start", bounds.range_start),
    range_end: parseBound(entry, "range_end", bounds.range_end),
  };
  for (const key of ["range_start", "range_end"] as const) {
    const addr = given[key];
    if (addr !== undefined) {
      requireFamily(`${entry.prefix}${key}`, bounds[key]!, addr, range, { noun: "address", of: "range" });
    }
  }
  // The dash form overrides range_start / range_end, as in Go.
  const start = parsed.start ?? given.range_start;
  const end = parsed.end ?? given.range_end;
  const excludes = parseExcludes(entry.input.exclude, range, `${entry.prefix}exclude`);
  return {
    range,
    // Go sets an absent start to the network address, which the candidate window then skips.
    start: start?.value ?? networkOf(range),
    ...(end === undefined ? {} : { end: end.value }),
    ...excludes,
  };
}

/**
 * All ranges of the merged config in Go's order. No ranges at all is valid (only static addresses
 * are returned). Throws ConfigError with Go's texts for malformed ranges, and ours for bad bounds
 * and excludes.
 */
export function normaliseRanges(input: IpamInput): RangeRule[] {
  const entries: RangeEntry[] = [];
  if (input.range !== undefined) entries.push({ input, prefix: "", strict: false });
  else {
    // Without a top-level range Go ignores these; still reject text that is not an address.
    const topLevel: RangeEntry = { input, prefix: "", strict: false };
    parseBound(topLevel, "range_start", input.rangeStart);
    parseBound(topLevel, "range_end", input.rangeEnd);
  }
  input.ipRanges?.forEach((r, i) => {
    entries.push({ input: r, prefix: `ipRanges[${i}].`, strict: true });
  });
  return entries.map(normaliseRange);
}
