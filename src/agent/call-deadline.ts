// Every call the agent serves is answered within its verb's limit, whatever the work does: a
// datastore that accepts and never answers, a lock that is never released. The plugin working
// alone has the same limits (ADD_TIMEOUT_MS, DEL_TIMEOUT_MS); the agent adds a margin so the
// work's own deadline normally fires first and gives the precise error. When the margin is spent
// too, the call is answered with code 11 (try again later) and the work is left to finish or fail
// on its own: it cannot be cancelled, but it no longer holds up the runtime. The plugin waits for
// the agent a little longer than the longest limit (AGENT_TIMEOUT_MS).
import { ADD_TIMEOUT_MS, DEL_TIMEOUT_MS } from "../cni/plugin.ts";
import type { Handlers } from "../cni/skel.ts";
import { CNI_CODES, CniError } from "../errors/errors.ts";

export const CALL_MARGIN_MS = 5_000;

/** How long the agent lets one call of this verb run. */
export type CallLimits = (verb: Verb) => number;

type Verb = Exclude<keyof Handlers, "failureLine">;

export const callLimits: CallLimits = (verb) =>
  (verb === "add" ? ADD_TIMEOUT_MS : DEL_TIMEOUT_MS) + CALL_MARGIN_MS;

/** Thrown in place of a call's answer when it outlives its limit. */
export class CallTimeoutError extends CniError {
  constructor(verb: string, ms: number) {
    super(
      CNI_CODES.tryAgainLater,
      `timed out: the node agent gave up waiting for this ${verb.toUpperCase()} after ${ms / 1000} s`,
      "the datastore did not answer in time; try again later",
    );
    this.name = "CallTimeoutError";
  }
}

/** The work's outcome, or CallTimeoutError when it is not there within `ms`. */
function within<R>(verb: Verb, ms: number, work: Promise<R>, expired: () => void): Promise<R> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired();
      reject(new CallTimeoutError(verb, ms));
    }, ms);
  });
  // The work's own outcome after the limit is nobody's to report.
  work.catch(() => {});
  return Promise.race([work, expiry]).finally(() => clearTimeout(timer));
}

/** Races every verb against its limit; `expired` hears of each call that outlived it. */
export function withDeadlines<R>(
  handlers: Handlers<R>,
  options: { limits?: CallLimits; expired?: () => void } = {},
): Handlers<R> {
  const limits = options.limits ?? callLimits;
  const expired = options.expired ?? (() => {});
  return {
    add: (req) => within("add", limits("add"), handlers.add(req), expired),
    del: (req) => within("del", limits("del"), handlers.del(req), expired),
    check: (req) => within("check", limits("check"), handlers.check(req), expired),
    gc: (req) => within("gc", limits("gc"), handlers.gc(req), expired),
    status: (req) => within("status", limits("status"), handlers.status(req), expired),
    failureLine: (command, error) => handlers.failureLine?.(command, error),
  };
}
