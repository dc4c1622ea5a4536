// Process-level test support: run the shipped executable exactly as a runtime does.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execPlugin, type PluginCall, type PluginOutcome } from "../../src/cli/exec-plugin.ts";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BINARY = { file: join(ROOT, "bin", "thereabouts") };
export const WHEREABOUTS_BINARY = { file: join(ROOT, "bin", "whereabouts") };

export function run(call: PluginCall, binary: { file: string } = BINARY): Promise<PluginOutcome> {
  return execPlugin(binary, call);
}

export interface TempDir {
  readonly path: string;
  remove(): void;
}

export function tempDir(prefix = "thereabouts-test-"): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A single-plugin network config (as Multus passes it) with the given ipam section. */
export function netConf(ipam: Record<string, unknown>, cniVersion = "0.3.1", name = "testnet"): string {
  return JSON.stringify({ cniVersion, name, type: "macvlan", master: "eth0", ipam });
}

/** A network config on the embedded store at `path`. */
export function localNetConf(path: string, range: string): string {
  return netConf({ type: "thereabouts", range, datastore: "local", local: { path } });
}

export function podArgs(name: string, namespace = "default"): string {
  return `IgnoreUnknown=1;K8S_POD_NAMESPACE=${namespace};K8S_POD_NAME=${name}`;
}

export interface AddCall {
  config: string;
  pod: string;
  containerId: string;
  ifName?: string;
  env?: Record<string, string>;
  killAfterMs?: number;
}

function attachmentCall(command: "ADD" | "DEL", c: AddCall): Promise<PluginOutcome> {
  return run({
    command,
    config: c.config,
    containerId: c.containerId,
    ifName: c.ifName ?? "eth0",
    netns: `/var/run/netns/${c.pod}`,
    cniArgs: podArgs(c.pod),
    ...(c.env === undefined ? {} : { env: c.env }),
    ...(c.killAfterMs === undefined ? {} : { killAfterMs: c.killAfterMs }),
  });
}

export function add(c: AddCall): Promise<PluginOutcome> {
  return attachmentCall("ADD", c);
}

export function del(c: AddCall): Promise<PluginOutcome> {
  return attachmentCall("DEL", c);
}

/** The addresses of a successful ADD result (any 0.3+/1.x version). */
export function addressesOf(outcome: PluginOutcome): string[] {
  if (outcome.code !== 0)
    throw new Error(`plugin failed (${outcome.code}): ${outcome.stdout} ${outcome.stderr}`);
  return (JSON.parse(outcome.stdout) as { ips: { address: string }[] }).ips.map((i) => i.address);
}

/** The outcome a runtime can handle: success, or exit 1 with a CNI error JSON and no stack trace. */
export function assertCleanOutcome(o: PluginOutcome, what: string): void {
  assert.equal(o.signal, null, `${what} was not killed`);
  if (o.code === 0) return;
  assert.equal(o.code, 1, `${what} exit status`);
  const error = JSON.parse(o.stdout) as { code?: unknown; msg?: unknown };
  assert.equal(typeof error.code, "number", `${what}: a CNI error code (${o.stdout})`);
  assert.equal(typeof error.msg, "string", `${what}: a CNI error message`);
  assert.doesNotMatch(o.stderr, /\n\s+at /, `${what}: no stack trace`);
}
