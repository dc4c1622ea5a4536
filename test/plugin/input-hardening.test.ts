// Issue 15, input hardening, as the runtime sees it: plugin processes (alone, and through a node
// agent where the agent's event loop is at stake) given files that are not files, relative paths,
// symlinked log files, pod names with line breaks, secrets in every place a configuration can
// hold one, a 65,536-entry exclude list, a CHECK with a prevResult that is not a result, and a
// real etcd refusing a password.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { execPlugin, type PluginCall, type PluginOutcome } from "../../src/cli/exec-plugin.ts";
import { EtcdCluster } from "../etcd/etcd-cluster.ts";
import { type AgentProcess, startAgentProcess } from "../support/agent.ts";
import {
  assertCleanOutcome,
  BINARY,
  netConf,
  podArgs,
  run,
  type TempDir,
  tempDir,
} from "../support/plugin.ts";

/** A plugin working alone: no agent at this path. */
const ALONE = { THEREABOUTS_AGENT_SOCKET: "/nonexistent/agent.sock" };
/** Well above the compiled binary's ~25 MB; /dev/zero read whole grew a process to 1.4 GB. */
const MAX_RSS_KB = 150 * 1024;
/** Process start-up included, on a loaded 2-core machine. */
const FAST_MS = 1_000;

let dir: TempDir;
before(() => {
  dir = tempDir("thereabouts-hardening-");
});
after(() => dir.remove());

function errorOf(outcome: PluginOutcome): { code: number; msg: string; details?: string } {
  assertCleanOutcome(outcome, "plugin");
  assert.equal(outcome.code, 1, `failed (stdout: ${outcome.stdout})`);
  return JSON.parse(outcome.stdout) as { code: number; msg: string; details?: string };
}

/**
 * A plugin call under /usr/bin/time: the outcome and the child's maximum resident set size. GNU
 * timeout kills its whole process group, so a plugin that hangs (on a FIFO, as it did) fails the
 * test instead of holding it.
 */
async function measured(call: PluginCall, id: string): Promise<{ outcome: PluginOutcome; maxRssKb: number }> {
  const report = join(dir.path, `rss-${id}`);
  const outcome = await execPlugin(
    { file: "timeout", args: ["-s", "KILL", "20", "/usr/bin/time", "-f", "%M", "-o", report, BINARY.file] },
    call,
  );
  assert.notEqual(outcome.code, 137, "the plugin did not finish within 20 s");
  const maxRssKb = Number(readFileSync(report, "utf8").trim().split("\n").at(-1));
  assert.ok(Number.isInteger(maxRssKb) && maxRssKb > 0, `max RSS reported (${maxRssKb})`);
  return { outcome, maxRssKb };
}

function addCall(ipam: Record<string, unknown>, env: Record<string, string>, pod = "p1"): PluginCall {
  return {
    command: "ADD",
    config: netConf({ type: "thereabouts", range: "10.190.0.0/24", ...ipam }, "1.0.0"),
    containerId: `c-${pod.replace(/[^a-z0-9]/gi, "")}`,
    ifName: "eth0",
    netns: "/var/run/netns/x",
    cniArgs: podArgs(pod),
    env,
  };
}

