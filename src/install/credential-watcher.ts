// Keeps the plugin's kubeconfig current. Projected ServiceAccount tokens rotate (kubelet renews
// them hourly) and a CA bundle can be replaced, but the plugin runs on the host and only knows the
// copy in the kubeconfig. Token and CA are re-read every second and the kubeconfig is rewritten on
// a change, so it is never more than about a second behind. A file that cannot be read keeps the
// kubeconfig as it is (the old token usually stays valid a while) and is logged once, not every
// second, until it reads again. The kubeconfig itself is looked at too: another writer (Go's
// token-watcher.sh while Go's DaemonSet still runs during a migration, a person) may have
// replaced or removed it, and the plugin would then call the API with a token whose
// permissions are not ours; it is put back within the same second. The clock is passed in, so
// tests move time themselves.
import { describe } from "../errors/errors.ts";
import type { Clock } from "../ipam/retry.ts";
import type { Credentials } from "./credentials.ts";
import { pollUntilStopped } from "./poll.ts";

export const WATCH_INTERVAL_MS = 1000;

export interface CredentialWatch {
  readonly clock: Clock;
  readonly intervalMs?: number;
  /** The current token and CA; throws when they cannot be read. */
  read(): Credentials;
  /** Rewrites the kubeconfig with these credentials. */
  rewrite(credentials: Credentials): void;
  /** Whether the kubeconfig on disk is no longer what these credentials make (changed or gone). */
  drifted?(credentials: Credentials): boolean;
  log(line: string): void;
  /** Resolves when the watch is to end (SIGTERM, SIGINT). */
  readonly stopped: Promise<unknown>;
}

/**
 * What differs, as a log line says it ("token", "CA", "token and CA"; "the file" when another
 * writer changed the kubeconfig); undefined: nothing.
 */
export function credentialChange(before: Credentials, after: Credentials): string | undefined {
  const token = before.token !== after.token;
  const ca = before.ca !== after.ca;
  if (token && ca) return "token and CA";
  if (token) return "token";
  if (ca) return "CA";
  return undefined;
}

/** Runs until `stopped`; `written` is what the kubeconfig holds now. */
export async function watchCredentials(written: Credentials, watch: CredentialWatch): Promise<void> {
  const interval = watch.intervalMs ?? WATCH_INTERVAL_MS;
  let current = written;
  /** The failure last logged, so a lasting one is logged once. */
  let failing: string | undefined;
  const fail = (line: string) => {
    if (line !== failing) watch.log(line);
    failing = line;
  };
  await pollUntilStopped({ clock: watch.clock, intervalMs: interval, stopped: watch.stopped }, () => {
    let next: Credentials;
    try {
      next = watch.read();
    } catch (error) {
      fail(`kubeconfig kept: ${describe(error)}`);
      return;
    }
    const change =
      credentialChange(current, next) ?? (watch.drifted?.(next) === true ? "the file" : undefined);
    if (change !== undefined) {
      try {
        watch.rewrite(next);
      } catch (error) {
        fail(`kubeconfig not rewritten (${change} changed): ${describe(error)}`);
        return;
      }
      current = next;
      watch.log(`kubeconfig rewritten: ${change} changed`);
    } else if (failing !== undefined) {
      watch.log("token and CA readable again, kubeconfig unchanged");
    }
    failing = undefined;
  });
}
