// The kubeconfig watcher on a virtual clock: the token and CA are scripted as functions of time,
// and every rewrite and log line is recorded with the time it happened.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VirtualClock } from "../ipam/test-support.ts";
import { credentialChange, watchCredentials } from "./credential-watcher.ts";
import type { Credentials } from "./credentials.ts";

interface Timeline {
  /** The credentials on disk at `t` ms after the start; throws while they cannot be read. */
  at(t: number): Credentials;
  /** When the watch is stopped. */
  stopAt: number;
  /** Rewrites that fail, by time. */
  failingWrites?: ReadonlySet<number>;
  /** When another writer replaces the kubeconfig (it stays replaced until rewritten). */
  overwrittenAt?: readonly number[];
}

async function watchTimeline(timeline: Timeline) {
  const clock = new VirtualClock();
  const start = clock.now();
  const t = () => clock.now() - start;
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const rewrites: { at: number; credentials: Credentials }[] = [];
  const logs: string[] = [];
  const reads: number[] = [];
  let onDisk = timeline.at(0);
  let foreign = false;
  await watchCredentials(timeline.at(0), {
    clock,
    read: () => {
      reads.push(t());
      if (t() >= timeline.stopAt) stop();
      return timeline.at(t());
    },
    rewrite: (credentials) => {
      if (timeline.failingWrites?.has(t())) throw new Error("ENOSPC: no space left on device");
      rewrites.push({ at: t(), credentials });
      onDisk = credentials;
      foreign = false;
    },
    drifted: (credentials) => {
      if (timeline.overwrittenAt?.some((at) => at <= t() && at > (rewrites.at(-1)?.at ?? -1))) foreign = true;
      return foreign || credentialChange(onDisk, credentials) !== undefined;
    },
    log: (line) => logs.push(`${t()} ${line}`),
    stopped,
  });
  return { rewrites, logs, reads, sleeps: clock.sleeps };
}

describe("the kubeconfig watcher", () => {
  it("rewrites within a second of a token or CA change, and only then", async () => {
    const { rewrites, logs, reads, sleeps } = await watchTimeline({
      at: (t) => ({ token: t < 3_200 ? "t1" : t < 12_300 ? "t2" : "t3", ca: t < 14_999 ? "ca1" : "ca2" }),
      stopAt: 20_000,
    });
    assert.ok(
      sleeps.every((ms) => ms === 1000),
      "polls every second",
    );
    assert.deepEqual(
      reads,
      Array.from({ length: 20 }, (_, i) => (i + 1) * 1000),
    );
    assert.deepEqual(rewrites, [
      { at: 4_000, credentials: { token: "t2", ca: "ca1" } },
      { at: 13_000, credentials: { token: "t3", ca: "ca1" } },
      { at: 15_000, credentials: { token: "t3", ca: "ca2" } },
    ]);
    assert.deepEqual(logs, [
      "4000 kubeconfig rewritten: token changed",
      "13000 kubeconfig rewritten: token changed",
      "15000 kubeconfig rewritten: CA changed",
    ]);
  });

  it("puts the kubeconfig back within a second when another writer replaced it", async () => {
    const { rewrites, logs } = await watchTimeline({
      at: () => ({ token: "t1", ca: "ca1" }),
      overwrittenAt: [2_500, 7_001],
      stopAt: 10_000,
    });
    assert.deepEqual(
      rewrites.map((r) => r.at),
      [3_000, 8_000],
    );
    assert.deepEqual(logs, [
      "3000 kubeconfig rewritten: the file changed",
      "8000 kubeconfig rewritten: the file changed",
    ]);
  });

  it("a file that cannot be read keeps the kubeconfig and is logged once, until it reads again", async () => {
    const { rewrites, logs } = await watchTimeline({
      at: (t) => {
        if (t >= 2_500 && t < 7_000)
          throw new Error("cannot read the ServiceAccount token /sa/token: permission denied");
        return { token: t < 5_000 ? "t1" : "t2", ca: "ca" };
      },
      stopAt: 12_000,
    });
    assert.deepEqual(rewrites, [{ at: 7_000, credentials: { token: "t2", ca: "ca" } }]);
    assert.deepEqual(logs, [
      "3000 kubeconfig kept: cannot read the ServiceAccount token /sa/token: permission denied",
      "7000 kubeconfig rewritten: token changed",
    ]);
  });

  it("a recovery without a change says so; a failed rewrite is retried at the next tick", async () => {
    const recovered = await watchTimeline({
      at: (t) => {
        if (t === 2_000)
          throw new Error("cannot read the API server's CA certificate /sa/ca.crt: no such file");
        return { token: "t1", ca: "ca" };
      },
      stopAt: 4_000,
    });
    assert.deepEqual(recovered.rewrites, []);
    assert.deepEqual(recovered.logs, [
      "2000 kubeconfig kept: cannot read the API server's CA certificate /sa/ca.crt: no such file",
      "3000 token and CA readable again, kubeconfig unchanged",
    ]);

    const retried = await watchTimeline({
      at: (t) => ({ token: t < 1_500 ? "t1" : "t2", ca: t < 1_500 ? "ca1" : "ca2" }),
      stopAt: 5_000,
      failingWrites: new Set([2_000, 3_000]),
    });
    assert.deepEqual(retried.rewrites, [{ at: 4_000, credentials: { token: "t2", ca: "ca2" } }]);
    assert.deepEqual(retried.logs, [
      "2000 kubeconfig not rewritten (token and CA changed): ENOSPC: no space left on device",
      "4000 kubeconfig rewritten: token and CA changed",
    ]);
  });

  it("stops at once when stopped before the first tick", async () => {
    const clock = new VirtualClock();
    let reads = 0;
    await watchCredentials(
      { token: "t", ca: undefined },
      {
        clock,
        read: () => {
          reads++;
          return { token: "t", ca: undefined };
        },
        rewrite: () => assert.fail("no rewrite"),
        log: () => assert.fail("no log"),
        stopped: Promise.resolve(),
      },
    );
    assert.equal(reads, 0);
  });

  it("names what changed", () => {
    const a = { token: "a", ca: "x" };
    assert.equal(credentialChange(a, { ...a }), undefined);
    assert.equal(credentialChange(a, { ...a, token: "b" }), "token");
    assert.equal(credentialChange(a, { ...a, ca: undefined }), "CA");
    assert.equal(credentialChange(a, { token: "b", ca: "y" }), "token and CA");
  });
});
