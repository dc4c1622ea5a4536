// The parsed, validated IPAM configuration: what every later stage consumes. Produced only by
// loadIpamConfig (config/load.ts); nothing downstream re-parses text.
import type { RangeRule } from "../allocator/assign.ts";
import type { Cidr, IP } from "../ip/index.ts";
import type { StoreSettings } from "../store/settings.ts";

export const LOG_LEVELS = ["debug", "verbose", "error", "panic"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const IPAM_TYPES = ["whereabouts", "thereabouts"] as const;
export type IpamType = (typeof IPAM_TYPES)[number];

/**
 * A range after normalisation (whereabouts-spec.md §2.4): masked CIDR, bounds, excludes. `start` is
 * always set (the network address when none was configured, as Go does; the candidate window skips
 * it); `end` only when configured. Bounds outside the usable window are kept, and ignored there.
 */
export type IpRange = RangeRule;

export interface StaticAddress {
  /** As written (address keeps host bits, e.g. 10.10.0.1/24). */
  readonly address: Cidr;
  readonly gateway?: IP;
}

/**
 * Routes and DNS as the result carries them (static-IPAM syntax), rebuilt with Go's key names:
 * routes `{dst, gw?, mtu?, advmss?, priority?, table?, scope?}` (dst and gw validated, in Go's text
 * form), dns `{nameservers?, domain?, search?, options?}` with empty fields left out.
 */
export type Route = Readonly<Record<string, unknown>>;
export type Dns = Readonly<Record<string, unknown>>;

/** The store settings (datastore, local, kubernetes, etcd) and everything else the verbs use. */
export interface IpamConfig extends StoreSettings {
  /** Network name (top-level `name`) and the requested CNI version. */
  readonly name: string;
  readonly cniVersion: string;
  readonly type: IpamType;
  /** Top-level `range` first, then `ipRanges`. May be empty (only static addresses are returned). */
  readonly ranges: readonly IpRange[];
  /** Top-level `gateway` (sloppy parser); may be of either family, so dual-stack configs share one key. */
  readonly gateway?: IP;
  readonly networkName: string;
  readonly enableOverlappingRanges: boolean;
  /** Static `addresses`, then CNI_ARGS `IP=` entries; CNI_ARGS `GATEWAY=` already applied. */
  readonly addresses: readonly StaticAddress[];
  readonly routes: readonly Route[];
  readonly dns: Dns;
  readonly logFile: string;
  readonly logLevel: LogLevel;
  readonly configurationPath: string;
  /** "/N" or "N" as written (1 ≤ N ≤ 128), "" when Fast IPAM is off. */
  readonly nodeSliceSize: string;
  readonly reconcilerCronExpression: string;
  /** From CNI_ARGS. podRef = `<namespace>/<name>` (even when the namespace is empty, as Go). */
  readonly pod: {
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
    readonly ref: string;
  };
}

export const DEFAULT_LOCAL_PATH = "/var/lib/cni/thereabouts/store.db";
export const DEFAULT_ETCD_PREFIX = "/thereabouts";
