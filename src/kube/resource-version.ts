// Comparing resourceVersions, for caches that hold their own writes until a watch brings them.

/**
 * Whether the version `seen` is at least `wanted`. The API's resourceVersions are etcd revisions
 * (decimal, increasing); any other form is only compared for equality.
 */
export function reached(seen: string, wanted: string): boolean {
  if (/^\d{1,30}$/.test(seen) && /^\d{1,30}$/.test(wanted)) return BigInt(seen) >= BigInt(wanted);
  return seen === wanted;
}
