// One address model for the whole program: a family plus a bigint value (full 128-bit IPv6).
// Text forms follow Go's net package, because pool names, reservation names and CNI results
// written by Whereabouts must be reproduced byte for byte.

export const FAMILIES = [4, 6] as const;
export type Family = (typeof FAMILIES)[number];

export interface IP {
  readonly family: Family;
  readonly value: bigint;
}

export function bitsOf(family: Family): number {
  return family === 4 ? 32 : 128;
}

export function maxValue(family: Family): bigint {
  return (1n << BigInt(bitsOf(family))) - 1n;
}

export function ip(family: Family, value: bigint): IP {
  return { family, value };
}

/** The upper 96 bits of an IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
const V4_MAPPED = 0xffffn;

/** An IPv6 address of the form ::ffff:a.b.c.d, which Go's To4() reads as IPv4. */
function isV4Mapped(addr: IP): boolean {
  return addr.family === 6 && addr.value >> 32n === V4_MAPPED;
}

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address Go's To4() sees; others as they are. */
export function unmapped(addr: IP): IP {
  return isV4Mapped(addr) ? { family: 4, value: addr.value & 0xffffffffn } : addr;
}

/** Parses dotted-quad IPv4; `sloppy` also accepts leading zeros (read as decimal), as Go's ParseIPSloppy does. */
function parseV4(text: string, sloppy: boolean): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^[0-9]{1,3}$/.test(part) && !(sloppy && /^[0-9]+$/.test(part))) return undefined;
    if (!sloppy && part.length > 1 && part[0] === "0") return undefined;
    const octet = Number.parseInt(part, 10);
    if (octet > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

function parseV6(text: string): bigint | undefined {
  let groups: number[] = [];
  let tail = text;
  let v4: bigint | undefined;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".")) {
    v4 = parseV4(text.slice(lastColon + 1), false);
    if (v4 === undefined) return undefined;
    tail = text.slice(0, lastColon + 1);
    // "::1.2.3.4" leaves "::"; "64:ff9b::1.2.3.4" leaves "64:ff9b::"; "a:b:c:d:e:f:1.2.3.4" leaves "a:...:f:".
    if (tail.endsWith(":") && !tail.endsWith("::")) tail = tail.slice(0, -1);
  }
  const want = v4 === undefined ? 8 : 6;
  const halves = tail.split("::");
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === "") return [];
    const out: number[] = [];
    for (const g of s.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const head = parseGroups(halves[0]!);
  if (head === undefined) return undefined;
  if (halves.length === 2) {
    const rest = parseGroups(halves[1]!);
    if (rest === undefined || head.length + rest.length > want - 1) return undefined;
    groups = [...head, ...new Array<number>(want - head.length - rest.length).fill(0), ...rest];
  } else {
    if (head.length !== want) return undefined;
    groups = head;
  }
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  if (v4 !== undefined) value = (value << 32n) | v4;
  return value;
}

/** Go's net.ParseIP: strict (no leading zeros in IPv4 octets, no zones). */
export function parseIP(text: string): IP | undefined {
  return parseAddress(text, false);
}

/** k8s.io/utils/net ParseIPSloppy: like parseIP but IPv4 octets may carry leading zeros. */
export function parseIPSloppy(text: string): IP | undefined {
  return parseAddress(text, true);
}

function parseAddress(text: string, sloppy: boolean): IP | undefined {
  if (text.includes(":")) {
    const value = parseV6(text);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = parseV4(text, sloppy);
  return value === undefined ? undefined : { family: 4, value };
}

function formatV4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join(".");
}

/** Go's net.IP.String(): RFC 5952, first longest run (≥ 2 groups) of zeros compressed, v4-mapped dotted. */
export function formatIP(addr: IP): string {
  if (addr.family === 4 || isV4Mapped(addr)) return formatV4(addr.value & 0xffffffffn);
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((addr.value >> shift) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}
