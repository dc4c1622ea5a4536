// What the plugin prints: the ADD result in the config's version, the error object and the VERSION
// answer, byte for byte as the Go library prints them for Whereabouts (every result version from
// 0.1.0 to 1.1.0). Results are built once in the 1.x shape and converted on output, as PrintResult does.
import type { Dns, Route } from "../config/types.ts";
import { CNI_CODES, CniError } from "../errors/errors.ts";
import { MAX_MESSAGE_CHARS, shorten } from "../errors/message.ts";
import { type Cidr, type Family, formatCidr, formatIP, type IP, ipOf, unmapped } from "../ip/index.ts";
import {
  CURRENT_VERSION,
  incompatibleVersionError,
  isSupportedVersion,
  SUPPORTED_VERSIONS,
} from "./version.ts";

/** One address of the result. IPAM results carry no interface index. */
export interface ResultIP {
  /** The IP as allocated or written (host bits kept) with its prefix. */
  readonly address: Cidr;
  readonly gateway?: IP | undefined;
}

/**
 * The internal (1.x) result of an IPAM ADD, in typed values: text is written once, here. Routes
 * and DNS are the config's, validated when it was loaded.
 */
export interface IpamResult {
  readonly ips: readonly ResultIP[];
  readonly routes: readonly Route[];
  readonly dns: Dns;
}

type Json = Record<string, unknown>;

/**
 * Go's encoding/json text: 4-space indent when `indent` is given, compact otherwise, and `<`, `>`,
 * `&`, U+2028, U+2029 escaped (Go's default HTML-safe escaping; those characters only occur inside
 * strings, so the replacement never touches structure).
 */
export function goJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * The ADD output for `cniVersion` ("" reads as 0.1.0), pretty-printed, no trailing newline:
 * - 1.0.0/1.1.0: `{cniVersion, ips?: [{address, gateway?}], routes?, dns}`;
 * - 0.3.0/0.3.1/0.4.0: the same with `version` ("4"/"6") first in each ip;
 * - 0.1.0/0.2.0: `{cniVersion, ip4?, ip6?, dns}`, each `{ip, gateway?, routes?}` holding the first
 *   address of its family and the routes whose destination is of that family (dst and gw only).
 * Empty `ips`/`routes` are omitted; `dns` is always present (`{}` when empty), with only Go's four
 * DNS keys. IP text is written in Go's canonical form.
 * @throws CniError code 7 `cannot convert: no valid IP addresses` when a 0.1.0/0.2.0 result would
 * have no address (Go reports 999; it is the config that asks for a version unable to say "none"),
 * code 1 for an unsupported version.
 */
export function formatResult(result: IpamResult, cniVersion: string): string {
  const version = cniVersion === "" ? "0.1.0" : cniVersion;
  if (!isSupportedVersion(version)) throw incompatibleVersionError(version);
  const dns = goDns(result.dns);
  if (version === "0.1.0" || version === "0.2.0") {
    const out: Json = { cniVersion: version };
    for (const family of [4, 6] as const) {
      const first = result.ips.find((ip) => familyOf(ip.address) === family);
      if (first === undefined) continue;
      const routes = result.routes.filter((r) => familyOf(r.dst) === family);
      const ipConfig: Json = { ip: formatCidr(first.address) };
      if (first.gateway !== undefined) ipConfig["gateway"] = formatIP(first.gateway);
      if (routes.length > 0) ipConfig["routes"] = routes.map((r) => goRoute(r, false));
      out[`ip${family}`] = ipConfig;
    }
    if (out["ip4"] === undefined && out["ip6"] === undefined) {
      throw new CniError(CNI_CODES.invalidConfig, "cannot convert: no valid IP addresses");
    }
    out["dns"] = dns;
    return goJson(out, 4);
  }
  const withFamily = version.startsWith("0.");
  const out: Json = { cniVersion: version };
  if (result.ips.length > 0) {
    out["ips"] = result.ips.map((ip) => {
      const address = formatCidr(ip.address);
      // Go's struct order for IPConfig: version, interface, address, gateway.
      const entry: Json = withFamily ? { version: String(familyOf(ip.address)), address } : { address };
      if (ip.gateway !== undefined) entry["gateway"] = formatIP(ip.gateway);
      return entry;
    });
  }
  if (result.routes.length > 0) out["routes"] = result.routes.map((r) => goRoute(r, true));
  out["dns"] = dns;
  return goJson(out, 4);
}

/**
 * The error object on stdout: `{code, msg, details?}`, pretty-printed (Go omits `cniVersion`).
 * msg and details are cut at 4 KiB each, a last resort for a message that quotes too much (runtimes
 * copy it into events and logs).
 */
export function formatError(err: CniError): string {
  const out: Json = { code: err.code, msg: shorten(err.message, MAX_MESSAGE_CHARS) };
  if (err.details !== undefined && err.details !== "")
    out["details"] = shorten(err.details, MAX_MESSAGE_CHARS);
  return goJson(out, 4);
}

/** The VERSION answer: compact JSON and a newline, as Go's json.Encoder writes it. */
export function formatVersion(): string {
  return `${goJson({ cniVersion: CURRENT_VERSION, supportedVersions: SUPPORTED_VERSIONS })}\n`;
}

/** Go's `To4() != nil` on the prefix's address: an IPv4-mapped IPv6 address counts as IPv4. */
function familyOf(c: Cidr): Family {
  return unmapped(ipOf(c)).family;
}

/** Route fields Go omits when zero, then those it omits only when absent (pointers in Go). */
const ROUTE_NONZERO_KEYS = ["mtu", "advmss", "priority"] as const;
const ROUTE_OPTIONAL_KEYS = ["table", "scope"] as const;

/**
 * A route as Go's types.Route marshals it: dst, gw, mtu, advmss, priority, table, scope; zero
 * mtu/advmss/priority and absent table/scope omitted. Old (0.2.0) results keep dst and gw only.
 */
function goRoute(route: Route, full: boolean): Json {
  const out: Json = { dst: formatCidr(route.dst) };
  if (route.gw !== undefined) out["gw"] = formatIP(route.gw);
  if (!full) return out;
  for (const key of ROUTE_NONZERO_KEYS) {
    const value = route[key];
    if (value !== undefined && value !== 0) out[key] = value;
  }
  for (const key of ROUTE_OPTIONAL_KEYS) {
    const value = route[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

const DNS_KEYS = ["nameservers", "domain", "search", "options"] as const;

/** Go's types.DNS: nameservers, domain, search, options, in that order, each omitted when empty. */
function goDns(dns: Dns): Json {
  const out: Json = {};
  for (const key of DNS_KEYS) {
    const value = dns[key];
    if (value !== undefined && value.length > 0) out[key] = value;
  }
  return out;
}
