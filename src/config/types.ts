// The parsed, validated IPAM configuration: what every later stage consumes. Produced only by
// loadIpamConfig (config/load.ts); nothing downstream re-parses text.
import type { RangeRule } from "../allocator/assign.ts";
import type { Cidr, IP } from "../ip/index.ts";
import type { StoreSettings } from "../store/settings.ts";
import type { NodeSliceSettings } from "./node-slices.ts";

export const LOG_LEVELS = ["debug", "verbose", "error", "panic"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How log lines are written: Whereabouts' `<time> [<level>] <message>`, or one JSON object per line. */
export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * A range after normalisation (config/range.ts): masked CIDR, bounds, excludes. `start` is
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
 * A configured route as the result carries it (cni types.Route): only Go's fields, dst and gw
 * validated, the numbers integers as configured (the result leaves out Go's zero values).
 */
export interface Route {
  /** As written (host bits kept), as cni's ParseCIDR keeps it. */
  readonly dst: Cidr;
  readonly gw?: IP;
  readonly mtu?: number;
  readonly advmss?: number;
  readonly priority?: number;
  readonly table?: number;
  readonly scope?: number;
}

/** cni types.DNS, with empty fields left out. */
export interface Dns {
  readonly nameservers?: readonly string[];
  readonly domain?: string;
  readonly search?: readonly string[];
  readonly options?: readonly string[];
}

/**
 * What the plugin, the agent, `status` and the controller use of a network's IPAM config: the store
 * settings (datastore, local, kubernetes, etcd) and everything else the verbs use. Keys that are
 * accepted but used by nothing (reconciler_cron_expression in a network
 * configuration, leader_*, configuration_path once the flat file is read (unless node slices need it), CNI_ARGS
 * K8S_POD_INFRA_CONTAINER_ID) are checked when loaded and kept nowhere (CNI_ARGS K8S_POD_UID is read
 * by the ADD that looks its pod up, from the request).
 */
export interface IpamConfig extends StoreSettings {
  /** Network name (top-level `name`). */
  readonly name: string;
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
  readonly logFormat: LogFormat;
  /**
   * `sticky_addresses`: a StatefulSet's pods and KubeVirt's virt-launcher pods keep their address
   * (entries carry the pod's owner, and DEL parks them instead of releasing them).
   */
  readonly stickyAddresses: boolean;
  /** `reuse_cooldown_seconds` (0..86400): how long a released address is not handed out again. */
  readonly reuseCooldownSeconds: number;
  /**
   * `node_slice_size`: allocate from this node's slices of the (single) range, as listed in the
   * network's NodeSlicePool (config/node-slices.ts, docs/node-slices.md). Absent: the whole range.
   */
  readonly nodeSlices?: NodeSliceSettings;
  /** `requested_ips_from_pod`: read requested addresses from the pod's thereabouts.io/ips annotation. */
  readonly requestedIpsFromPod: boolean;
  /**
   * Requested addresses of this request (runtimeConfig `ips`), parsed; empty when none. The prefix,
   * if given, is dropped. ADD matches them to ranges (allocator/requested.ts: requestedPerRange).
   */
  readonly requested: readonly IP[];
  /** From CNI_ARGS. ref = `<namespace>/<name>` (even when the namespace is empty, as Go). */
  readonly pod: {
    readonly name: string;
    readonly ref: string;
  };
}

export const DEFAULT_LOCAL_PATH = "/var/lib/cni/thereabouts/store.db";
export const DEFAULT_ETCD_PREFIX = "/thereabouts";
