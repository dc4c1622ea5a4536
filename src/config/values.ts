// Small helpers for address-valued config fields.
import { ConfigError } from "../errors/errors.ts";
import { quote } from "../errors/message.ts";
import { type Cidr, type Family, formatCidr, type IP, masked } from "../ip/index.ts";

const V4_MAPPED = 0xffffn;

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address Go's To4() sees. */
export function unmapped(addr: IP): IP {
  return addr.family === 6 && addr.value >> 32n === V4_MAPPED
    ? { family: 4, value: addr.value & 0xffffffffn }
    : addr;
}

export function familyName(family: Family): string {
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
