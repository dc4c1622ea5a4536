// Shared by the check and release process tests: the shipped executable as a command-line tool,
// its JSON reports, and stores written behind the plugin's back (the local store through its own
// Store, etcd through raw keys, the API double through raw objects).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import type { FindingRecord } from "../../src/tools/check/render.ts";
import type { ApiDouble } from "../k8s-api/harness.ts";
import { add, addressesOf, BINARY, netConf } from "../support/plugin.ts";

export const NO_AGENT = { THEREABOUTS_AGENT_SOCKET: "" };

export interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The executable as a command-line tool (no CNI_COMMAND; stdout and stderr are pipes, not a TTY). */
export function thereabouts(args: readonly string[], env: Record<string, string> = {}): Promise<Outcome> {
  const { CNI_COMMAND: _, NO_COLOR: __, ...rest } = process.env;
  const child = spawn(BINARY.file, args, { env: { ...rest, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** A finding as `check -o json` prints it: the record type the command renders. */
export type FindingJson = FindingRecord;

export interface CheckJson {
  readonly datastore: string;
  readonly namespace?: string;
  readonly podChecks: boolean;
  readonly pools: number;
  readonly reservations: number;
  readonly pods?: number;
  readonly findings: readonly FindingJson[];
  readonly fix?: { readonly done: readonly string[]; readonly notDone: readonly string[] };
  readonly after?: { readonly findings: readonly FindingJson[] };
}

/** `check -o json` (and the same as yaml, which must carry the same records), with its exit code. */
export async function checkJson(
  args: readonly string[],
): Promise<{ code: number | null; report: CheckJson }> {
  const r = await thereabouts(["check", ...args, "-o", "json"]);
  assert.ok(r.code === 0 || r.code === 1, `check exit ${r.code}: ${r.stderr}`);
  const report = JSON.parse(r.stdout) as CheckJson;
  if (!args.includes("--fix")) {
    const yaml = await thereabouts(["check", ...args, "-o", "yaml"]);
    assert.equal(yaml.code, r.code, yaml.stderr);
    assert.deepEqual(load(yaml.stdout), report, "yaml carries the same records as json");
  }
  return { code: r.code, report };
}

/** `kind pool address owner`, one per finding, in the report's order. */
export function kinds(findings: readonly FindingJson[]): string[] {
  return findings.map((f) =>
    [f.kind, f.pool || "-", f.address || f.reservation || f.key || "-", f.owner?.pod ?? "-"].join(" "),
  );
}

/** Every line fits 80 columns and carries no escape sequence (stdout is a pipe). */
export function assertPlain(text: string, what: string): void {
  assert.doesNotMatch(text, /\x1b/, `${what}: no colour on a pipe`);
  for (const line of text.split("\n")) assert.ok([...line].length <= 80, `${what}: over 80 columns: ${line}`);
}

/** A network configuration: its text (the plugin's stdin) and a file holding it (for --config). */
export interface NetworkFile {
  readonly path: string;
  readonly text: string;
}

export function configFile(dir: string, name: string, ipam: Record<string, unknown>): NetworkFile {
  const path = join(dir, `${name}.conf`);
  const text = netConf(ipam, "1.0.0", name);
  writeFileSync(path, text);
  return { path, text };
}

/** One ADD by the real plugin, of pod `default/<pod>`; the address without its prefix. */
export async function attach(network: NetworkFile, pod: string, ifName = "net1"): Promise<string> {
  const outcome = await add({
    config: network.text,
    pod,
    containerId: `ctr-${pod}-0123456789`,
    ifName,
    env: NO_AGENT,
  });
  return addressesOf(outcome)[0]!.split("/")[0]!;
}

// ---- the API double ------------------------------------------------------------------------

export const GROUP = "/apis/whereabouts.cni.cncf.io/v1alpha1";

export interface RawEntry {
  readonly id: string;
  readonly podref: string;
  readonly ifname?: string;
}

async function ok(r: Promise<{ status: number; body: string }>, what: string): Promise<void> {
  const reply = await r;
  assert.ok(reply.status >= 200 && reply.status < 300, `${what}: HTTP ${reply.status} ${reply.body}`);
}

/** An IPPool as another writer (or a hand) would create it. */
export function createRawPool(
  api: ApiDouble,
  namespace: string,
  name: string,
  range: string,
  allocations: Record<string, RawEntry>,
): Promise<void> {
  return ok(
    api.request("POST", `${GROUP}/namespaces/${namespace}/ippools`, {
      apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
      kind: "IPPool",
      metadata: { name },
      spec: { range, allocations },
    }),
    `create pool ${name}`,
  );
}

/** An OverlappingRangeIPReservation as Go writes it (no claim annotations). */
export function createRawReservation(
  api: ApiDouble,
  namespace: string,
  name: string,
  spec: { podref: string; ifname?: string; containerid?: string },
): Promise<void> {
  return ok(
    api.request("POST", `${GROUP}/namespaces/${namespace}/overlappingrangeipreservations`, {
      apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
      kind: "OverlappingRangeIPReservation",
      metadata: { name },
      spec,
    }),
    `create reservation ${name}`,
  );
}

/** A pool's entries as stored. */
export async function rawEntries(
  api: ApiDouble,
  namespace: string,
  pool: string,
): Promise<Record<string, RawEntry>> {
  const r = await api.request("GET", `${GROUP}/namespaces/${namespace}/ippools/${pool}`);
  assert.equal(r.status, 200, r.body);
  return (r.json() as { spec?: { allocations?: Record<string, RawEntry> } }).spec?.allocations ?? {};
}

/** The reservation names of a namespace, sorted. */
export async function rawReservationNames(api: ApiDouble, namespace: string): Promise<string[]> {
  const r = await api.request("GET", `${GROUP}/namespaces/${namespace}/overlappingrangeipreservations`);
  assert.equal(r.status, 200, r.body);
  return (r.json() as { items: { metadata: { name: string } }[] }).items.map((i) => i.metadata.name).sort();
}

/** Sets a pod's network-status annotation, as Multus does after the ADDs. */
export function annotateNetworkStatus(
  api: ApiDouble,
  namespace: string,
  pod: string,
  status: readonly { name: string; interface: string; ips: readonly string[]; default?: boolean }[],
): Promise<void> {
  return ok(
    api.request(
      "PATCH",
      `/api/v1/namespaces/${namespace}/pods/${pod}`,
      { metadata: { annotations: { "k8s.v1.cni.cncf.io/network-status": JSON.stringify(status) } } },
      { "Content-Type": "application/merge-patch+json" },
    ),
    `annotate pod ${pod}`,
  );
}
