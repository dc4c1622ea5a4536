import assert from "node:assert/strict";
import { test } from "node:test";
import { ADD_TIMEOUT_MS, DEL_TIMEOUT_MS } from "./plugin.ts";
import { startWatchdog, WATCHDOG_MARGIN_MS, watchdogMs } from "./watchdog.ts";

function sinks() {
  const out = { stdout: "", stderr: "", exits: [] as number[] };
  return {
    out,
    io: {
      stdout: (t: string) => {
        out.stdout += t;
      },
      stderr: (t: string) => {
        out.stderr += t;
      },
    },
    exit: (code: number) => {
      out.exits.push(code);
    },
  };
}

test("watchdogMs() is the verb's own deadline plus the margin", () => {
  assert.equal(watchdogMs("ADD"), ADD_TIMEOUT_MS + WATCHDOG_MARGIN_MS);
  for (const verb of ["DEL", "CHECK", "GC", "STATUS"])
    assert.equal(watchdogMs(verb), DEL_TIMEOUT_MS + WATCHDOG_MARGIN_MS);
});

test("a call still running at the watchdog's time gets a code 11 error and exit 1", async () => {
  const { out, io, exit } = sinks();
  startWatchdog("ADD", io, exit, 30);
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.deepEqual(out.exits, [1]);
  assert.deepEqual(JSON.parse(out.stdout), {
    code: 11,
    msg: "CNI ADD did not finish within 30 ms; the plugin gave up",
  });
  assert.equal(
    out.stderr,
    "CNI ADD failed (code 11): CNI ADD did not finish within 30 ms; the plugin gave up\n",
  );
});

test("a call that finishes in time disarms the watchdog: nothing written, no exit", async () => {
  const { out, io, exit } = sinks();
  const disarm = startWatchdog("DEL", io, exit, 30);
  disarm();
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.deepEqual([out.stdout, out.stderr, out.exits], ["", "", []]);
});
