// `thereabouts install` and `uninstall` as the DaemonSet runs them: the shipped executable with
// temporary directories standing in for the host's CNI directories and the pod's ServiceAccount.
// The installed plugin is then run from the temporary bin directory under both names, on the
// embedded store and on the Kubernetes API double through the kubeconfig install wrote.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  type Stats,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { load } from "js-yaml";
import { startupGraph } from "../../bench/startup-modules.ts";
import { startApiDouble } from "../k8s-api/harness.ts";
import { rawObjects } from "../kubernetes/go-view.ts";
import { addressesOf, netConf, podArgs, ROOT, run, type TempDir, tempDir } from "../support/plugin.ts";
import {
  FAKE_CA,
  host,
  installEnv,
  installOnce,
  mode,
  replaceAtomically,
  SELF_SHA,
  sha256,
  sleep,
  startInstall,
  TOKEN,
  thereabouts,
  tokenOf,
} from "./support.ts";

/** A plugin call on the embedded store, from the executable at `file`. */
function localAdd(file: string, store: string, pod: string, agentSocket: string) {
  return run(
    {
      command: "ADD",
      config: netConf({
        type: "whereabouts",
        range: "198.18.70.0/28",
        datastore: "local",
        local: { path: store },
      }),
      containerId: `ctr-${pod}`,
      ifName: "net1",
      netns: `/var/run/netns/${pod}`,
      cniArgs: podArgs(pod),
      env: { THEREABOUTS_AGENT_SOCKET: agentSocket },
    },
    { file },
  );
}

