// The loop both installer watchers run (the kubeconfig's credentials, the multus configuration):
// one look every `intervalMs` until `stopped`, with the clock passed in so tests move time.
import type { Clock } from "../ipam/retry.ts";

export interface Poll {
  readonly clock: Clock;
  readonly intervalMs: number;
  /** Resolves when the watch is to end (SIGTERM, SIGINT). */
  readonly stopped: Promise<unknown>;
}

/** Calls `look` after every interval until `stopped`; a look in progress is finished first. */
export async function pollUntilStopped(poll: Poll, look: () => void): Promise<void> {
  // A flag rather than the race's winner: with a clock whose sleeps are already over, the sleep
  // would win every race and the loop would never see the stop.
  let stopping = false;
  const stop = poll.stopped.then(() => {
    stopping = true;
  });
  for (;;) {
    await Promise.race([poll.clock.sleep(poll.intervalMs), stop]);
    if (stopping) return;
    look();
  }
}
