// Test harness: a real etcd cluster (1 or 3 members) on free loopback ports with temporary data
// directories, optionally serving clients over TLS with client-certificate auth and/or with etcd
// auth (users + roles) enabled. Every process it starts is killed by `stop()`, and also by a
// process "exit" hook, so a failing test never leaves etcd running.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

export const ETCD_BINARY = process.env["ETCD_BINARY"] ?? "/usr/bin/etcd";

export interface EtcdUser {
  readonly name: string;
  readonly password: string;
  /** Grants READWRITE on this key prefix only (a non-root user). Omit for the root user. */
  readonly prefix?: string;
}

export interface EtcdClusterOptions {
  readonly members?: 1 | 3;
  /** Serve clients over https and require a client certificate signed by the test CA. */
  readonly tls?: boolean;
  /** Enable etcd auth: a root user with this password is created, plus `users`. */
  readonly rootPassword?: string;
  readonly users?: readonly EtcdUser[];
  /**
   * Keep the data directories in memory (/dev/shm when present), where fsync costs nothing: for
   * suites that measure logic, not disks. Default false: the temporary directory on disk.
   */
  readonly inMemory?: boolean;
}

export interface TlsFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** A client certificate with a Common Name ("root"), which etcd's gateway refuses once auth is on. */
  readonly namedCertFile: string;
  readonly namedKeyFile: string;
  /** A client certificate signed by a CA etcd does not trust. */
  readonly strangerCertFile: string;
  readonly strangerKeyFile: string;
}

interface Member {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  process: ChildProcess | undefined;
}

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
function cleanUp(): void {
  for (const child of live) killGroup(child);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
process.on("exit", cleanUp);
// A signal ends the process without "exit": clean up, then die of the same signal.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    cleanUp();
    process.kill(process.pid, signal);
  });
}

// Each member runs under a small shell in its own process group: killing the group kills etcd,
// and the shell's watcher kills etcd and removes the cluster's directory when this process
// disappears without cleaning up (SIGKILL).
const WATCHDOG = `"$@" & e=$!
( while kill -0 "$THEREABOUTS_TEST_PARENT" 2>/dev/null; do sleep 0.5; done; kill -9 "$e" ) & w=$!
wait "$e"; s=$?
if kill -0 "$THEREABOUTS_TEST_PARENT" 2>/dev/null; then kill "$w" 2>/dev/null; else rm -rf "$THEREABOUTS_TEST_DIR"; fi
exit "$s"`;

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** A port that was free a moment ago (bind to 0, read, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function openssl(dir: string, args: readonly string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** CA, a server certificate for 127.0.0.1, a client certificate, and a stranger's client certificate. */
export function generateCertificates(dir: string): TlsFiles {
  mkdirSync(dir, { recursive: true });
  const ca = (name: string) => [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
  ];
  openssl(dir, ca("test-ca"));
  openssl(dir, ca("stranger-ca"));
  const leaf = (name: string, caName: string, ext: string, subject = `/CN=${name}`) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, [
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-subj",
      subject,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
    ]);
    openssl(dir, [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${caName}.crt`,
      "-CAkey",
      `${caName}.key`,
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.crt`,
    ]);
  };
  leaf(
    "server",
    "test-ca",
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
  );
  // No Common Name: with --client-cert-auth and auth enabled, etcd's gateway refuses (HTTP 400) every
  // client certificate that carries one, since it cannot map it to a user (embed/serve.go).
  leaf("client", "test-ca", "extendedKeyUsage=clientAuth\n", "/O=thereabouts-test");
  leaf("named", "test-ca", "extendedKeyUsage=clientAuth\n", "/CN=root");
  leaf("stranger", "stranger-ca", "extendedKeyUsage=clientAuth\n");
  return {
    caFile: join(dir, "test-ca.crt"),
    certFile: join(dir, "client.crt"),
    keyFile: join(dir, "client.key"),
    namedCertFile: join(dir, "named.crt"),
    namedKeyFile: join(dir, "named.key"),
    strangerCertFile: join(dir, "stranger.crt"),
    strangerKeyFile: join(dir, "stranger.key"),
  };
}

