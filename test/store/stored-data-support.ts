// Process-level checks shared by the stored-data tests of every datastore: what the runtime (and
// an operator running `thereabouts status`) sees when a pool's stored data does not match the
// network configuration.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PluginOutcome } from "../../src/cli/exec-plugin.ts";
import { add, assertCleanOutcome, BINARY, del, podArgs, run } from "../support/plugin.ts";

/** The CNI error of a failed call, asserted clean (exit 1, error JSON, no stack trace). */
export function failure(o: PluginOutcome, what: string): { code: number; msg: string } {
  assertCleanOutcome(o, what);
  assert.equal(o.code, 1, `${what} failed: ${o.stdout}`);
  return JSON.parse(o.stdout) as { code: number; msg: string };
}

function refusedWith(o: PluginOutcome, what: string, message: RegExp): void {
  const error = failure(o, what);
  assert.equal(error.code, 5, `${what}: code 5 (stored data), got ${o.stdout}`);
  assert.match(error.msg, message, what);
}

export interface Holder {
  readonly pod: string;
  readonly containerId: string;
}

/**
 * ADD (of a new pod), DEL and CHECK (of `held`, which holds an address in the pool) — and GC where
 * the datastore is the embedded one, since shared stores leave GC to the controller — all fail
 * with code 5 and `message`, as does `thereabouts status` for the network. `config` is a CNI
 * 1.1.0 network configuration; `env` routes the calls (alone, or to an agent).
 */
export async function assertRefusedByEveryVerb(
  config: string,
  held: Holder,
  message: RegExp,
  options: { env?: Record<string, string>; dir: string; gc: boolean },
): Promise<void> {
  const env = options.env ?? {};
  refusedWith(await add({ config, pod: "newcomer", containerId: "c-newcomer", env }), "ADD", message);
  refusedWith(await del({ config, ...held, env }), "DEL", message);
  const check = await run({
    command: "CHECK",
    config,
    containerId: held.containerId,
    ifName: "eth0",
    netns: "/x",
    cniArgs: podArgs(held.pod),
    env,
  });
  refusedWith(check, "CHECK", message);
  if (options.gc) {
    const gcConfig = JSON.stringify({ ...JSON.parse(config), "cni.dev/valid-attachments": [] });
    refusedWith(await run({ command: "GC", config: gcConfig, env }), "GC", message);
  }
  const file = join(options.dir, `status-${process.hrtime.bigint()}.conf`);
  writeFileSync(file, config);
  const { CNI_COMMAND: _, ...rest } = process.env;
  const status = spawnSync(BINARY.file, ["status", "--config", file], {
    env: { ...rest, ...env },
    encoding: "utf8",
  });
  assert.notEqual(status.status, 0, `status fails: ${status.stdout}`);
  assert.match(status.stderr, message, "status names the mismatch");
}