describe("files that are not regular files fail fast, in little memory", () => {
  let agent: AgentProcess;
  let fifo: string;
  before(async () => {
    agent = await startAgentProcess();
    fifo = join(dir.path, "fifo");
    execFileSync("mkfifo", [fifo]);
  });
  after(async () => {
    await agent?.stop();
  });

  /** Where a path can name a file: the key, the ipam keys that set it, what the error says. */
  const places: [string, (path: string) => Record<string, unknown>, (path: string) => RegExp][] = [
    [
      "local.path",
      (path) => ({ datastore: "local", local: { path } }),
      (path) => new RegExp(`^local.path ${path} is not a regular file: name the store's database file$`),
    ],
    [
      "configuration_path",
      (path) => ({ configuration_path: path, local: { path: join(dir.path, "unused.db") } }),
      (path) =>
        new RegExp(`^error opening flat configuration file @ ${path} with: is a .+, not a regular file$`),
    ],
    [
      "kubernetes.kubeconfig",
      (path) => ({ datastore: "kubernetes", kubernetes: { kubeconfig: path } }),
      (path) => new RegExp(`^open ${path}: is a .+, not a regular file$`),
    ],
    [
      "etcd_ca_cert_file",
      (path) => ({ datastore: "etcd", etcd_host: "127.0.0.1:1", etcd_ca_cert_file: path }),
      (path) => new RegExp(`^cannot read etcd_ca_cert_file ${path}: is a .+, not a regular file$`),
    ],
    [
      "a kubeconfig's client-certificate",
      (path) => {
        const kubeconfig = join(dir.path, `kubeconfig-${path.replaceAll("/", "_")}`);
        writeFileSync(
          kubeconfig,
          [
            "apiVersion: v1",
            "kind: Config",
            "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]",
            `users: [{name: u, user: {client-certificate: '${path}', client-key: '${path}'}}]`,
            "contexts: [{name: x, context: {cluster: c, user: u}}]",
            "current-context: x",
          ].join("\n"),
        );
        return { datastore: "kubernetes", kubernetes: { kubeconfig } };
      },
      (path) => new RegExp(`^open ${path}: is a .+, not a regular file$`),
    ],
  ];

  for (const [place, ipam, message] of places) {
    for (const special of ["a FIFO", "/dev/zero"] as const) {
      for (const via of ["alone", "through the agent"] as const) {
        it(`${special} as ${place} (${via}): code 7 at once, naming the path`, async () => {
          const path = special === "a FIFO" ? fifo : "/dev/zero";
          const env = via === "alone" ? ALONE : agent.env;
          const id = `${place}-${special}-${via}`.replace(/[^a-z0-9]/gi, "_");
          const { outcome, maxRssKb } = await measured(addCall(ipam(path), env), id);
          const error = errorOf(outcome);
          assert.equal(error.code, 7, error.msg);
          assert.match(error.msg, message(path));
          assert.ok(outcome.ms < FAST_MS, `answered in ${Math.round(outcome.ms)} ms`);
          assert.ok(maxRssKb < MAX_RSS_KB, `max RSS ${maxRssKb} KB`);
          assert.doesNotMatch(outcome.stderr, /did not answer/, "the agent answered");
        });
      }
    }
  }

  it("the agent still serves calls after all of them", async () => {
    const store = join(dir.path, "after-agent.db");
    const outcome = await run(addCall({ datastore: "local", local: { path: store } }, agent.env, "after"));
    assert.equal(outcome.code, 0, outcome.stdout);
    assert.doesNotMatch(outcome.stderr, /did not answer/);
  });
});

describe("paths", () => {
  it("a relative local.path is refused with code 7 naming the key, and no store file appears", async () => {
    const cwd = tempDir("thereabouts-cwd-");
    try {
      const call = addCall({ datastore: "local", local: { path: "store.db" } }, ALONE);
      const outcome = await new Promise<PluginOutcome>((resolve, reject) => {
        // Run from a directory of our own, so a store file created there would be seen.
        const child = spawn(BINARY.file, [], {
          cwd: cwd.path,
          env: {
            PATH: process.env["PATH"] ?? "/usr/bin:/bin",
            CNI_COMMAND: "ADD",
            CNI_CONTAINERID: "c1",
            CNI_NETNS: "/x",
            CNI_IFNAME: "eth0",
            CNI_PATH: "/opt/cni/bin",
            CNI_ARGS: podArgs("p1"),
            ...ALONE,
          },
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => {
          stdout += d.toString();
        });
        child.stderr.on("data", (d: Buffer) => {
          stderr += d.toString();
        });
        child.on("error", reject);
        child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, ms: 0 }));
        child.stdin.end(call.config);
      });
      const error = errorOf(outcome);
      assert.equal(error.code, 7);
      assert.equal(error.msg, 'invalid local.path "store.db": must be an absolute path');
      assert.ok(!existsSync(join(cwd.path, "store.db")), "no store file in the working directory");
    } finally {
      cwd.remove();
    }
  });

  it("a NUL byte in a path is code 7 naming the key (it was 999)", async () => {
    const error = errorOf(await run(addCall({ log_file: `${dir.path}/a\u0000b.log` }, ALONE)));
    assert.equal(error.code, 7);
    assert.match(error.msg, /^invalid log_file ".*\\u0000b\.log": the path contains a NUL byte$/);
  });
});