export class EtcdCluster {
  readonly dir: string;
  readonly tls: TlsFiles | undefined;
  readonly rootPassword: string | undefined;
  readonly #members: Member[];
  readonly #initialCluster: string;
  #rootToken: string | undefined;

  private constructor(dir: string, members: Member[], tls: TlsFiles | undefined, rootPassword?: string) {
    this.dir = dir;
    this.#members = members;
    this.tls = tls;
    this.rootPassword = rootPassword;
    this.#initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
  }

  /** Starts the cluster and waits until it has a leader (and auth is enabled, when asked). */
  static async start(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
    const root = options.inMemory && existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
    const dir = mkdtempSync(join(root, "thereabouts-etcd-"));
    dirs.add(dir);
    const tls = options.tls ? generateCertificates(join(dir, "pki")) : undefined;
    const scheme = tls ? "https" : "http";
    const members: Member[] = [];
    for (let i = 0; i < (options.members ?? 1); i++) {
      const name = `m${i}`;
      members.push({
        name,
        clientUrl: `${scheme}://127.0.0.1:${await freePort()}`,
        peerUrl: `http://127.0.0.1:${await freePort()}`,
        dataDir: join(dir, name),
        logFile: join(dir, `${name}.log`),
        process: undefined,
      });
    }
    const cluster = new EtcdCluster(dir, members, tls, options.rootPassword);
    try {
      for (let i = 0; i < members.length; i++) cluster.#spawn(i);
      await Promise.all(members.map((_, i) => cluster.#waitReady(i)));
      await cluster.#waitForLeader(15_000);
      if (options.rootPassword !== undefined)
        await cluster.#enableAuth(options.rootPassword, options.users ?? []);
    } catch (error) {
      const logs = members.map((m) => `--- ${m.name}\n${tail(m.logFile)}`).join("\n");
      await cluster.stop();
      throw new Error(`etcd cluster did not start: ${String(error)}\n${logs}`);
    }
    return cluster;
  }

  get size(): number {
    return this.#members.length;
  }

  /** Client URLs of all members, in member order. */
  get endpoints(): string[] {
    return this.#members.map((m) => m.clientUrl);
  }

  /**
   * The ipam config keys that point a plugin at this cluster (for network configs in plugin
   * tests and benchmarks): etcd_host as a comma-separated list, the TLS files when the cluster
   * serves TLS, and the given user.
   */
  ipamKeys(options: { prefix?: string; username?: string; password?: string } = {}): Record<string, string> {
    const keys: Record<string, string> = { datastore: "etcd", etcd_host: this.endpoints.join(",") };
    if (this.tls !== undefined) {
      keys["etcd_ca_cert_file"] = this.tls.caFile;
      keys["etcd_cert_file"] = this.tls.certFile;
      keys["etcd_key_file"] = this.tls.keyFile;
    }
    if (options.prefix !== undefined) keys["etcd_prefix"] = options.prefix;
    if (options.username !== undefined) keys["etcd_username"] = options.username;
    if (options.password !== undefined) keys["etcd_password"] = options.password;
    return keys;
  }

  endpoint(i: number): string {
    return this.#member(i).clientUrl;
  }

  isRunning(i: number): boolean {
    const child = this.#member(i).process;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** SIGKILLs member i (its whole process group) and waits until it is gone. */
  async killMember(i: number): Promise<void> {
    const member = this.#member(i);
    const child = member.process;
    if (child === undefined) return;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once("exit", () => resolve());
    });
    killGroup(child);
    await exited;
    live.delete(child);
    member.process = undefined;
  }

  /** Starts member i again on its data directory and ports; resolves when it serves clients. */
  async restartMember(i: number): Promise<void> {
    if (this.isRunning(i)) return;
    this.#spawn(i);
    await this.#waitReady(i);
  }

  /** Index of the member that currently leads, as seen by the running members; -1 if none in time. */
  async leaderIndex(timeoutMs = 5_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ids: (string | undefined)[] = [];
      const leaders: string[] = [];
      for (let i = 0; i < this.#members.length; i++) {
        if (!this.isRunning(i)) {
          ids.push(undefined);
          continue;
        }
        try {
          const status = (await this.call(i, "/v3/maintenance/status", {}, 1_000)) as {
            header?: { member_id?: string };
            leader?: string;
          };
          ids.push(status.header?.member_id);
          if (status.leader !== undefined && status.leader !== "0") leaders.push(status.leader);
        } catch {
          ids.push(undefined);
        }
      }
      const agreed = leaders.length > 0 && leaders.every((l) => l === leaders[0]) ? leaders[0] : undefined;
      const index = agreed === undefined ? -1 : ids.indexOf(agreed);
      if (index >= 0) return index;
      if (Date.now() >= deadline) return -1;
      await sleep(100);
    }
  }

