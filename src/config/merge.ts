// Stdin config + flat file: Go runs mergo.Merge without override, so
// every field left empty in stdin is filled from the flat file, nested objects field by field.
// Lists are taken whole (mergo does not merge slices element-wise).
import type { IpamInput } from "./ipam-input.ts";

function fill<T extends object>(stdin: T, flat: T): T {
  const out = { ...stdin } as Record<string, unknown>;
  for (const [key, value] of Object.entries(flat)) {
    if (out[key] === undefined) out[key] = value;
  }
  return out as T;
}

/**
 * Fills the empty fields of `stdin` from `flat`. `enable_overlapping_ranges` is never taken from the
 * flat file: Go saves the stdin value (default true) before merging and restores it after.
 */
export function mergeIpam(stdin: IpamInput, flat: IpamInput | undefined): IpamInput {
  if (flat === undefined) return stdin;
  return {
    ...fill(stdin, flat),
    enableOverlappingRanges: stdin.enableOverlappingRanges,
    dns: fill(stdin.dns, flat.dns),
    kubernetes: fill(stdin.kubernetes, flat.kubernetes),
    local: fill(stdin.local, flat.local),
    etcd: fill(stdin.etcd, flat.etcd),
  };
}