describe("log_file and log lines", () => {
  const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[(debug|verbose|error)\] /;

  it("a symlink at log_file is not followed: its target stays untouched, the ADD succeeds", async () => {
    const target = join(dir.path, "precious");
    writeFileSync(target, "precious content\n");
    const link = join(dir.path, "plugin-link.log");
    symlinkSync(target, link);
    const store = join(dir.path, "symlink.db");
    const outcome = await run(addCall({ local: { path: store }, log_file: link, log_level: "debug" }, ALONE));
    assert.equal(outcome.code, 0, outcome.stdout);
    assert.equal(readFileSync(target, "utf8"), "precious content\n");
    assert.match(outcome.stderr, LINE, "the line still went to stderr");
  });

  it("a pod name with a line break does not start a line of its own, in log_file or on stderr", async () => {
    const log = join(dir.path, "plugin.log");
    const store = join(dir.path, "newline.db");
    const forged = "2024-01-01T00:00:00Z [error] forged line";
    const outcome = await run(
      addCall({ local: { path: store }, log_file: log, log_level: "debug" }, ALONE, `evil\n${forged}`),
    );
    assert.equal(outcome.code, 0, outcome.stdout);
    const fileLines = readFileSync(log, "utf8").split("\n");
    assert.equal(fileLines.pop(), "", "the file ends with a newline");
    assert.ok(fileLines.length >= 1, "something was logged");
    for (const lines of [fileLines, outcome.stderr.trimEnd().split("\n")]) {
      for (const line of lines) {
        assert.match(line, LINE);
        assert.ok(!line.startsWith(forged), line);
      }
    }
    assert.ok(
      fileLines.some((l) => l.includes(`evil\\n${forged}`)),
      "the name is there, escaped",
    );
  });

  it("the failure line on stderr stays one line when a value holds a line break", async () => {
    const outcome = await run({ ...addCall({}, ALONE), containerId: "c1\nforged" });
    assertCleanOutcome(outcome, "ADD");
    assert.equal(outcome.stderr.split("\n").length, 2, outcome.stderr);
    assert.match(
      outcome.stderr,
      /^CNI ADD failed \(code 4\): invalid characters in containerID: c1\\nforged\n$/,
    );
  });
});

describe("bounded messages", () => {
  it("a 65,536-entry exclude list exhausts the range with an error of a few hundred bytes", async () => {
    const exclude = Array.from({ length: 65_536 }, (_, i) => `10.191.${i >> 8}.${i & 255}/32`);
    const outcome = await run(
      addCall({ range: "10.191.0.0/16", exclude, local: { path: join(dir.path, "exclude.db") } }, ALONE),
    );
    const error = errorOf(outcome);
    assert.equal(error.code, 100);
    assert.match(
      error.msg,
      /^Could not allocate IP in range: ip: 10\.191\.0\.1 \/ - 10\.191\.255\.254 \/ range: 10\.191\.0\.0\/16 \/ excludeRanges: \[10\.191\.0\.0\/32 .* …\(\d+ more\)\]$/,
    );
    assert.ok(outcome.stdout.length < 1024, `error JSON of ${outcome.stdout.length} bytes`);
    assert.ok(outcome.stderr.length < 1024, `stderr of ${outcome.stderr.length} bytes`);
  });
});