describe("thereabouts install / uninstall (the shipped executable, temporary host directories)", () => {
  let dir: TempDir;
  let noAgent: string;
  before(() => {
    dir = tempDir("thereabouts-install-");
    noAgent = join(dir.path, "no-agent.sock");
  });
  after(() => dir.remove());

  it("a plugin call never loads the installer (it is imported only by the install commands)", () => {
    for (const entry of ["src/main.ts", "src/cni/main.ts"]) {
      const { modules } = startupGraph(join(ROOT, entry));
      assert.ok(modules.includes(entry), `the graph of ${entry} was walked`);
      assert.deepEqual(
        modules.filter((m) => m.startsWith("src/install/") || m.startsWith("src/cli/")),
        [],
        entry,
      );
    }
  });

  it("--help of both, and both listed in the usage", () => {
    const help = thereabouts(["help"], installEnv(host(dir, "help")));
    assert.match(help.stdout, /\n {2}install {2}/);
    assert.match(help.stdout, /\n {2}uninstall\n/);
    const install = thereabouts(["install", "--help"], {});
    assert.equal(install.code, 0);
    assert.match(install.stdout, /^Usage: thereabouts install \[--once\]/);
    for (const variable of [
      "CNI_BIN_DIR",
      "CNI_CONF_DIR",
      "KUBERNETES_SERVICE_HOST",
      "KUBERNETES_SERVICE_PROTOCOL",
      "KUBE_CA_FILE",
      "SKIP_TLS_VERIFY",
      "KUBECONFIG_MODE",
      "WHEREABOUTS_NAMESPACE",
      "NODENAME",
      "WHEREABOUTS_RECONCILER_CRON",
      "--service-account-dir",
      "--names",
    ])
      assert.ok(install.stdout.includes(variable), variable);
    const uninstall = thereabouts(["uninstall", "--help"], {});
    assert.equal(uninstall.code, 0);
    assert.match(uninstall.stdout, /^Usage: thereabouts uninstall/);
  });

  it("install --once writes the executable under both names and whereabouts.d/, with their modes", () => {
    const h = host(dir, "once");
    const r = installOnce(h, { KUBERNETES_SERVICE_PORT: "6443", WHEREABOUTS_NAMESPACE: "cni-pools" });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stderr.trimEnd().split("\n"), [
      `wrote ${h.kubeconfig}`,
      `wrote ${h.flatFile}`,
      `wrote ${h.nodeName}`,
      `installed ${h.bin}/thereabouts`,
      `installed ${h.bin}/whereabouts`,
    ]);
    assert.doesNotMatch(r.stderr + r.stdout, new RegExp(TOKEN));
    for (const name of ["thereabouts", "whereabouts"]) {
      const path = join(h.bin, name);
      assert.ok(lstatSync(path).isFile(), `${name} is a regular file, not a symlink`);
      assert.equal(mode(path), 0o755);
      assert.equal(sha256(path), SELF_SHA(), `${name} is this executable`);
    }
    assert.notEqual(statSync(join(h.bin, "thereabouts")).ino, statSync(join(h.bin, "whereabouts")).ino);
    assert.deepEqual(readdirSync(h.bin).sort(), ["thereabouts", "whereabouts"], "no temporary file left");
    assert.deepEqual(readdirSync(h.sub).sort(), ["nodename", "whereabouts.conf", "whereabouts.kubeconfig"]);

    assert.equal(mode(h.kubeconfig), 0o600);
    assert.deepEqual(load(readFileSync(h.kubeconfig, "utf8")), {
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: "local",
          cluster: {
            server: "https://10.96.0.1:6443",
            "certificate-authority-data": Buffer.from(FAKE_CA).toString("base64"),
          },
        },
      ],
      users: [{ name: "whereabouts", user: { token: TOKEN } }],
      contexts: [
        {
          name: "whereabouts-context",
          context: { cluster: "local", user: "whereabouts", namespace: "cni-pools" },
        },
      ],
      "current-context": "whereabouts-context",
    });
    assert.equal(mode(h.flatFile), 0o600);
    assert.equal(
      readFileSync(h.flatFile, "utf8"),
      `${JSON.stringify(
        {
          datastore: "kubernetes",
          configuration_path: h.sub,
          kubernetes: { kubeconfig: h.kubeconfig },
          reconciler_cron_expression: "30 4 * * *",
        },
        null,
        2,
      )}\n`,
    );
    assert.equal(readFileSync(h.nodeName, "utf8"), "node-1", "no newline");
    assert.equal(mode(h.nodeName), 0o644);
  });

  it("KUBECONFIG_MODE, the cron, an IPv6 service host, SKIP_TLS_VERIFY, KUBE_CA_FILE, --names", () => {
    const h = host(dir, "ipv6");
    rmSync(join(h.sa, "ca.crt"));
    const r = installOnce(
      h,
      {
        KUBERNETES_SERVICE_HOST: "fd00:10:96::1",
        SKIP_TLS_VERIFY: "true",
        KUBECONFIG_MODE: "640",
        WHEREABOUTS_RECONCILER_CRON: "0 */2 * * *",
        NODENAME: undefined,
      },
      ["--names", "whereabouts"],
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(h.bin), ["whereabouts"]);
    assert.deepEqual(
      readdirSync(h.sub).sort(),
      ["whereabouts.conf", "whereabouts.kubeconfig"],
      "no NODENAME, no nodename",
    );
    assert.equal(mode(h.kubeconfig), 0o640);
    const doc = load(readFileSync(h.kubeconfig, "utf8")) as { clusters: { cluster: unknown }[] };
    assert.deepEqual(doc.clusters[0]!.cluster, {
      server: "https://[fd00:10:96::1]:443",
      "insecure-skip-tls-verify": true,
    });
    assert.equal(JSON.parse(readFileSync(h.flatFile, "utf8")).reconciler_cron_expression, "0 */2 * * *");

    const other = host(dir, "ca-file");
    const bundle = join(other.root, "bundle.pem");
    writeFileSync(bundle, `${FAKE_CA}${FAKE_CA}`);
    assert.equal(installOnce(other, { KUBE_CA_FILE: bundle }).code, 0);
    const ca = (
      load(readFileSync(other.kubeconfig, "utf8")) as { clusters: { cluster: Record<string, string> }[] }
    ).clusters[0]!.cluster["certificate-authority-data"]!;
    assert.equal(Buffer.from(ca, "base64").toString(), `${FAKE_CA}${FAKE_CA}`);
  });

  it("bad input exits 1 with what to fix, and writes nothing", () => {
    const h = host(dir, "bad");
    const cases: [Record<string, string | undefined>, string[], RegExp][] = [
      [
        { KUBERNETES_SERVICE_HOST: undefined },
        [],
        /^thereabouts install: KUBERNETES_SERVICE_HOST is not set/,
      ],
      [{ KUBECONFIG_MODE: "rw" }, [], /^thereabouts install: KUBECONFIG_MODE "rw" is not an octal file mode/],
      [
        {},
        ["--names", "thereabouts,bin/whereabouts"],
        /--names: "bin\/whereabouts" is not a plain file name/,
      ],
      [
        { CNI_BIN_DIR: join(h.root, "missing") },
        [],
        /CNI_BIN_DIR \S+missing: no such file or directory \(mount the host's CNI plugin directory there/,
      ],
      [
        { KUBE_CA_FILE: join(h.root, "nope.crt") },
        [],
        /cannot read the API server's CA certificate \S+nope.crt: no such file or directory/,
      ],
      [
        {},
        ["--service-account-dir", join(h.root, "elsewhere")],
        /cannot read the ServiceAccount token \S+elsewhere\/token: no such file or directory/,
      ],
    ];
    for (const [extra, args, message] of cases) {
      const r = thereabouts(
        ["install", "--once", "--service-account-dir", h.sa, ...args],
        installEnv(h, extra),
      );
      assert.equal(r.code, 1, `${message}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    }
    writeFileSync(join(h.sa, "token"), "\n");
    const empty = installOnce(h);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /the ServiceAccount token \S+ is empty/);
    assert.deepEqual(readdirSync(h.bin), [], "nothing installed");
    assert.deepEqual(readdirSync(h.conf), [], "no whereabouts.d");
  });

  it("the installed plugin allocates on the embedded store under both names", async () => {
    const h = host(dir, "local");
    assert.equal(installOnce(h).code, 0);
    const store = join(h.root, "store", "store.db");
    const a = await localAdd(join(h.bin, "thereabouts"), store, "pod-a", noAgent);
    const b = await localAdd(join(h.bin, "whereabouts"), store, "pod-b", noAgent);
    assert.deepEqual(addressesOf(a), ["198.18.70.1/28"]);
    assert.deepEqual(addressesOf(b), ["198.18.70.2/28"]);
  });

  it("the kubeconfig it writes works: the installed plugin allocates on the API double (TLS, token)", async () => {
    const api = await startApiDouble({ tls: true, token: TOKEN, anonymousAuth: false });
    try {
      const h = host(dir, "kube");
      writeFileSync(join(h.sa, "ca.crt"), api.caPem!);
      const r = installOnce(h, {
        KUBERNETES_SERVICE_HOST: "127.0.0.1",
        KUBERNETES_SERVICE_PORT: new URL(api.url).port,
        WHEREABOUTS_NAMESPACE: "cni-pools",
      });
      assert.equal(r.code, 0, r.stderr);
      const call = (file: string, ipam: Record<string, unknown>, pod: string) =>
        run(
          {
            command: "ADD",
            config: netConf({ type: "whereabouts", range: "10.70.0.0/24", ...ipam }),
            containerId: `ctr-${pod}`,
            ifName: "net1",
            netns: `/var/run/netns/${pod}`,
            cniArgs: podArgs(pod),
            env: { THEREABOUTS_AGENT_SOCKET: noAgent },
          },
          { file },
        );
      const direct = await call(
        join(h.bin, "whereabouts"),
        { datastore: "kubernetes", kubernetes: { kubeconfig: h.kubeconfig } },
        "pod-k1",
      );
      assert.deepEqual(addressesOf(direct), ["10.70.0.1/24"]);
      // Through the flat file alone, as a NetworkAttachmentDefinition that names only a range does
      // on a node (configuration_path stands in for the default /etc/cni/net.d search).
      const viaFlatFile = await call(join(h.bin, "thereabouts"), { configuration_path: h.sub }, "pod-k2");
      assert.deepEqual(addressesOf(viaFlatFile), ["10.70.0.2/24"]);
      const objects = await rawObjects(api, "cni-pools");
      assert.deepEqual(
        objects.pools.map((p) => Object.keys(p.spec.allocations).sort()),
        [["1", "2"]],
        "both in the namespace WHEREABOUTS_NAMESPACE names",
      );
    } finally {
      await api.stop();
    }
  });

  it("an identical install leaves every file untouched (inode and mtime)", () => {
    const h = host(dir, "again");
    assert.equal(installOnce(h).code, 0);
    const paths = [
      h.kubeconfig,
      h.flatFile,
      h.nodeName,
      join(h.bin, "thereabouts"),
      join(h.bin, "whereabouts"),
    ];
    const before = paths.map((p) => statSync(p));
    const r = installOnce(h);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.stderr.trimEnd().split("\n"),
      paths.map((p) => `${p} up to date`),
    );
    const same = (a: Stats, b: Stats) => a.ino === b.ino && a.mtimeMs === b.mtimeMs;
    for (const [i, p] of paths.entries()) assert.ok(same(before[i]!, statSync(p)), `${p} untouched`);
  });

  it("without --once: token and CA changes reach the kubeconfig within 2 s, never half written; SIGTERM leaves everything", async () => {
    const h = host(dir, "rotation");
    const running = startInstall(h, { KUBECONFIG_MODE: "0640" });
    try {
      await running.waitFor(/^watching .*token and .*ca\.crt for changes$/);
      const first = readFileSync(h.kubeconfig, "utf8");
      assert.equal(tokenOf(first), TOKEN);

      const rotated = `${TOKEN}x2`;
      // A reader in a tight loop meanwhile: every read is a whole kubeconfig with one of the tokens.
      let reads = 0;
      let changedAt: number | undefined;
      const started = performance.now();
      replaceAtomically(join(h.sa, "token"), `${rotated}\n`);
      while (performance.now() - started < 4_000) {
        const text = readFileSync(h.kubeconfig, "utf8");
        reads++;
        assert.ok(text.endsWith("current-context: whereabouts-context\n"), `whole file (read ${reads})`);
        const token = tokenOf(text);
        assert.ok(token === TOKEN || token === rotated, `one of the tokens (read ${reads})`);
        if (token === rotated) {
          changedAt = performance.now() - started;
          break;
        }
        if (reads % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      assert.ok(changedAt !== undefined && changedAt < 2_000, `rewritten within 2 s (after ${changedAt} ms)`);
      assert.ok(reads > 100, `the reader kept reading (${reads} reads)`);
      assert.equal(mode(h.kubeconfig), 0o640, "the same mode");
      await running.waitFor(/^kubeconfig rewritten: token changed$/);

      const ca2 = FAKE_CA.replace("fake", "fak2");
      replaceAtomically(join(h.sa, "ca.crt"), ca2);
      await running.waitFor(/^kubeconfig rewritten: CA changed$/, 2_000);
      const doc = load(readFileSync(h.kubeconfig, "utf8")) as {
        clusters: { cluster: Record<string, string> }[];
      };
      assert.equal(
        Buffer.from(doc.clusters[0]!.cluster["certificate-authority-data"]!, "base64").toString(),
        ca2,
      );

      // A token that cannot be read keeps the kubeconfig, and is said once.
      const kept = readFileSync(h.kubeconfig, "utf8");
      unlinkSync(join(h.sa, "token"));
      await sleep(3_500);
      assert.equal(readFileSync(h.kubeconfig, "utf8"), kept);
      assert.equal(
        running.lines.filter((l) => l.startsWith("kubeconfig kept:")).length,
        1,
        running.lines.join("\n"),
      );
      assert.match(
        running.lines.find((l) => l.startsWith("kubeconfig kept:"))!,
        /^kubeconfig kept: cannot read the ServiceAccount token \S+\/token: no such file or directory/,
      );
      replaceAtomically(join(h.sa, "token"), rotated);
      await running.waitFor(/^token and CA readable again, kubeconfig unchanged$/, 2_000);

      // Another writer (Go's token-watcher.sh during a migration) replaces it, then it is removed:
      // put back within 2 s each time.
      const ours = readFileSync(h.kubeconfig, "utf8");
      replaceAtomically(h.kubeconfig, "# Kubeconfig file for Multus CNI plugin.\napiVersion: v1\n");
      await running.waitFor(/^kubeconfig rewritten: the file changed$/, 2_000);
      assert.equal(readFileSync(h.kubeconfig, "utf8"), ours);
      unlinkSync(h.kubeconfig);
      const deadline = Date.now() + 2_000;
      while (!existsSync(h.kubeconfig) && Date.now() < deadline) await sleep(50);
      assert.equal(readFileSync(h.kubeconfig, "utf8"), ours, "a removed kubeconfig is written again");

      running.child.kill("SIGTERM");
      assert.deepEqual(await running.exit(), { code: 0, signal: null });
      assert.match(running.lines.at(-1)!, /^SIGTERM: exiting, every installed file stays$/);
      for (const path of [
        join(h.bin, "thereabouts"),
        join(h.bin, "whereabouts"),
        h.kubeconfig,
        h.flatFile,
        h.nodeName,
      ])
        assert.ok(existsSync(path), `${path} stays`);
      assert.doesNotMatch(running.lines.join("\n"), new RegExp(TOKEN), "no token in the log");
    } finally {
      running.child.kill("SIGKILL");
    }
  });

  it("SIGINT ends it with exit 0 too", async () => {
    const h = host(dir, "sigint");
    const running = startInstall(h);
    try {
      await running.waitFor(/^watching /);
      running.child.kill("SIGINT");
      assert.deepEqual(await running.exit(), { code: 0, signal: null });
      assert.ok(existsSync(join(h.bin, "whereabouts")) && existsSync(h.kubeconfig));
    } finally {
      running.child.kill("SIGKILL");
    }
  });

  it("replaces a Go-installed layout atomically while a process keeps exec'ing the plugin", async () => {
    const h = host(dir, "go-layout");
    // Go's plugin stands in as an ELF executable (a copy of echo: `whereabouts version` prints
    // "version"), as Go's is: a script would race here, since the kernel hands the interpreter
    // the path, which may name the new file by the time the shell opens it.
    const goPlugin = readFileSync("/bin/echo");
    writeFileSync(join(h.bin, "whereabouts"), goPlugin);
    chmodSync(join(h.bin, "whereabouts"), 0o755);
    writeFileSync(join(h.bin, "macvlan"), "#!/bin/sh\n");
    mkdirSync(h.sub);
    const goFlat = `{\n  "datastore": "kubernetes",\n  "configuration_path": "/etc/cni/net.d/whereabouts.d",\n  "kubernetes": {\n    "kubeconfig": "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig"\n  },\n  "reconciler_cron_expression": "30 4 * * *"\n}\n`;
    writeFileSync(h.flatFile, goFlat, { mode: 0o600 });
    writeFileSync(h.kubeconfig, "# Kubeconfig file for Multus CNI plugin.\napiVersion: v1\n", {
      mode: 0o600,
    });
    writeFileSync(h.nodeName, "old-node");
    const inodes = [join(h.bin, "whereabouts"), h.flatFile, h.kubeconfig, h.nodeName].map(
      (p) => statSync(p).ino,
    );

    // Another process execs the plugin path over and over, as a runtime may at any moment.
    const execLoop = spawn(
      process.execPath,
      [
        "-e",
        `const { spawnSync } = require("node:child_process");
         let runs = 0, failures = [], go = 0, ours = 0;
         const end = Date.now() + 60000;
         process.stdin.on("data", () => {});
         let stop = false;
         process.stdin.on("end", () => { stop = true; });
         (function loop() {
           for (let i = 0; i < 5 && Date.now() < end; i++) {
             const r = spawnSync(${JSON.stringify(join(h.bin, "whereabouts"))}, ["version"], { encoding: "utf8" });
             runs++;
             if (r.error) failures.push(r.error.code);
             else if (r.stdout === "version\\n") go++;
             else if (r.stdout.startsWith("thereabouts")) ours++;
             else failures.push("exit " + r.status);
           }
           if (stop && ours > 0) { console.log(JSON.stringify({ runs, failures, go, ours })); return; }
           setImmediate(loop);
         })();`,
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    let out = "";
    execLoop.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    const loopDone = new Promise((resolve) => execLoop.once("exit", resolve));
    try {
      await sleep(300);
      const r = installOnce(h);
      assert.equal(r.code, 0, r.stderr);
      await sleep(300);
      execLoop.stdin!.end();
      await loopDone;
      const result = JSON.parse(out) as { runs: number; failures: string[]; go: number; ours: number };
      assert.deepEqual(result.failures, [], "no exec failed (ETXTBSY, ENOENT)");
      assert.ok(result.go > 0 && result.ours > 0, `ran Go's, then ours: ${out}`);
    } finally {
      execLoop.kill("SIGKILL");
    }

    assert.equal(sha256(join(h.bin, "whereabouts")), SELF_SHA());
    assert.ok(lstatSync(join(h.bin, "whereabouts")).isFile());
    assert.equal(readFileSync(join(h.bin, "macvlan"), "utf8"), "#!/bin/sh\n", "other plugins untouched");
    for (const [i, p] of [join(h.bin, "whereabouts"), h.flatFile, h.kubeconfig, h.nodeName].entries())
      assert.notEqual(statSync(p).ino, inodes[i], `${p} replaced by rename, not written in place`);
    assert.equal(tokenOf(readFileSync(h.kubeconfig, "utf8")), TOKEN);
    assert.equal(readFileSync(h.nodeName, "utf8"), "node-1");
    assert.deepEqual(JSON.parse(readFileSync(h.flatFile, "utf8")).kubernetes, { kubeconfig: h.kubeconfig });

    // Uninstall removes what install wrote, and only that.
    writeFileSync(join(h.sub, "other.conf"), "{}");
    writeFileSync(join(h.conf, "10-macvlan.conflist"), "{}");
    const u = thereabouts(["uninstall"], installEnv(h));
    assert.equal(u.code, 0, u.stderr);
    assert.deepEqual(readdirSync(h.bin), ["macvlan"]);
    assert.deepEqual(
      readdirSync(h.sub),
      ["other.conf"],
      "a foreign file in whereabouts.d stays, and so does the directory",
    );
    assert.match(u.stderr, /kept \S+whereabouts\.d: it holds other files/);
    assert.deepEqual(readdirSync(h.conf).sort(), ["10-macvlan.conflist", "whereabouts.d"]);

    // Go's plugin put back under one of the names is not ours to remove.
    writeFileSync(join(h.bin, "whereabouts"), goPlugin);
    rmSync(join(h.sub, "other.conf"));
    const again = thereabouts(["uninstall"], installEnv(h));
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /^kept \S+\/whereabouts: not this executable/m);
    assert.deepEqual(readFileSync(join(h.bin, "whereabouts")), goPlugin);
    assert.deepEqual(readdirSync(h.conf), ["10-macvlan.conflist"], "the empty whereabouts.d is removed");
  });
});
