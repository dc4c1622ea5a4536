// Test harness: runs the Kubernetes API double as a separate process (as the real apiserver is one)
// and writes kubeconfig files for it shaped like the one whereabouts' install-cni.sh writes
// (cluster `local`, user `whereabouts`, context `whereabouts-context` with a namespace, token and
// certificate-authority-data when serving TLS). `kubectl()` runs the real kubectl against it with
// such a kubeconfig and a discovery cache of its own. `stop()` kills the process and removes the
// files; a process "exit" hook and the child's --exit-with-stdin do the same if a test never calls it.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FaultRule, Latency } from "./faults.ts";
import { type HttpResult, type RequestInit, request, type WatchStream, watch } from "./http-client.ts";
import type { LoggedRequest } from "./request-log.ts";
import type { ApiDoubleOptions } from "./server.ts";

const SERVER = join(dirname(fileURLToPath(import.meta.url)), "server.ts");

export interface RequestCounts {
  readonly total: number;
  /** "verb resource" → count, e.g. "patch ippools.whereabouts.cni.cncf.io". */
  readonly counts: Readonly<Record<string, number>>;
  readonly log: readonly LoggedRequest[];
}

export interface KubeconfigOptions {
  readonly insecureSkipTlsVerify?: boolean;
  /** Override the token (e.g. a wrong one); null writes no token. */
  readonly token?: string | null;
}

export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ApiDouble {
  readonly url: string;
  readonly pid: number;
  /** Base64 PEM of the test CA (TLS only), as kubeconfig certificate-authority-data wants it. */
  readonly caData: string | undefined;
  readonly caPem: string | undefined;
  readonly token: string | undefined;
  /** Writes (once per namespace/options) and returns a kubeconfig whose context uses `namespace`. */
  kubeconfigPath(namespace?: string, options?: KubeconfigOptions): string;
  /**
   * Runs `kubectl` (from PATH) with the kubeconfig of `namespace` and a discovery cache in the
   * harness's temporary directory (never ~/.kube). Resolves with its exit code and output.
   */
  kubectl(
    args: readonly string[],
    options?: { readonly namespace?: string; readonly input?: string },
  ): Promise<KubectlResult>;
  /** An API request with the double's CA and (unless `headers.Authorization` is given) its token. */
  request(
    method: string,
    path: string,
    body?: string | object,
    headers?: Record<string, string>,
  ): Promise<HttpResult>;
  watch(path: string, headers?: Record<string, string>): Promise<WatchStream>;
  requests(): Promise<RequestCounts>;
  resetRequests(): Promise<void>;
  setFaults(rules: readonly FaultRule[], options?: { readonly append?: boolean }): Promise<void>;
  clearFaults(): Promise<void>;
  setLatency(latency: Latency): Promise<void>;
  /** Raw dump: collection id → stored objects. */
  objects(): Promise<{ resourceVersion: string; collections: Record<string, unknown[]> }>;
  /** Forget all history: watches and snapshot reads from older resourceVersions get 410. */
  compact(): Promise<void>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function readyLine(
  child: ChildProcess,
  timeoutMs: number,
): Promise<{ url: string; pid: number; caData?: string }> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(
      () => fail(new Error(`API double not ready after ${timeoutMs} ms: ${err}`)),
      timeoutMs,
    );
    const fail = (e: Error) => {
      clearTimeout(timer);
      reject(e);
    };
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      err += d;
    });
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const nl = out.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.slice(0, nl)));
      } catch (e) {
        reject(e);
      }
    });
    child.once("exit", (code) => fail(new Error(`API double exited (${code}) before it was ready: ${err}`)));
  });
}

function kubeconfigYaml(
  server: string,
  namespace: string,
  caData: string | undefined,
  token: string | undefined,
  insecure: boolean,
): string {
  const tls = insecure
    ? ["    insecure-skip-tls-verify: true"]
    : caData
      ? [`    certificate-authority-data: ${caData}`]
      : [];
  const user = token === undefined ? ["  user: {}"] : ["  user:", `    token: ${JSON.stringify(token)}`];
  return [
    "# Kubeconfig for the Kubernetes API double (test/k8s-api).",
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: local",
    "  cluster:",
    `    server: ${server}`,
    ...tls,
    "users:",
    "- name: whereabouts",
    ...user,
    "contexts:",
    "- name: whereabouts-context",
    "  context:",
    "    cluster: local",
    "    user: whereabouts",
    `    namespace: ${namespace}`,
    "current-context: whereabouts-context",
    "",
  ].join("\n");
}