describe("CHECK with a prevResult that is not a result", () => {
  const store = () => join(dir.path, "check.db");
  const check = (prevResult: unknown) =>
    run({
      command: "CHECK",
      config: JSON.stringify({
        cniVersion: "1.0.0",
        name: "checknet",
        type: "macvlan",
        ipam: { type: "thereabouts", range: "10.192.0.0/24", local: { path: store() } },
        ...(prevResult === undefined ? {} : { prevResult }),
      }),
      containerId: "c-check",
      ifName: "eth0",
      netns: "/var/run/netns/x",
      cniArgs: podArgs("check"),
      env: ALONE,
    });

  it("fails with code 7 instead of passing; a real prevResult still passes", async () => {
    const added = await run({
      command: "ADD",
      config: netConf(
        { type: "thereabouts", range: "10.192.0.0/24", local: { path: store() } },
        "1.0.0",
        "checknet",
      ),
      containerId: "c-check",
      ifName: "eth0",
      netns: "/var/run/netns/x",
      cniArgs: podArgs("check"),
      env: ALONE,
    });
    assert.equal(added.code, 0, added.stdout);
    const result = JSON.parse(added.stdout) as { ips: unknown[] };
    for (const [prev, msg] of [
      ["garbage", /^invalid prevResult: expected a result object, got string$/],
      [
        { cniVersion: "1.0.0", ips: "10.192.0.1/24" },
        /^invalid prevResult\.ips: expected an array, got string$/,
      ],
      [{ cniVersion: "1.0.0", ips: [{ address: "nonsense" }] }, /^invalid prevResult\.ips\[0\]: /],
      [{ cniVersion: "1.0.0", ips: ["10.192.0.1/24"] }, /^invalid prevResult\.ips\[0\]: /],
    ] as const) {
      const error = errorOf(await check(prev));
      assert.equal(error.code, 7, JSON.stringify(prev));
      assert.match(error.msg, msg);
    }
    assert.equal((await check(result)).code, 0);
    assert.equal((await check(undefined)).code, 0);
  });
});

