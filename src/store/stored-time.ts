// Times the cluster stores record as text (an entry's parkedat, a pool's release records): RFC 3339
// in UTC with milliseconds, as Kubernetes writes its own times, so `kubectl get -o yaml` reads
// them and etcdctl output needs no decoding.

/** ms since the epoch → `2026-01-01T00:00:00.000Z`. */
export function storedTime(ms: number): string {
  return new Date(ms).toISOString();
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 time → ms since the epoch; undefined for anything else. */
export function parseStoredTime(value: unknown): number | undefined {
  if (typeof value !== "string" || !RFC3339.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}