  /** Kills every member and removes the temporary directory. Safe to call twice. */
  async stop(): Promise<void> {
    await Promise.all(this.#members.map((_, i) => this.killMember(i)));
    rmSync(this.dir, { recursive: true, force: true });
    dirs.delete(this.dir);
  }

  /**
   * One gateway call to member i as the root user (when auth is on), for test setup and probes.
   * Throws on HTTP errors with etcd's message.
   */
  async call(i: number, path: string, body: unknown, timeoutMs = 5_000): Promise<unknown> {
    const headers: Record<string, string> = {};
    if (this.#rootToken !== undefined) headers["authorization"] = this.#rootToken;
    const { status, text } = await this.#request(this.#member(i).clientUrl, path, body, headers, timeoutMs);
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      parsed = { error: text };
    }
    if (status >= 300) throw new Error(`${path}: HTTP ${status}: ${String(parsed["error"] ?? text)}`);
    return parsed;
  }

  /**
   * etcd's own count of the gRPC calls it has served, by method ("Range", "Txn", "Authenticate"…),
   * summed over the running members. Gateway requests are served as gRPC calls, so this counts
   * what clients sent independently of any client-side counter (benchmarks: calls per ADD).
   * The harness's own probes show up as "Status".
   */
  async grpcCalls(): Promise<Record<string, number>> {
    const totals: Record<string, number> = {};
    for (let i = 0; i < this.#members.length; i++) {
      if (!this.isRunning(i)) continue;
      const { text } = await this.#request(this.#member(i).clientUrl, "/metrics", undefined, {}, 5_000);
      for (const match of text.matchAll(
        /^grpc_server_handled_total\{[^}]*grpc_method="(\w+)"[^}]*\} (\S+)$/gm,
      ))
        if (Number(match[2]) > 0) totals[match[1]!] = (totals[match[1]!] ?? 0) + Number(match[2]);
    }
    return totals;
  }

  #member(i: number): Member {
    const member = this.#members[i];
    if (member === undefined) throw new Error(`no etcd member ${i}`);
    return member;
  }

  #spawn(i: number): void {
    const m = this.#member(i);
    const args = [
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-advertise-peer-urls=${m.peerUrl}`,
      `--initial-cluster=${this.#initialCluster}`,
      "--initial-cluster-state=new",
      `--initial-cluster-token=${this.dir}`,
      "--logger=zap",
      `--log-outputs=${m.logFile}`,
    ];
    if (this.tls !== undefined) {
      const pki = join(this.dir, "pki");
      args.push(
        `--cert-file=${join(pki, "server.crt")}`,
        `--key-file=${join(pki, "server.key")}`,
        `--trusted-ca-file=${this.tls.caFile}`,
        "--client-cert-auth",
      );
    }
    const child = spawn("/bin/sh", ["-c", WATCHDOG, "etcd-member", ETCD_BINARY, ...args], {
      detached: true,
      stdio: ["ignore", "ignore", "ignore"],
      env: { ...process.env, THEREABOUTS_TEST_PARENT: String(process.pid), THEREABOUTS_TEST_DIR: this.dir },
    });
    child.on("exit", () => live.delete(child));
    child.on("error", () => live.delete(child));
    live.add(child);
    m.process = child;
  }

  async #waitReady(i: number, timeoutMs = 15_000): Promise<void> {
    const m = this.#member(i);
    const deadline = Date.now() + timeoutMs;
    const startedAt = readLog(m.logFile).length;
    while (Date.now() < deadline) {
      if (!this.isRunning(i)) throw new Error(`etcd member ${m.name} exited`);
      if (readLog(m.logFile).slice(startedAt).includes("serving client traffic")) return;
      await sleep(50);
    }
    throw new Error(`etcd member ${m.name} not ready within ${timeoutMs} ms`);
  }

  async #waitForLeader(timeoutMs: number): Promise<void> {
    if ((await this.leaderIndex(timeoutMs)) < 0) throw new Error("no etcd leader elected");
  }

  async #enableAuth(rootPassword: string, users: readonly EtcdUser[]): Promise<void> {
    const call = (path: string, body: unknown) => this.call(0, path, body);
    await call("/v3/auth/user/add", { name: "root", password: rootPassword });
    await call("/v3/auth/role/add", { name: "root" });
    await call("/v3/auth/user/grant", { user: "root", role: "root" });
    for (const user of users) {
      await call("/v3/auth/user/add", { name: user.name, password: user.password });
      if (user.prefix === undefined) {
        await call("/v3/auth/user/grant", { user: user.name, role: "root" });
        continue;
      }
      const role = `${user.name}-rw`;
      await call("/v3/auth/role/add", { name: role });
      await call("/v3/auth/role/grant", {
        name: role,
        perm: { permType: "READWRITE", key: b64(user.prefix), range_end: b64(prefixEnd(user.prefix)) },
      });
      await call("/v3/auth/user/grant", { user: user.name, role });
    }
    await call("/v3/auth/enable", {});
    const auth = (await call("/v3/auth/authenticate", { name: "root", password: rootPassword })) as {
      token?: string;
    };
    this.#rootToken = auth.token;
  }

  #request(
    base: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<{ status: number; text: string }> {
    const url = new URL(path, base);
    const tls = this.tls;
    return new Promise((resolve, reject) => {
      const options = {
        method: body === undefined ? "GET" : "POST",
        headers: { ...headers, "content-type": "application/json" },
        timeout: timeoutMs,
        agent: false as const,
        ...(tls
          ? { ca: readFileSync(tls.caFile), cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }
          : {}),
      };
      const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, options, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`${path}: timed out`)));
      req.on("error", reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }
}

function readLog(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

function tail(file: string): string {
  return readLog(file).split("\n").slice(-15).join("\n");
}

function b64(data: string | Buffer): string {
  return (typeof data === "string" ? Buffer.from(data, "utf8") : data).toString("base64");
}

/** The range end that covers every key starting with `prefix` (last byte + 1; prefixes end in "/"). */
function prefixEnd(prefix: string): Buffer {
  const bytes = Buffer.from(prefix, "utf8");
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) + 1;
  return bytes;
}

/**
 * One in-memory member for the tests of a file: started before them (handed to `use`), stopped
 * after them.
 */
export function inMemoryForFile(use: (cluster: EtcdCluster) => void): void {
  let cluster: EtcdCluster | undefined;
  before(async () => {
    cluster = await EtcdCluster.start({ inMemory: true });
    use(cluster);
  });
  after(async () => {
    await cluster?.stop();
  });
}
