// What the installer's process tests share: the shipped executable run as `thereabouts install`
// with temporary directories standing in for the host's CNI directories and the pod's
// ServiceAccount, and a long-running install whose stderr lines are awaited as they come.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import { BINARY, type TempDir } from "../support/plugin.ts";

export const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJpbnN0YWxsIn0.c2lnbmF0dXJl";
export const FAKE_CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";

export interface Host {
  readonly root: string;
  readonly bin: string;
  readonly conf: string;
  readonly sa: string;
  readonly sub: string;
  readonly kubeconfig: string;
  readonly flatFile: string;
  readonly nodeName: string;
}

/** Fresh host directories (bin, net.d) and a ServiceAccount directory (token, ca.crt). */
export function host(dir: TempDir, name: string): Host {
  const root = join(dir.path, name);
  const h = {
    root,
    bin: join(root, "opt-cni-bin"),
    conf: join(root, "etc-cni-net.d"),
    sa: join(root, "serviceaccount"),
    sub: join(root, "etc-cni-net.d", "whereabouts.d"),
    kubeconfig: join(root, "etc-cni-net.d", "whereabouts.d", "whereabouts.kubeconfig"),
    flatFile: join(root, "etc-cni-net.d", "whereabouts.d", "whereabouts.conf"),
    nodeName: join(root, "etc-cni-net.d", "whereabouts.d", "nodename"),
  };
  for (const d of [h.bin, h.conf, h.sa]) mkdirSync(d, { recursive: true });
  writeFileSync(join(h.sa, "token"), `${TOKEN}\n`);
  writeFileSync(join(h.sa, "ca.crt"), FAKE_CA);
  return h;
}

/** The environment of the DaemonSet's install container, pointed at `h`. */
export function installEnv(h: Host, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const { CNI_COMMAND: _, ...rest } = process.env;
  const env: NodeJS.ProcessEnv = {
    ...rest,
    CNI_BIN_DIR: h.bin,
    CNI_CONF_DIR: h.conf,
    KUBERNETES_SERVICE_HOST: "10.96.0.1",
    KUBERNETES_SERVICE_PORT: "443",
    WHEREABOUTS_NAMESPACE: "kube-system",
    NODENAME: "node-1",
    ...extra,
  };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
  return env;
}

export function thereabouts(args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(BINARY.file, args, { env, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function installOnce(h: Host, extra: Record<string, string | undefined> = {}, args: string[] = []) {
  return thereabouts(["install", "--once", "--service-account-dir", h.sa, ...args], installEnv(h, extra));
}

export const mode = (path: string) => lstatSync(path).mode & 0o7777;

export function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

export const SELF_SHA = (() => {
  let cached: string | undefined;
  return () => {
    cached ??= sha256(BINARY.file);
    return cached;
  };
})();

/** A long-running `install` and its stderr lines as they come. */
export interface Running {
  readonly child: ChildProcess;
  readonly lines: string[];
  /** The first line like `pattern` from line `from` on (0: any line so far). */
  waitFor(pattern: RegExp, timeoutMs?: number, from?: number): Promise<string>;
  exit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startInstall(
  h: Host,
  extra: Record<string, string | undefined> = {},
  args: string[] = [],
): Running {
  const child = spawn(BINARY.file, ["install", "--service-account-dir", h.sa, ...args], {
    env: installEnv(h, extra),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let partial = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    partial += chunk;
    const parts = partial.split("\n");
    partial = parts.pop()!;
    lines.push(...parts);
    for (const w of waiters) w();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    lines,
    waitFor: (pattern, timeoutMs = 10_000, from = 0) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const line = lines.slice(from).find((l) => pattern.test(l));
          if (line === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(line);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no line like ${pattern} within ${timeoutMs} ms: ${lines.join(" | ")}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    exit: () => exited,
  };
}

/** Replaces a file the way kubelet updates a projected volume: never half written. */
export function replaceAtomically(path: string, content: string): void {
  writeFileSync(`${path}.new`, content);
  renameSync(`${path}.new`, path);
}

export function tokenOf(kubeconfigText: string): string {
  const doc = load(kubeconfigText) as { users: { user: { token: string } }[] };
  return doc.users[0]!.user.token;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
