// The `ipam` object (from stdin or the flat file) decoded into typed, still unvalidated fields.
// Only JSON types are checked here; values are parsed after the merge. Go's zero values ("" and
// empty lists) read as absent, so "stdin wins unless empty" is simply `stdin ?? flat`.
import { type Fields, nested, nonEmpty, typeError } from "./decode.ts";
import type { JsonObject } from "./json-parse.ts";
import type { Dns } from "./types.ts";

export interface RangeInput {
  readonly range?: string;
  readonly rangeStart?: string;
  readonly rangeEnd?: string;
  readonly exclude?: readonly string[];
}

export interface AddressInput {
  readonly address?: string;
  readonly gateway?: string;
}

/** cni types.Route: the fields Go keeps (others are dropped when Go re-encodes the result). */
export interface RouteInput {
  readonly dst?: string;
  readonly gw?: string;
  readonly mtu?: number;
  readonly advmss?: number;
  readonly priority?: number;
  readonly table?: number;
  readonly scope?: number;
}
export const ROUTE_NUMBER_KEYS = ["mtu", "advmss", "priority", "table", "scope"] as const;

export interface IpamInput extends RangeInput {
  readonly type?: string;
  readonly ipRanges?: readonly RangeInput[];
  readonly gateway?: string;
  readonly networkName?: string;
  readonly enableOverlappingRanges?: boolean;
  readonly nodeSliceSize?: string;
  readonly configurationPath?: string;
  readonly logFile?: string;
  readonly logLevel?: string;
  readonly logFormat?: string;
  readonly reconcilerCronExpression?: string;
  readonly stickyAddresses?: boolean;
  readonly reuseCooldownSeconds?: number;
  readonly requestedIpsFromPod?: boolean;
  readonly addresses?: readonly AddressInput[];
  readonly routes?: readonly RouteInput[];
  /** Only JSON types are checked, which is all there is to check in cni types.DNS. */
  readonly dns: Dns;
  readonly datastore?: string;
  readonly kubernetes: { readonly kubeconfig?: string };
  readonly local: { readonly path?: string };
  readonly etcd: {
    /** etcd_host: one endpoint, a comma-separated list, or a JSON array of endpoints. */
    readonly host?: string | readonly string[];
    readonly username?: string;
    readonly password?: string;
    readonly keyFile?: string;
    readonly certFile?: string;
    readonly caCertFile?: string;
    readonly prefix?: string;
  };
}

/** Keys Go parses as integers that thereabouts accepts and ignores (no cluster-wide lease). */
const IGNORED_NUMBERS = [
  "leader_lease_duration",
  "leader_renew_deadline",
  "leader_retry_period",
  "sleep_for_race",
];

const str = (f: Fields, name: string) => nonEmpty(f.string(name));
const strs = (f: Fields, name: string) => nonEmpty(f.stringArray(name));

function decodeRange(f: Fields): RangeInput {
  return {
    range: str(f, "range"),
    rangeStart: str(f, "range_start"),
    rangeEnd: str(f, "range_end"),
    exclude: strs(f, "exclude"),
  };
}

function decodeNested<T>(parent: Fields, name: string, decode: (f: Fields) => T): T {
  const obj: JsonObject = parent.object(name) ?? {};
  return decode(nested(parent, name, obj));
}

function decodeList<T>(parent: Fields, name: string, decode: (f: Fields) => T): T[] | undefined {
  const list = nonEmpty(parent.objectArray(name));
  return list?.map((obj, i) => decode(nested(parent, `${name}[${i}]`, obj)));
}

function decodeRoute(f: Fields): RouteInput {
  const route: Record<string, number | string | undefined> = { dst: f.string("dst"), gw: str(f, "gw") };
  for (const key of ROUTE_NUMBER_KEYS) route[key] = f.number(key);
  return route as RouteInput;
}

function decodeEtcdHost(f: Fields): string | readonly string[] | undefined {
  const value = f.raw("etcd_host");
  if (value === undefined || typeof value === "string") return nonEmpty(value);
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return nonEmpty(value as string[]);
  throw typeError(f.label("etcd_host"), "a string or an array of strings", value, f.quoteValues);
}

/** Decodes an `ipam` object. Throws ConfigError naming the key when a value has the wrong JSON type. */
export function decodeIpam(f: Fields): IpamInput {
  for (const name of IGNORED_NUMBERS) f.numberOrString(name);
  return {
    type: str(f, "type"),
    ...decodeRange(f),
    ipRanges: decodeList(f, "ipRanges", decodeRange),
    gateway: str(f, "gateway"),
    networkName: str(f, "network_name"),
    enableOverlappingRanges: f.boolean("enable_overlapping_ranges"),
    nodeSliceSize: str(f, "node_slice_size"),
    configurationPath: str(f, "configuration_path"),
    logFile: str(f, "log_file"),
    logLevel: str(f, "log_level"),
    logFormat: str(f, "log_format"),
    reconcilerCronExpression: str(f, "reconciler_cron_expression"),
    stickyAddresses: f.boolean("sticky_addresses"),
    reuseCooldownSeconds: f.number("reuse_cooldown_seconds"),
    requestedIpsFromPod: f.boolean("requested_ips_from_pod"),
    addresses: decodeList(f, "addresses", (a) => ({
      address: a.string("address"),
      gateway: str(a, "gateway"),
    })),
    routes: decodeList(f, "routes", decodeRoute),
    dns: decodeNested(f, "dns", (d) => ({
      nameservers: strs(d, "nameservers"),
      domain: str(d, "domain"),
      search: strs(d, "search"),
      options: strs(d, "options"),
    })),
    datastore: str(f, "datastore"),
    kubernetes: decodeNested(f, "kubernetes", (k) => {
      k.numberOrString("k8s_api_root"); // accepted, unused (as in Go)
      return { kubeconfig: str(k, "kubeconfig") };
    }),
    local: decodeNested(f, "local", (l) => ({ path: str(l, "path") })),
    etcd: {
      host: decodeEtcdHost(f),
      username: str(f, "etcd_username"),
      password: str(f, "etcd_password"),
      keyFile: str(f, "etcd_key_file"),
      certFile: str(f, "etcd_cert_file"),
      caCertFile: str(f, "etcd_ca_cert_file"),
      prefix: str(f, "etcd_prefix"),
    },
  };
}