export async function startApiDouble(options: ApiDoubleOptions = {}): Promise<ApiDouble> {
  const dir = mkdtempSync(join(tmpdir(), "thereabouts-api-double-"));
  dirs.add(dir);
  const { port, ...rest } = options;
  const child = spawn(
    process.execPath,
    [SERVER, "--port", String(port ?? 0), "--exit-with-stdin", "--options", JSON.stringify(rest)],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  live.add(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let ready: { url: string; pid: number; caData?: string };
  try {
    ready = await readyLine(child, 15_000);
  } catch (e) {
    child.kill("SIGKILL");
    live.delete(child);
    rmSync(dir, { recursive: true, force: true });
    dirs.delete(dir);
    throw e;
  }
  const caPem = ready.caData ? Buffer.from(ready.caData, "base64").toString("utf8") : undefined;
  const token = options.token;
  const kubeconfigs = new Map<string, string>();
  const init = (
    method: string,
    body?: string | object,
    headers: Record<string, string> = {},
  ): RequestInit => ({
    method,
    ...(body !== undefined ? { body } : {}),
    ...(caPem ? { ca: caPem } : {}),
    headers:
      token && headers["Authorization"] === undefined
        ? { Authorization: `Bearer ${token}`, ...headers }
        : headers,
  });
  const control = async (method: string, path: string, body?: object): Promise<HttpResult> => {
    const r = await request(`${ready.url}/__control/${path}`, {
      method,
      ...(body !== undefined ? { body } : {}),
      ...(caPem ? { ca: caPem } : {}),
    });
    if (r.status !== 200) throw new Error(`control ${method} ${path}: ${r.status} ${r.body}`);
    return r;
  };
  const kubeconfigPath = (namespace = "kube-system", opts: KubeconfigOptions = {}): string => {
    const tokenToWrite = opts.token === null ? undefined : (opts.token ?? token);
    const id = JSON.stringify([namespace, opts.insecureSkipTlsVerify ?? false, tokenToWrite ?? null]);
    let path = kubeconfigs.get(id);
    if (!path) {
      path = join(dir, `kubeconfig-${kubeconfigs.size}`);
      writeFileSync(
        path,
        kubeconfigYaml(ready.url, namespace, ready.caData, tokenToWrite, opts.insecureSkipTlsVerify ?? false),
        {
          mode: 0o600,
        },
      );
      kubeconfigs.set(id, path);
    }
    return path;
  };
  let stopped: Promise<void> | undefined;
  return {
    url: ready.url,
    pid: ready.pid,
    caData: ready.caData,
    caPem,
    token,
    kubeconfigPath,
    kubectl(args, opts = {}) {
      const kubeconfig = kubeconfigPath(opts.namespace ?? "kube-system");
      return new Promise((resolve, reject) => {
        const child = execFile(
          "kubectl",
          ["--kubeconfig", kubeconfig, "--cache-dir", join(dir, "kubectl-cache"), ...args],
          { timeout: 60_000, env: { ...process.env, KUBECONFIG: kubeconfig } },
          (error, stdout, stderr) => {
            const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
            if (error !== null && typeof error.code !== "number") reject(error);
            else resolve({ code, stdout, stderr });
          },
        );
        child.stdin?.end(opts.input ?? "");
      });
    },
    request: (method, path, body, headers) => request(`${ready.url}${path}`, init(method, body, headers)),
    watch: (path, headers) => watch(`${ready.url}${path}`, init("GET", undefined, headers)),
    async requests() {
      return (await control("GET", "requests")).json() as RequestCounts;
    },
    async resetRequests() {
      await control("POST", "reset");
    },
    async setFaults(rules, opts = {}) {
      await control("POST", "faults", { rules, append: opts.append ?? false });
    },
    async clearFaults() {
      await control("DELETE", "faults");
    },
    async setLatency(latency) {
      await control("POST", "latency", latency);
    },
    async objects() {
      return (await control("GET", "objects")).json();
    },
    async compact() {
      await control("POST", "compact");
    },
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGTERM");
          const killer = setTimeout(() => child.kill("SIGKILL"), 2_000);
          await exited;
          clearTimeout(killer);
        }
        live.delete(child);
        rmSync(dir, { recursive: true, force: true });
        dirs.delete(dir);
      })();
      return stopped;
    },
  };
}
