// `routes` and `dns` are returned in the CNI result as configured (static-IPAM syntax). Go decodes
// them into cni types.Route / types.DNS, so keys match case-insensitively and unknown keys are
// dropped; routes are validated here, once, and carried as typed values to the result.
import { ConfigError } from "../errors/errors.ts";
import { quote } from "../errors/message.ts";
import { parseCidr, parseIP } from "../ip/index.ts";
import type { RouteInput } from "./ipam-input.ts";
import { ROUTE_NUMBER_KEYS } from "./ipam-input.ts";
import type { Dns, Route } from "./types.ts";

function parseRoute(input: RouteInput, i: number): Route {
  const dstText = input.dst ?? "";
  const dst = parseCidr(dstText);
  if (dst === undefined) {
    throw new ConfigError(`invalid routes[${i}].dst ${quote(dstText)}: not a CIDR`);
  }
  const route: { -readonly [K in keyof Route]: Route[K] } = { dst };
  if (input.gw !== undefined) {
    const gw = parseIP(input.gw);
    if (gw === undefined)
      throw new ConfigError(`invalid routes[${i}].gw ${quote(input.gw)}: not an IP address`);
    route.gw = gw;
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

/** Keeps the fields that are set (the decoder already reads "" and [] as unset, Go's omitempty). */
export function parseDns(input: Dns): Dns {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined));
}
