// A delegate's result, whatever version it printed, read into the 1.x shape (interfaces, ips,
// routes, dns), and written back in the version the runtime asked for: Multus returns the master's
// result, and the runtime must get the version of the configuration it passed. Fields are Go's
// types (unknown keys dropped), in Go's struct order, as libcni's converters produce them.

import { goJson } from "../cni/result.ts";
import { incompatibleVersionError, isSupportedVersion, normalizeVersion } from "../cni/version.ts";
import { isJsonObject, type Json, type JsonObject } from "../config/json-parse.ts";
import { CNI_CODES, CniError } from "../errors/errors.ts";
import { ipOf, parseCidr, parseIP, unmapped } from "../ip/index.ts";

export interface ResultInterface {
  readonly name: string;
  readonly mac?: string;
  readonly mtu?: number;
  readonly sandbox?: string;
  readonly socketPath?: string;
  readonly pciID?: string;
}

export interface ResultIPConfig {
  readonly interface?: number;
  readonly address: string;
  readonly gateway?: string;
}

export interface CurrentResult {
  readonly interfaces: readonly ResultInterface[];
  readonly ips: readonly ResultIPConfig[];
  readonly routes: readonly JsonObject[];
  readonly dns: JsonObject;
}

const str = (o: JsonObject, k: string): string | undefined =>
  typeof o[k] === "string" ? (o[k] as string) : undefined;
const num = (o: JsonObject, k: string): number | undefined =>
  typeof o[k] === "number" ? (o[k] as number) : undefined;
const objects = (v: Json | undefined): JsonObject[] => (Array.isArray(v) ? v.filter(isJsonObject) : []);

function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== "")) as T;
}

/** Reads any version's result (0.1.0/0.2.0 `ip4`/`ip6`, 0.3.x/0.4.0 and 1.x `interfaces`/`ips`). */
export function readResult(value: JsonObject): CurrentResult {
  const dns = isJsonObject(value["dns"] ?? null) ? (value["dns"] as JsonObject) : {};
  const version = normalizeVersion(str(value, "cniVersion") ?? "");
  if (version === "0.1.0" || version === "0.2.0") {
    const ips: ResultIPConfig[] = [];
    const routes: JsonObject[] = [];
    for (const key of ["ip4", "ip6"]) {
      const ip = value[key];
      if (!isJsonObject(ip ?? null)) continue;
      const o = ip as JsonObject;
      ips.push(defined({ address: str(o, "ip") ?? "", gateway: str(o, "gateway") }));
      routes.push(...objects(o["routes"]));
    }
    return { interfaces: [], ips, routes, dns };
  }
  return {
    interfaces: objects(value["interfaces"]).map((i) =>
      defined({
        name: str(i, "name") ?? "",
        mac: str(i, "mac"),
        mtu: num(i, "mtu") === 0 ? undefined : num(i, "mtu"),
        sandbox: str(i, "sandbox"),
        socketPath: str(i, "socketPath"),
        pciID: str(i, "pciID"),
      }),
    ),
    ips: objects(value["ips"]).map((ip) =>
      defined({
        interface: num(ip, "interface"),
        address: str(ip, "address") ?? "",
        gateway: str(ip, "gateway"),
      }),
    ),
    routes: objects(value["routes"]),
    dns,
  };
}

function familyOf(address: string): 4 | 6 | undefined {
  const cidr = parseCidr(address);
  return cidr === undefined ? parseIP(address)?.family : unmapped(ipOf(cidr)).family;
}

const DNS_KEYS = ["nameservers", "domain", "search", "options"] as const;

function goDns(dns: JsonObject): JsonObject {
  const out: Record<string, Json> = {};
  for (const key of DNS_KEYS) {
    const v = dns[key];
    if (v !== undefined && v !== null && v !== "" && !(Array.isArray(v) && v.length === 0)) out[key] = v;
  }
  return out;
}

/**
 * The result in `cniVersion` as the runtime reads it (pretty-printed as the CNI library prints).
 * @throws CniError code 7 when a 0.1.0/0.2.0 result would have no address; code 1 for an
 * unsupported version.
 */
export function formatCurrentResult(result: CurrentResult, cniVersion: string): string {
  return goJson(convertResult(result, cniVersion), 4);
}

export function convertResult(result: CurrentResult, cniVersion: string): JsonObject {
  const version = normalizeVersion(cniVersion);
  if (!isSupportedVersion(version)) throw incompatibleVersionError(version);
  if (version === "0.1.0" || version === "0.2.0") {
    const out: Record<string, Json> = { cniVersion: version };
    for (const family of [4, 6] as const) {
      const first = result.ips.find((ip) => familyOf(ip.address) === family);
      if (first === undefined) continue;
      const routes = result.routes.filter(
        (r) => typeof r["dst"] === "string" && familyOf(r["dst"]) === family,
      );
      const ip: Record<string, Json> = { ip: first.address };
      if (first.gateway !== undefined) ip["gateway"] = first.gateway;
      if (routes.length > 0)
        ip["routes"] = routes.map(
          (r) => defined({ dst: r["dst"] as string, gw: r["gw"] as string | undefined }) as JsonObject,
        );
      out[`ip${family}`] = ip;
    }
    if (out["ip4"] === undefined && out["ip6"] === undefined) {
      throw new CniError(CNI_CODES.invalidConfig, "cannot convert: no valid IP addresses");
    }
    out["dns"] = goDns(result.dns);
    return out;
  }
  const withFamily = version.startsWith("0.");
  const out: Record<string, Json> = { cniVersion: version };
  if (result.interfaces.length > 0) out["interfaces"] = result.interfaces.map((i) => ({ ...i }));
  if (result.ips.length > 0) {
    out["ips"] = result.ips.map((ip) => {
      const entry: Record<string, Json> = withFamily ? { version: String(familyOf(ip.address) ?? 4) } : {};
      if (ip.interface !== undefined) entry["interface"] = ip.interface;
      entry["address"] = ip.address;
      if (ip.gateway !== undefined) entry["gateway"] = ip.gateway;
      return entry;
    });
  }
  if (result.routes.length > 0) out["routes"] = result.routes;
  out["dns"] = goDns(result.dns);
  return out;
}

/**
 * What ADD answers for a pod that no longer exists (the runtime is tearing the sandbox down):
 * the interface it asked for and the address 0.0.0.0/0, so the runtime has a well-formed result.
 */
export function placeholderResult(ifName: string, netns: string): CurrentResult {
  return {
    interfaces: [{ name: ifName, sandbox: netns }],
    ips: [{ interface: 0, address: "0.0.0.0/0", gateway: "0.0.0.0" }],
    routes: [],
    dns: {},
  };
}
