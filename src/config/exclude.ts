// `exclude` entries of one range: CIDRs or bare IPs (strict Go parser), validated when the config
// loads (README, Differences item 9; Go's config-time check never runs and fails at ADD instead).
import type { Interval, IntervalSet } from "../allocator/interval-set.ts";
import { intervalSet } from "../allocator/interval-set.ts";
import { ConfigError } from "../errors/errors.ts";
import { quote } from "../errors/message.ts";
import {
  bitsOf,
  broadcastOf,
  type Cidr,
  cidrOf,
  ipOf,
  networkOf,
  parseCidr,
  parseIP,
  unmapped,
} from "../ip/index.ts";
import { requireFamily } from "./values.ts";

export interface Excludes {
  readonly exclude: IntervalSet;
  /** The entries as configured, for the exhaustion message. */
  readonly excludeText: readonly string[];
}

function parseEntry(text: string): Cidr | undefined {
  if (text.includes("/")) return parseCidr(text);
  const addr = parseIP(text);
  if (addr === undefined) return undefined;
  const bare = unmapped(addr);
  return cidrOf(bare, bitsOf(bare.family));
}

/** `key` names the list in messages (`exclude`, `ipRanges[1].exclude`). */
export function parseExcludes(entries: readonly string[] | undefined, range: Cidr, key: string): Excludes {
  const intervals: Interval[] = [];
  for (const text of entries ?? []) {
    const cidr = parseEntry(text);
    if (cidr === undefined) {
      // Go's text, %q-quoted: `could not parse exclude range, err: "invalid CIDR address: x"`.
      throw new ConfigError(`could not parse exclude range, err: ${quote(`invalid CIDR address: ${text}`)}`);
    }
    requireFamily(key, text, ipOf(cidr), range, {
      noun: "exclude",
      of: "range",
    });
    intervals.push({ lo: networkOf(cidr), hi: broadcastOf(cidr) });
  }
  return { exclude: intervalSet(intervals), excludeText: entries ?? [] };
}
