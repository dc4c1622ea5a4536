// `routes` and `dns` are returned in the CNI result as configured (static-IPAM syntax). They are
// rebuilt with the canonical key names Go emits (Go decodes them into cni types.Route / types.DNS
// and re-encodes, so keys match case-insensitively and unknown keys are dropped).
import { ConfigError } from "../errors/errors.ts";
import { quote } from "../errors/message.ts";
import { formatCidr, formatIP, parseCidr, parseIP } from "../ip/index.ts";
import type { DnsInput, RouteInput } from "./ipam-input.ts";
import { ROUTE_NUMBER_KEYS } from "./ipam-input.ts";
import type { Dns, Route } from "./types.ts";

function parseRoute(input: RouteInput, i: number): Route {
  const dstText = input.dst ?? "";
  const dst = parseCidr(dstText);
  if (dst === undefined) {
    throw new ConfigError(`invalid routes[${i}].dst ${quote(dstText)}: not a CIDR`);
  }
  // cni's types.ParseCIDR keeps the address as written (host bits included); Go re-encodes it canonically.
  const route: Record<string, string | number> = { dst: formatCidr(dst) };
  if (input.gw !== undefined) {
    const gw = parseIP(input.gw);
    if (gw === undefined)
      throw new ConfigError(`invalid routes[${i}].gw ${quote(input.gw)}: not an IP address`);
    route.gw = formatIP(gw);
  }
  for (const key of ROUTE_NUMBER_KEYS) {
    const value = input[key];
    if (value === undefined) continue;
    if (!Number.isInteger(value)) {
      throw new ConfigError(`invalid routes[${i}].${key} ${value}: not an integer`);
    }
    route[key] = value;
  }
  return route;
}

export function parseRoutes(inputs: readonly RouteInput[] | undefined): Route[] {
  return (inputs ?? []).map(parseRoute);
}

/** Keeps the non-empty DNS fields (Go's omitempty). */
export function parseDns(input: DnsInput): Dns {
  const dns: Record<string, string | readonly string[]> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value !== undefined) dns[key] = value;
  }
  return dns;
}
