// Test support for the controller: runs `bin/thereabouts controller` as a child process against the
// Kubernetes API double (test/k8s-api), and writes what the tests need in Go Whereabouts' format —
// IPPools, OverlappingRangeIPReservations, pods and their status.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ApiDouble, startApiDouble } from "../k8s-api/harness.ts";
import type { HttpResult } from "../k8s-api/http-client.ts";
import type { ApiDoubleOptions } from "../k8s-api/server.ts";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BINARY = join(ROOT, "bin", "thereabouts");
export const NS = "kube-system";
export const WB = `/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/${NS}`;

let built = false;
/** Builds bin/thereabouts when a source is newer (the test script builds first; this is for single files). */
export function buildOnce(): void {
  if (built) return;
  const r = spawnSync(process.execPath, [join(ROOT, "scripts", "build.ts"), "--if-stale"], {
    stdio: "inherit",
  });
  assert.equal(r.status, 0, "build failed");
  built = true;
}

export function startApi(options: ApiDoubleOptions = {}): Promise<ApiDouble> {
  buildOnce();
  return startApiDouble({ podTerminationMs: 300, ...options });
}

export interface LogLine {
  readonly time: string;
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface Controller {
  readonly url: string;
  readonly pid: number;
  readonly logs: LogLine[];
  /** Resolves with the first log line matching, rejects after `timeoutMs`. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  get(path: string): Promise<{ status: number; body: string }>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  readonly exited: Promise<number | null>;
  readonly running: boolean;
}

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/** Fast settings for tests (all flags may be overridden by `args`). */
export const TEST_ARGS = ["--listen", "127.0.0.1:0", "--cron-file", "/nonexistent/cron-schedule/config"];

export async function startController(
  api: ApiDouble,
  args: readonly string[] = [],
  env: Record<string, string> = {},
): Promise<Controller> {
  const child = spawn(BINARY, ["controller", "--kubeconfig", api.kubeconfigPath(NS), ...TEST_ARGS, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env["PATH"] ?? "", ...env },
  });
  children.add(child);
  const logs: LogLine[] = [];
  const waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  let running = true;
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code, signal) => {
      running = false;
      children.delete(child);
      resolve(code ?? (signal === null ? null : -1));
    }),
  );
  let errText = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    errText += chunk;
    for (let nl = errText.indexOf("\n"); nl >= 0; nl = errText.indexOf("\n")) {
      const text = errText.slice(0, nl);
      errText = errText.slice(nl + 1);
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { time: "", level: "raw", msg: text };
      }
      logs.push(line);
      if (process.env["CONTROLLER_LOGS"]) process.stderr.write(`[controller ${child.pid}] ${text}\n`);
      for (const w of [...waiters]) {
        if (w.match(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(
      () => reject(new Error(`controller did not start: ${JSON.stringify(logs)}`)),
      15_000,
    );
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      const nl = out.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        resolve((JSON.parse(out.slice(0, nl)) as { listening: string }).listening);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`controller exited (${code}) before listening: ${JSON.stringify(logs)}`));
    });
  });
  return {
    url,
    pid: child.pid!,
    logs,
    get running() {
      return running;
    },
    exited,
    waitForLog(match, timeoutMs = 20_000, what = "a log line") {
      const found = logs.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(
            new Error(
              `no ${what} within ${timeoutMs} ms; logs:\n${logs.map((l) => JSON.stringify(l)).join("\n")}`,
            ),
          );
        }, timeoutMs);
        const waiter = {
          match,
          resolve: (l: LogLine) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        waiters.push(waiter);
      });
    },
    async get(path) {
      const res = await fetch(`${url}${path}`);
      return { status: res.status, body: await res.text() };
    },
    async kill(signal = "SIGTERM") {
      if (running) child.kill(signal);
      return exited;
    },
  };
}

export function expectOk(
  r: HttpResult,
  codes: readonly number[] = [200, 201],
): ReturnType<HttpResult["json"]> {
  assert.ok(codes.includes(r.status), `HTTP ${r.status}: ${r.body}`);
  return r.json();
}

export interface Entry {
  readonly id: string;
  readonly podref: string;
  readonly ifname?: string;
  /** thereabouts' sticky fields (need the IPPool CRD of deploy/crds: Go's prunes them). */
  readonly owner?: string;
  readonly parkedat?: string;
}

export async function createPool(
  api: ApiDouble,
  name: string,
  range: string,
  allocations: Record<string, Entry>,
) {
  return expectOk(
    await api.request("POST", `${WB}/ippools`, {
      apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
      kind: "IPPool",
      metadata: { name },
      spec: { range, allocations },
    }),
  );
}

export async function poolEntries(api: ApiDouble, name: string): Promise<Record<string, Entry>> {
  const r = await api.request("GET", `${WB}/ippools/${name}`);
  return (expectOk(r).spec?.allocations ?? {}) as Record<string, Entry>;
}

/** Adds one entry, as an ADD does (a `test` that the key is free, then `add`). */
export async function addEntry(api: ApiDouble, pool: string, key: string, entry: Entry): Promise<void> {
  expectOk(
    await api.request(
      "PATCH",
      `${WB}/ippools/${pool}`,
      [
        { op: "test", path: `/spec/allocations/${key}`, value: null },
        { op: "add", path: `/spec/allocations/${key}`, value: entry },
      ],
      { "Content-Type": "application/json-patch+json" },
    ),
  );
}

