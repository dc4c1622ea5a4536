// The `k8s.v1.cni.cncf.io/network-status` annotation: one entry per attachment (per sandbox
// interface of its result), master first, in the exact text Multus writes — each element
// pretty-printed with a 4-space indent, joined by `,` inside `[` `]` — because tools compare it.
import { goJson } from "../cni/result.ts";
import type { Json, JsonObject } from "../config/json-parse.ts";
import { parseCidr } from "../ip/index.ts";
import type { CurrentResult } from "./cni-result.ts";

export const NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status";

export interface NetworkStatus {
  readonly name: string;
  readonly interface?: string;
  readonly ips?: readonly string[];
  readonly mac?: string;
  readonly mtu?: number;
  readonly default?: boolean;
  readonly dns: JsonObject;
  readonly gateway?: readonly string[];
}

const DEFAULT_DSTS = new Set(["0.0.0.0/0", "::/0", "::0/0"]);

/** The bare address of `a.b.c.d/n` (a bare IP stays as it is). */
function bareIp(address: string): string {
  const slash = address.indexOf("/");
  return slash < 0 ? address : address.slice(0, slash);
}

/**
 * The entries of one attachment's result. One interface in the result: one entry with all IPs;
 * otherwise one entry per interface with a sandbox, IPs by their interface index (IPs without one
 * go to the last sandbox interface). Gateways are the next hops of the default routes. For the
 * master, `default` goes to the interface of the first IP with a gateway, else the first entry.
 */
export function statusEntries(displayName: string, result: CurrentResult, master: boolean): NetworkStatus[] {
  const gateway = result.routes
    .filter((r) => r["dst"] === undefined || r["dst"] === "" || DEFAULT_DSTS.has(normalizedDst(r["dst"])))
    .map((r) => r["gw"])
    .filter((gw): gw is string => typeof gw === "string" && gw !== "");
  const dns = dnsOf(result.dns);
  const extra = (entry: Partial<NetworkStatus>): NetworkStatus =>
    compact({ name: displayName, ...entry, dns, gateway: gateway.length > 0 ? gateway : undefined });
  if (result.interfaces.length === 1) {
    const iface = result.interfaces[0]!;
    const sandboxed = iface.sandbox !== undefined && iface.sandbox !== "";
    return [
      extra({
        interface: sandboxed ? iface.name : undefined,
        ips: result.ips.map((ip) => bareIp(ip.address)),
        mac: sandboxed ? iface.mac : undefined,
        mtu: sandboxed ? iface.mtu : undefined,
        default: master || undefined,
      }),
    ];
  }
  const sandboxIdx = result.interfaces.flatMap((i, idx) =>
    i.sandbox !== undefined && i.sandbox !== "" ? [idx] : [],
  );
  if (sandboxIdx.length === 0) return [];
  const last = sandboxIdx[sandboxIdx.length - 1]!;
  const ipsOf = new Map<number, string[]>(sandboxIdx.map((i) => [i, []]));
  let defaultIdx: number | undefined;
  for (const ip of result.ips) {
    const idx = ip.interface !== undefined && ipsOf.has(ip.interface) ? ip.interface : last;
    ipsOf.get(idx)!.push(bareIp(ip.address));
    if (defaultIdx === undefined && ip.gateway !== undefined && ip.interface !== undefined)
      defaultIdx = ip.interface;
  }
  defaultIdx ??= sandboxIdx[0];
  return sandboxIdx.map((idx) => {
    const iface = result.interfaces[idx]!;
    return extra({
      interface: iface.name,
      ips: ipsOf.get(idx)!,
      mac: iface.mac,
      mtu: iface.mtu,
      default: (master && idx === defaultIdx) || undefined,
    });
  });
}

function normalizedDst(dst: Json | undefined): string {
  if (typeof dst !== "string") return "";
  const cidr = parseCidr(dst);
  if (cidr === undefined) return dst;
  return cidr.prefix === 0 ? (cidr.family === 4 ? "0.0.0.0/0" : "::/0") : dst;
}

const DNS_KEYS = ["nameservers", "domain", "search", "options"] as const;

function dnsOf(dns: JsonObject): JsonObject {
  const out: Record<string, Json> = {};
  for (const key of DNS_KEYS) {
    const v = dns[key];
    if (v !== undefined && v !== null && v !== "" && !(Array.isArray(v) && v.length === 0)) out[key] = v;
  }
  return out;
}

/** Omits empty fields in Go's order: name, interface, ips, mac, mtu, default, dns, gateway. */
function compact(entry: NetworkStatus): NetworkStatus {
  const out: Record<string, unknown> = { name: entry.name };
  if (entry.interface) out["interface"] = entry.interface;
  if (entry.ips !== undefined && entry.ips.length > 0) out["ips"] = entry.ips;
  if (entry.mac) out["mac"] = entry.mac;
  if (entry.mtu) out["mtu"] = entry.mtu;
  if (entry.default) out["default"] = true;
  out["dns"] = entry.dns;
  if (entry.gateway !== undefined && entry.gateway.length > 0) out["gateway"] = entry.gateway;
  return out as unknown as NetworkStatus;
}

/** The annotation's value: each entry with a 4-space indent, joined by `,` inside `[` `]`. */
export function formatNetworkStatus(entries: readonly NetworkStatus[]): string {
  return `[${entries.map((e) => goJson(e, 4)).join(",")}]`;
}
