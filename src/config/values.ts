// Small helpers for address-valued config fields.
import { ConfigError } from "../errors/errors.ts";
import { quote } from "../errors/message.ts";
import { type Cidr, type Family, formatCidr, type IP, masked } from "../ip/index.ts";

function familyName(family: Family): string {
  return family === 4 ? "IPv4" : "IPv6";
}

/** Rejects an address of the other family than `within` (e.g. an IPv6 range_start for an IPv4 range). */
export function requireFamily(
  key: string,
  text: string,
  addr: IP,
  within: Cidr,
  what: { readonly noun: string; readonly of: string },
): void {
  if (addr.family !== within.family) {
    const target = what.of === "range" ? formatCidr(masked(within)) : formatCidr(within);
    throw new ConfigError(
      `invalid ${key} ${quote(text)}: ${familyName(addr.family)} ${what.noun} for the ${familyName(within.family)} ${what.of} ${target}`,
    );
  }
}
