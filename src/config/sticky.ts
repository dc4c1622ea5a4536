// The keys of addresses that follow the workload: sticky_addresses, reuse_cooldown_seconds and
// requested_ips_from_pod, checked after the merge (the flat file may set them for every network
// of a node, as any other key).
import { ConfigError } from "../errors/errors.ts";
import type { IpamInput } from "./ipam-input.ts";

/** A day: a longer cooldown would keep a small range exhausted for no reason a user could see. */
export const MAX_REUSE_COOLDOWN_SECONDS = 86_400;

export interface StickySettings {
  readonly stickyAddresses: boolean;
  readonly reuseCooldownSeconds: number;
  readonly requestedIpsFromPod: boolean;
}

function cooldownOf(seconds: number | undefined): number {
  if (seconds === undefined) return 0;
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_REUSE_COOLDOWN_SECONDS) {
    throw new ConfigError(
      `invalid reuse_cooldown_seconds ${seconds}: expected a whole number of seconds from 0 (reuse at once, the default) to ${MAX_REUSE_COOLDOWN_SECONDS}`,
    );
  }
  return seconds;
}

/**
 * Both pod-reading keys cost a pod GET on ADD, which needs Kubernetes access: without a
 * kubeconfig the plugin could not tell a StatefulSet's pod or read an annotation, and would
 * silently hand out ordinary addresses instead.
 */
function requireKubeconfig(ipam: IpamInput, key: string, why: string): void {
  if ((ipam.kubernetes.kubeconfig ?? "") !== "") return;
  throw new ConfigError(
    `${key} needs to read the pod (${why}) from Kubernetes: set kubernetes.kubeconfig, or remove ${key}`,
  );
}

export function parseStickySettings(ipam: IpamInput): StickySettings {
  const stickyAddresses = ipam.stickyAddresses ?? false;
  const requestedIpsFromPod = ipam.requestedIpsFromPod ?? false;
  const reuseCooldownSeconds = cooldownOf(ipam.reuseCooldownSeconds);
  if (stickyAddresses) requireKubeconfig(ipam, "sticky_addresses", "its StatefulSet or VM");
  if (requestedIpsFromPod)
    requireKubeconfig(ipam, "requested_ips_from_pod", "its thereabouts.io/ips annotation");
  return { stickyAddresses, reuseCooldownSeconds, requestedIpsFromPod };
}
