// Addresses returned besides the allocated ones, checked in Whereabouts' order: the
// top-level gateway, static `addresses`, CNI_ARGS IP= / GATEWAY=, and the one-address-per-family
// limit of the pre-0.3.0 result formats.
import type { RangeRule } from "../allocator/assign.ts";
import { ConfigError } from "../errors/errors.ts";
import { clip, quote } from "../errors/message.ts";
import {
  contains,
  FAMILIES,
  type IP,
  ipOf,
  parseCidr,
  parseIP,
  parseIPSloppy,
  unmapped,
} from "../ip/index.ts";
import { argsError, type CniArgs } from "./cni-args.ts";
import type { AddressInput } from "./ipam-input.ts";
import type { StaticAddress } from "./types.ts";
import { requireFamily } from "./values.ts";

/** The top-level `gateway` (sloppy parser, as Go). Go drops an unparsable one after logging; we reject it. */
export function parseGateway(text: string | undefined): IP | undefined {
  if (text === undefined) return undefined;
  const gateway = parseIPSloppy(text);
  if (gateway === undefined) throw new ConfigError(`couldn't parse gateway IP: ${clip(text)}`);
  return unmapped(gateway);
}

function configAddress(input: AddressInput, i: number): StaticAddress {
  const text = input.address ?? "";
  const address = parseCidr(text);
  if (address === undefined)
    throw new ConfigError(`invalid CIDR in addresses ${clip(text)}: invalid CIDR address: ${clip(text)}`);
  if (input.gateway === undefined) return { address };
  const key = `addresses[${i}].gateway`;
  const parsed = parseIP(input.gateway);
  if (parsed === undefined)
    throw new ConfigError(`invalid ${key} ${quote(input.gateway)}: not an IP address`);
  const gateway = unmapped(parsed);
  requireFamily(key, input.gateway, gateway, address, { noun: "gateway", of: "address" });
  return { address, gateway };
}

/**
 * Static addresses in result order: config `addresses`, then CNI_ARGS `IP=`; then each `GATEWAY=`
 * is set on every address whose subnet contains it. Config errors are code 7, CNI_ARGS ones code 4.
 * An `IP=` address that is also `requested` (runtimeConfig ips) is left out: Multus passes a
 * network selection's `ips` both ways, and the requested one is allocated from the pool; returning
 * it again as a static address would report it twice.
 */
export function staticAddresses(
  inputs: readonly AddressInput[] | undefined,
  args: CniArgs,
  requested: readonly IP[] = [],
): StaticAddress[] {
  const out = (inputs ?? []).map(configAddress);
  for (const text of args.ips) {
    const address = parseCidr(text);
    if (address === undefined) throw argsError(`invalid CIDR ${text}: invalid CIDR address: ${text}`);
    const value = unmapped(ipOf(address));
    if (requested.some((r) => r.family === value.family && r.value === value.value)) continue;
    out.push({ address });
  }
  for (const text of args.gateways) {
    const parsed = parseIP(text);
    if (parsed === undefined) throw argsError(`invalid gateway address: ${text}`);
    const gateway = unmapped(parsed);
    for (const [i, entry] of out.entries()) {
      if (contains(entry.address, gateway)) out[i] = { ...entry, gateway };
    }
  }
  return out;
}

/** Result formats before 0.3.0 carry one ip4 and one ip6 entry (the CNI spec's 0.2.0 result). */
const SINGLE_ADDRESS_VERSIONS = ["", "0.1.0", "0.2.0"];

/**
 * Rejects configs whose result could not be converted to an old `cniVersion`. Unlike Go (static
 * addresses only) ranges count too: each yields one address of its family.
 */
export function checkAddressCount(
  cniVersion: string,
  ranges: readonly RangeRule[],
  addresses: readonly StaticAddress[],
): void {
  if (!SINGLE_ADDRESS_VERSIONS.includes(cniVersion)) return;
  const families = [...ranges.map((r) => r.range.family), ...addresses.map((a) => a.address.family)];
  for (const family of FAMILIES) {
    if (families.filter((f) => f === family).length > 1) {
      throw new ConfigError(`CNI version ${cniVersion} does not support more than 1 address per family`);
    }
  }
}
