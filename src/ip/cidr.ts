// CIDR prefixes on the bigint address model. `address` keeps the IP as written (Go's ParseCIDR
// returns it unmasked, and Whereabouts computes pool offsets from the IP literally in spec.range).
import { bitsOf, type Family, formatIP, type IP, maxValue, parseIP, parseIPSloppy } from "./address.ts";

export interface Cidr {
  readonly family: Family;
  readonly address: bigint;
  readonly prefix: number;
}

/** `addr/prefix`, the address kept as it is (host bits included). */
export function cidrOf(addr: IP, prefix: number): Cidr {
  return { family: addr.family, address: addr.value, prefix };
}

/** The address of a prefix as written (host bits included). */
export function ipOf(c: Cidr): IP {
  return { family: c.family, value: c.address };
}

function hostMask(family: Family, prefix: number): bigint {
  return (1n << BigInt(bitsOf(family) - prefix)) - 1n;
}

export function networkOf(c: Cidr): bigint {
  return c.address & ~hostMask(c.family, c.prefix) & maxValue(c.family);
}

export function broadcastOf(c: Cidr): bigint {
  return networkOf(c) | hostMask(c.family, c.prefix);
}

/** The same prefix with host bits cleared (Go's IPNet.String() form). */
export function masked(c: Cidr): Cidr {
  return { family: c.family, address: networkOf(c), prefix: c.prefix };
}

export function contains(c: Cidr, addr: IP): boolean {
  return addr.family === c.family && addr.value >= networkOf(c) && addr.value <= broadcastOf(c);
}

/** Whether two prefixes share an address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && networkOf(a) <= broadcastOf(b) && networkOf(b) <= broadcastOf(a);
}

/** Number of addresses in the prefix. */
export function sizeOf(c: Cidr): bigint {
  return hostMask(c.family, c.prefix) + 1n;
}

function parsePrefix(text: string, sloppy: boolean): Cidr | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const addr = (sloppy ? parseIPSloppy : parseIP)(text.slice(0, slash));
  const len = text.slice(slash + 1);
  if (addr === undefined || !/^[0-9]{1,3}$/.test(len)) return undefined;
  const prefix = Number.parseInt(len, 10);
  if (prefix > bitsOf(addr.family)) return undefined;
  return cidrOf(addr, prefix);
}

/** Go's net.ParseCIDR; the returned address is the IP as written. */
export function parseCidr(text: string): Cidr | undefined {
  return parsePrefix(text, false);
}

/** k8s.io/utils/net ParseCIDRSloppy: leading zeros allowed in IPv4 octets. */
export function parseCidrSloppy(text: string): Cidr | undefined {
  return parsePrefix(text, true);
}

/** `<address as written>/<prefix>`; pass `masked(c)` for Go's IPNet.String(). */
export function formatCidr(c: Cidr): string {
  return `${formatIP(ipOf(c))}/${c.prefix}`;
}