/** Rewrites one entry's container id as a repeated ADD of the same pod does (idempotency). */
export async function rewriteEntry(api: ApiDouble, pool: string, key: string, entry: Entry): Promise<void> {
  expectOk(
    await api.request(
      "PATCH",
      `${WB}/ippools/${pool}`,
      [{ op: "replace", path: `/spec/allocations/${key}`, value: entry }],
      {
        "Content-Type": "application/json-patch+json",
      },
    ),
  );
}

export async function createReservation(
  api: ApiDouble,
  name: string,
  podref: string,
  containerid: string,
  ifname = "net1",
) {
  return expectOk(
    await api.request("POST", `${WB}/overlappingrangeipreservations`, {
      apiVersion: "whereabouts.cni.cncf.io/v1alpha1",
      kind: "OverlappingRangeIPReservation",
      metadata: { name },
      spec: { podref, ifname, containerid },
    }),
  );
}

export async function reservationNames(api: ApiDouble): Promise<string[]> {
  const r = expectOk(await api.request("GET", `${WB}/overlappingrangeipreservations`));
  return (r.items as { metadata: { name: string } }[]).map((i) => i.metadata.name).sort();
}

export interface PodOptions {
  readonly nodeName?: string;
  readonly phase?: string;
  readonly annotations?: Record<string, string>;
  readonly conditions?: readonly object[];
}

/** Creates a pod (bound to node-1 unless told otherwise) and sets its status; returns its uid. */
export async function createPod(
  api: ApiDouble,
  namespace: string,
  name: string,
  options: PodOptions = {},
): Promise<string> {
  const created = expectOk(
    await api.request("POST", `/api/v1/namespaces/${namespace}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, ...(options.annotations ? { annotations: options.annotations } : {}) },
      spec: { nodeName: options.nodeName ?? "node-1", containers: [{ name: "c", image: "busybox:1.36" }] },
    }),
  );
  await setPodStatus(api, namespace, name, {
    phase: options.phase ?? "Running",
    conditions: options.conditions ?? [],
  });
  return created.metadata.uid as string;
}

export async function setPodStatus(
  api: ApiDouble,
  namespace: string,
  name: string,
  status: object,
): Promise<void> {
  expectOk(
    await api.request(
      "PATCH",
      `/api/v1/namespaces/${namespace}/pods/${name}/status`,
      { status },
      {
        "Content-Type": "application/merge-patch+json",
      },
    ),
  );
}

export async function deletePod(
  api: ApiDouble,
  namespace: string,
  name: string,
  force = true,
): Promise<void> {
  const query = force ? "?gracePeriodSeconds=0" : "";
  expectOk(await api.request("DELETE", `/api/v1/namespaces/${namespace}/pods/${name}${query}`), [200, 202]);
}

export interface KubeEvent {
  readonly reason: string;
  readonly message: string;
  readonly type: string;
  readonly involvedObject: { kind: string; namespace: string; name: string; uid?: string };
  readonly source?: { component?: string };
}

export async function events(api: ApiDouble, namespace: string): Promise<KubeEvent[]> {
  return expectOk(await api.request("GET", `/api/v1/namespaces/${namespace}/events`)).items as KubeEvent[];
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return { value, ms: Date.now() - started };
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export async function leaseHolder(
  api: ApiDouble,
  name = "thereabouts-controller",
): Promise<string | undefined> {
  const r = await api.request("GET", `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${name}`);
  if (r.status === 404) return undefined;
  return (expectOk(r).spec?.holderIdentity as string | undefined) ?? "";
}

/**
 * KubeVirt's VirtualMachine and VirtualMachineInstance CRDs (kubevirt.io/v1, namespaced, with the
 * status subresource, names and short names as KubeVirt installs them; the schemas keep every
 * field, as the controller reads only the objects' existence), registered as a cluster with
 * KubeVirt has them. Resolves once both are served.
 */
export async function installKubevirtCrds(api: ApiDouble): Promise<void> {
  const crd = (kind: string, plural: string, shortNames: string[]) => ({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.kubevirt.io` },
    spec: {
      group: "kubevirt.io",
      names: {
        kind,
        listKind: `${kind}List`,
        plural,
        singular: kind.toLowerCase(),
        shortNames,
        categories: ["all"],
      },
      scope: "Namespaced",
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: "object",
              properties: {
                apiVersion: { type: "string" },
                kind: { type: "string" },
                metadata: { type: "object" },
                spec: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                status: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
              },
              required: ["spec"],
            },
          },
        },
      ],
    },
  });
  for (const [kind, plural, short] of [
    ["VirtualMachine", "virtualmachines", ["vm", "vms"]],
    ["VirtualMachineInstance", "virtualmachineinstances", ["vmi", "vmis"]],
  ] as const) {
    expectOk(
      await api.request(
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        crd(kind, plural, [...short]),
      ),
    );
    await waitFor(
      `${plural}.kubevirt.io to be served`,
      async () => (await api.request("GET", `/apis/kubevirt.io/v1/${plural}`)).status === 200,
      10_000,
    );
  }
}

export const KUBEVIRT = "/apis/kubevirt.io/v1";

/** A VirtualMachine or VirtualMachineInstance (only its existence matters to the controller). */
export async function createVmObject(
  api: ApiDouble,
  namespace: string,
  plural: "virtualmachines" | "virtualmachineinstances",
  name: string,
): Promise<void> {
  const kind = plural === "virtualmachines" ? "VirtualMachine" : "VirtualMachineInstance";
  expectOk(
    await api.request("POST", `${KUBEVIRT}/namespaces/${namespace}/${plural}`, {
      apiVersion: "kubevirt.io/v1",
      kind,
      metadata: { name },
      spec: plural === "virtualmachines" ? { runStrategy: "Always", template: { spec: {} } } : { domain: {} },
    }),
  );
}