describe("etcd with auth, and secrets in every place", () => {
  const PASSWORD = "S3CRET-right-password";
  const WRONG = "S3CRET-wrong-password";
  const USERINFO = "admin:S3CRET-userinfo";
  const TOKEN = "S3CRET-kube-token";
  const ARG = "S3CRET-cni-arg";
  const FILE = "S3CRET-file-content";
  const SECRETS = [PASSWORD, WRONG, "S3CRET-userinfo", TOKEN, ARG, FILE, "S3CRET-unquoted"];
  let cluster: EtcdCluster;
  before(async () => {
    cluster = await EtcdCluster.start({
      inMemory: true,
      rootPassword: "root-pass",
      users: [{ name: "thereabouts", password: PASSWORD, prefix: "/hardening/" }],
    });
  });
  after(async () => {
    await cluster?.stop();
  });

  const etcdKeys = (password: string, userinfo = false) => ({
    datastore: "etcd",
    etcd_host: userinfo
      ? cluster.endpoints.map((e) => e.replace("://", `://${USERINFO}@`))
      : cluster.endpoints,
    etcd_prefix: "/hardening",
    etcd_username: "thereabouts",
    etcd_password: password,
  });

  it("a wrong password is code 5 (retrying will not fix it), at once, and the password is not shown", async () => {
    const outcome = await run(addCall(etcdKeys(WRONG), ALONE));
    const error = errorOf(outcome);
    assert.equal(error.code, 5, error.msg);
    assert.match(error.msg, /authenticating as "thereabouts": .*authentication failed/);
    assert.ok(outcome.ms < 5_000, `${Math.round(outcome.ms)} ms`);
    for (const text of [outcome.stdout, outcome.stderr]) assert.ok(!text.includes(WRONG));
  });

  it("the right password, with credentials in etcd_host that are never sent, allocates", async () => {
    const outcome = await run(addCall(etcdKeys(PASSWORD, true), ALONE, "etcd-ok"));
    assert.equal(outcome.code, 0, outcome.stdout);
  });

  it("no secret reaches stdout, stderr, the log file or `thereabouts status`", async () => {
    const log = join(dir.path, "secrets.log");
    const shadow = join(dir.path, "shadow");
    writeFileSync(shadow, `root:${FILE}:19000:0:99999:7:::\n`);
    const jsonSecret = join(dir.path, "json-secret");
    writeFileSync(jsonSecret, JSON.stringify(FILE));
    const kubeconfig = (extra: string) => {
      const path = join(dir.path, `kubeconfig-${Math.random().toString(36).slice(2)}`);
      writeFileSync(
        path,
        [
          "apiVersion: v1",
          "kind: Config",
          "clusters: [{name: c, cluster: {server: 'ftp://u:S3CRET-userinfo@api'}}]",
          `users: [{name: u, user: {token: ${TOKEN}}}]`,
          "contexts: [{name: x, context: {cluster: c, user: u}}]",
          "current-context: x",
          extra,
        ].join("\n"),
      );
      return path;
    };
    const withLog = (ipam: Record<string, unknown>) => ({ log_file: log, log_level: "debug", ...ipam });
    const calls: PluginCall[] = [
      // An etcd password refused, with credentials in etcd_host: the message names the members.
      addCall(withLog(etcdKeys(WRONG, true)), ALONE),
      {
        ...addCall(withLog(etcdKeys(WRONG, true)), ALONE),
        command: "STATUS",
        config: netConf({ type: "thereabouts", ...withLog(etcdKeys(WRONG, true)) }, "1.1.0"),
      },
      // A password written without quotes: a JSON syntax error.
      {
        ...addCall({}, ALONE),
        config: `{"cniVersion":"1.0.0","name":"n","ipam":{"type":"thereabouts","etcd_password": S3CRET-unquoted}}`,
      },
      // configuration_path naming files that are not flat files.
      addCall(withLog({ configuration_path: shadow }), ALONE),
      addCall(withLog({ configuration_path: jsonSecret }), ALONE),
      // A kubeconfig whose server is not http(s), and one that is not valid YAML after the token.
      addCall(withLog({ datastore: "kubernetes", kubernetes: { kubeconfig: kubeconfig("") } }), ALONE),
      addCall(
        withLog({ datastore: "kubernetes", kubernetes: { kubeconfig: kubeconfig(`bad: [${TOKEN}`) } }),
        ALONE,
      ),
      // An unknown CNI_ARGS key whose value is a secret, and a pair with two "=".
      {
        ...addCall(withLog({ local: { path: join(dir.path, "s.db") } }), ALONE),
        cniArgs: `K8S_POD_NAME=p;TOKEN=${ARG}`,
      },
      {
        ...addCall(withLog({ local: { path: join(dir.path, "s.db") } }), ALONE),
        cniArgs: `K8S_POD_NAME=p;T=${ARG}=x`,
      },
      // A mistyped password.
      addCall(withLog({ ...etcdKeys(WRONG), etcd_password: [WRONG] }), ALONE),
    ];
    const outputs: string[] = [];
    for (const call of calls) {
      const outcome = await run(call);
      assertCleanOutcome(outcome, call.command);
      assert.equal(outcome.code, 1, `${call.command} failed (${outcome.stdout})`);
      outputs.push(outcome.stdout, outcome.stderr);
    }
    const status = await statusOutput(netConf({ type: "thereabouts", ...etcdKeys(WRONG, true) }, "1.0.0"));
    assert.match(status, /Cannot .*etcd at http:\/\/127\.0\.0\.1:\d+: authenticating as "thereabouts"/);
    outputs.push(status);
    if (existsSync(log)) outputs.push(readFileSync(log, "utf8"));
    const all = outputs.join("\n");
    for (const secret of SECRETS) assert.ok(!all.includes(secret), `${secret} appears in: ${all}`);
    assert.ok(!all.includes("S3CRET"), all);
  });

  async function statusOutput(config: string): Promise<string> {
    const file = join(dir.path, "status-net.conf");
    writeFileSync(file, config);
    return new Promise((resolve, reject) => {
      const child = spawn(BINARY.file, ["status", "--config", file], {
        env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...ALONE },
      });
      let text = "";
      child.stdout.on("data", (d: Buffer) => {
        text += d.toString();
      });
      child.stderr.on("data", (d: Buffer) => {
        text += d.toString();
      });
      child.on("error", reject);
      child.on("close", (code) => {
        if (code === 0) reject(new Error(`status succeeded with a wrong password: ${text}`));
        else resolve(text);
      });
    });
  }
});
