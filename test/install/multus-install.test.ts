// `thereabouts install --multus` and `uninstall --multus` as a DaemonSet runs them: the shipped
// executable with temporary directories standing in for the host's CNI directories and the pod's
// ServiceAccount, a CNI configuration directory holding the cluster network's files (and others
// that are not), and a long-running install following the master and the token.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startApiDouble } from "../k8s-api/harness.ts";
import { type TempDir, tempDir } from "../support/plugin.ts";
import {
  type Host,
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

const FLANNEL = {
  cniVersion: "0.3.1",
  name: "cbr0",
  plugins: [
    { type: "flannel", delegate: { hairpinMode: true, isDefaultGateway: true } },
    { type: "portmap", capabilities: { portMappings: true } },
    { type: "bandwidth", capabilities: { bandwidth: true } },
  ],
};

interface MultusHost extends Host {
  readonly multusSub: string;
  readonly multusKubeconfig: string;
  /** CNI_CONF_DIR/00-multus.conf */
  readonly multusConf: string;
  readonly multusBinary: string;
}

function multusHost(dir: TempDir, name: string): MultusHost {
  const h = host(dir, name);
  return {
    ...h,
    multusSub: join(h.conf, "multus.d"),
    multusKubeconfig: join(h.conf, "multus.d", "multus.kubeconfig"),
    multusConf: join(h.conf, "00-multus.conf"),
    multusBinary: join(h.bin, "multus"),
  };
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;

/** The master embedded in a generated configuration (.conf or .conflist). */
function delegateOf(conf: Record<string, unknown>): Record<string, unknown> {
  const plugin = (conf["plugins"] as Record<string, unknown>[] | undefined)?.[0] ?? conf;
  return (plugin["delegates"] as Record<string, unknown>[])[0]!;
}

/** Everything under a directory, as relative paths, sorted. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).sort();
}

describe("thereabouts install --multus / uninstall --multus (the shipped executable, temporary host directories)", () => {
  let dir: TempDir;
  before(() => {
    dir = tempDir("thereabouts-multus-install-");
  });
  after(() => dir.remove());

  it("--help lists every --multus option", () => {
    const help = thereabouts(["install", "--help"], {});
    assert.equal(help.code, 0);
    for (const flag of [
      "--multus ",
      "--multus-conf-file",
      "--multus-autoconfig-dir",
      "--multus-master-cni-file-name",
      "--multus-cni-version",
      "--multus-override-network-name",
      "--multus-namespace-isolation",
      "--multus-global-namespaces",
      "--multus-log-level",
      "--multus-log-file",
      "--multus-log-to-stderr",
      "--multus-readiness-indicator-file",
      "--multus-additional-bin-dir",
    ])
      assert.ok(help.stdout.includes(flag), flag);
    assert.match(thereabouts(["uninstall", "--help"], {}).stdout, /--multus/);
  });

  it("auto: the master is the first .conf/.conflist in byte order, others ignored; multus, its kubeconfig and 00-multus.conf with the master's capabilities", () => {
    const h = multusHost(dir, "auto");
    writeJson(join(h.conf, "10-flannel.conflist"), FLANNEL);
    writeJson(join(h.conf, "20-calico.conf"), {
      cniVersion: "0.3.1",
      name: "k8s-pod-network",
      type: "calico",
    });
    writeJson(join(h.conf, "99-loopback.conf"), { cniVersion: "0.3.1", name: "lo", type: "loopback" });
    // Considered by runtimes, not by Multus: .json; never a master: directories, other names,
    // and multus' own files (a stale .conflist of a former install is replaced).
    writeJson(join(h.conf, "0-early.json"), { cniVersion: "0.3.1", name: "j", type: "bridge" });
    mkdirSync(join(h.conf, "01-directory.conf"));
    writeFileSync(join(h.conf, "02-README.md"), "# notes\n");
    writeJson(join(h.conf, "00-multus.conflist"), {
      cniVersion: "1.0.0",
      name: "old",
      plugins: [{ type: "multus" }],
    });

    const r = installOnce(h, {}, ["--multus"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stderr.trimEnd().split("\n"), [
      `wrote ${h.kubeconfig}`,
      `wrote ${h.multusKubeconfig}`,
      `wrote ${h.flatFile}`,
      `wrote ${h.nodeName}`,
      `installed ${h.bin}/thereabouts`,
      `installed ${h.bin}/whereabouts`,
      `installed ${h.multusBinary}`,
      `removed ${h.conf}/00-multus.conflist (00-multus.conf replaces it)`,
      `wrote ${h.multusConf} from ${h.conf}/10-flannel.conflist`,
      `warning: ${h.conf}/0-early.json sorts before 00-multus.conf: the runtime uses it for pods, not multus (rename or remove it)`,
    ]);
    assert.equal(sha256(h.multusBinary), SELF_SHA(), "multus is this executable");
    assert.equal(mode(h.multusBinary), 0o755);
    assert.equal(mode(h.multusConf), 0o600);
    assert.deepEqual(readJson(h.multusConf), {
      cniVersion: "0.3.1",
      name: "multus-cni-network",
      type: "multus",
      capabilities: { bandwidth: true, portMappings: true },
      kubeconfig: h.multusKubeconfig,
      delegates: [FLANNEL],
    });
    assert.equal(mode(h.multusKubeconfig), 0o600);
    const kubeconfig = readFileSync(h.multusKubeconfig, "utf8");
    assert.equal(tokenOf(kubeconfig), TOKEN);
    assert.match(kubeconfig, /\ncurrent-context: multus-context\n$/);
    assert.deepEqual(tree(h.conf), [
      "0-early.json",
      "00-multus.conf",
      "01-directory.conf",
      "02-README.md",
      "10-flannel.conflist",
      "20-calico.conf",
      "99-loopback.conf",
      "multus.d",
      "multus.d/multus.kubeconfig",
      "whereabouts.d",
      "whereabouts.d/nodename",
      "whereabouts.d/whereabouts.conf",
      "whereabouts.d/whereabouts.kubeconfig",
    ]);
    assert.doesNotMatch(r.stderr, new RegExp(TOKEN));

    // Again, identical: nothing rewritten.
    const before = statSync(h.multusConf);
    const again = installOnce(h, {}, ["--multus"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`^${h.multusConf} up to date$`, "m"));
    assert.equal(statSync(h.multusConf).ino, before.ino);
  });

  it("a CNI 1.0.0 master gives 00-multus.conflist (the stale .conf goes); the options reach the file; a named master", () => {
    const h = multusHost(dir, "v1");
    const ptp = {
      cniVersion: "1.0.0",
      name: "podnet",
      type: "ptp",
      capabilities: { ips: true, mac: false },
      ipam: { type: "host-local", subnet: "10.1.0.0/16" },
    };
    writeJson(join(h.conf, "10-ptp.conf"), ptp);
    writeJson(join(h.conf, "05-other.conflist"), FLANNEL);
    writeJson(h.multusConf, { cniVersion: "0.3.1", name: "stale", type: "multus", delegates: [] });
    const r = installOnce(h, { KUBECONFIG_MODE: "640" }, [
      "--multus",
      "--multus-master-cni-file-name",
      "10-ptp.conf",
      "--multus-cni-version=1.0.0",
      "--multus-override-network-name",
      "--multus-namespace-isolation",
      "--multus-global-namespaces",
      "default,shared",
      "--multus-log-level",
      "error",
      "--multus-log-file",
      "/var/log/multus.log",
      "--multus-log-to-stderr=false",
      "--multus-readiness-indicator-file",
      "/run/podnet/ready",
      "--multus-additional-bin-dir",
      "/opt/more/bin",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(h.multusConf), "the stale 00-multus.conf is gone");
    assert.equal(mode(h.multusKubeconfig), 0o640, "KUBECONFIG_MODE, as the plugin's");
    assert.equal(mode(h.kubeconfig), 0o640);
    const list = join(h.conf, "00-multus.conflist");
    assert.match(r.stderr, new RegExp(`^removed ${h.multusConf} \\(00-multus.conflist replaces it\\)$`, "m"));
    assert.match(r.stderr, new RegExp(`^wrote ${list} from ${h.conf}/10-ptp.conf$`, "m"));
    assert.deepEqual(readJson(list), {
      cniVersion: "1.0.0",
      name: "podnet",
      plugins: [
        {
          type: "multus",
          capabilities: { ips: true, mac: false },
          namespaceIsolation: true,
          globalNamespaces: "default,shared",
          logToStderr: false,
          logLevel: "error",
          logFile: "/var/log/multus.log",
          binDir: "/opt/more/bin",
          readinessindicatorfile: "/run/podnet/ready",
          kubeconfig: h.multusKubeconfig,
          delegates: [ptp],
        },
      ],
    });
  });

  it("without --once: the master's change reaches 00-multus.conf within 2 s, whole; a removed master keeps it; token rotation reaches both kubeconfigs; SIGTERM leaves every file", async () => {
    const h = multusHost(dir, "watch");
    const master = join(h.conf, "10-flannel.conflist");
    const withMtu = (mtu: number) => ({
      ...FLANNEL,
      plugins: [{ ...FLANNEL.plugins[0], mtu }, ...FLANNEL.plugins.slice(1)],
    });
    writeJson(master, withMtu(1450));
    const running = startInstall(h, {}, ["--multus"]);
    try {
      await running.waitFor(new RegExp(`^watching ${h.conf} for the master CNI configuration$`));
      const mtu = () => (delegateOf(readJson(h.multusConf))["plugins"] as { mtu?: number }[])[0]!.mtu;
      assert.equal(mtu(), 1450);

      // A reader in a tight loop meanwhile: every read is a whole configuration, old or new.
      const started = performance.now();
      replaceAtomically(master, `${JSON.stringify(withMtu(9000))}\n`);
      let reads = 0;
      let changedAt: number | undefined;
      while (performance.now() - started < 4_000) {
        const now = mtu();
        reads++;
        assert.ok(now === 1450 || now === 9000, `read ${reads}: ${now}`);
        if (now === 9000) {
          changedAt = performance.now() - started;
          break;
        }
        if (reads % 50 === 0) await sleep(1);
      }
      assert.ok(
        changedAt !== undefined && changedAt < 2_000,
        `regenerated within 2 s (after ${changedAt} ms)`,
      );
      await running.waitFor(new RegExp(`^${h.multusConf} regenerated: ${master} changed$`));

      // The master removed (another file there): 00-multus.conf stays as it is, said once.
      const kept = readFileSync(h.multusConf, "utf8");
      writeJson(join(h.conf, "20-other.conf"), { cniVersion: "0.3.1", name: "other", type: "bridge" });
      unlinkSync(master);
      await sleep(2_500);
      assert.equal(readFileSync(h.multusConf, "utf8"), kept);
      assert.deepEqual(
        running.lines.filter((l) => l.includes("is not there")),
        [`master CNI configuration ${master} is not there: the multus configuration is kept until it is`],
      );
      const restored = running.lines.length;
      replaceAtomically(master, JSON.stringify(withMtu(1400)));
      await running.waitFor(new RegExp(`^${h.multusConf} regenerated: ${master} changed$`), 2_000, restored);
      assert.equal(mtu(), 1400);

      // Removed by someone else: put back within 2 s.
      unlinkSync(h.multusConf);
      await running.waitFor(new RegExp(`^${h.multusConf} rewritten: the file changed$`), 2_000, restored);
      assert.equal(mtu(), 1400);

      // The token rotates: both kubeconfigs within 2 s.
      replaceAtomically(join(h.sa, "token"), `${TOKEN}x2\n`);
      await running.waitFor(/^kubeconfig rewritten: token changed$/, 2_000);
      assert.equal(tokenOf(readFileSync(h.kubeconfig, "utf8")), `${TOKEN}x2`);
      assert.equal(tokenOf(readFileSync(h.multusKubeconfig, "utf8")), `${TOKEN}x2`);
      assert.equal(mode(h.multusKubeconfig), 0o600);

      running.child.kill("SIGTERM");
      assert.deepEqual(await running.exit(), { code: 0, signal: null });
      assert.match(running.lines.at(-1)!, /^SIGTERM: exiting, every installed file stays$/);
      for (const path of [
        h.multusBinary,
        h.multusConf,
        h.multusKubeconfig,
        join(h.bin, "thereabouts"),
        h.kubeconfig,
      ])
        assert.ok(existsSync(path), `${path} stays`);
      assert.equal(mtu(), 1400);
      assert.doesNotMatch(running.lines.join("\n"), new RegExp(TOKEN), "no token in the log");
    } finally {
      running.child.kill("SIGKILL");
    }
  });

  it("no master yet: the rest is installed, and 00-multus.conf follows within 2 s of the cluster network's configuration", async () => {
    const h = multusHost(dir, "late");
    const running = startInstall(h, {}, ["--multus"]);
    try {
      await running.waitFor(
        new RegExp(
          `^no CNI configuration \\(.conf or .conflist\\) in ${h.conf} yet to make multus' configuration from$`,
        ),
      );
      await running.waitFor(/^watching /);
      assert.ok(existsSync(h.multusBinary) && existsSync(h.multusKubeconfig));
      assert.ok(!existsSync(h.multusConf));
      const started = performance.now();
      writeJson(join(h.conf, "10-flannel.conflist"), FLANNEL);
      await running.waitFor(
        new RegExp(`^${h.multusConf} written from ${h.conf}/10-flannel.conflist$`),
        2_000,
      );
      assert.ok(performance.now() - started < 2_000);
      assert.deepEqual(delegateOf(readJson(h.multusConf)), FLANNEL);
      running.child.kill("SIGTERM");
      assert.deepEqual(await running.exit(), { code: 0, signal: null });
      assert.ok(existsSync(h.multusConf));
    } finally {
      running.child.kill("SIGKILL");
    }
  });

  it("--multus-conf-file: installed under its own name, mode 0600, with a warning when another file sorts first; uninstall removes it only as it was", () => {
    const h = multusHost(dir, "given");
    const given = join(h.root, "multus-conf", "70-multus.conf");
    mkdirSync(join(h.root, "multus-conf"));
    const text = `${JSON.stringify({ name: "multus-cni-network", type: "multus", delegates: [FLANNEL], kubeconfig: "/etc/cni/net.d/multus.d/multus.kubeconfig" }, null, 2)}\n`;
    writeFileSync(given, text);
    chmodSync(given, 0o644);
    writeJson(join(h.conf, "10-flannel.conflist"), FLANNEL);
    const r = installOnce(h, {}, ["--multus", "--multus-conf-file", given]);
    assert.equal(r.code, 0, r.stderr);
    const installed = join(h.conf, "70-multus.conf");
    assert.equal(readFileSync(installed, "utf8"), text);
    assert.equal(mode(installed), 0o600);
    assert.ok(!existsSync(h.multusConf), "nothing generated");
    assert.match(r.stderr, new RegExp(`^wrote ${installed} from ${given}$`, "m"));
    assert.match(
      r.stderr,
      new RegExp(
        `^warning: ${h.conf}/10-flannel.conflist sorts before 70-multus.conf: the runtime uses it for pods`,
        "m",
      ),
    );
    assert.ok(existsSync(h.multusKubeconfig), "the kubeconfig too, as Multus writes it in both modes");

    const uninstall = (args: string[]) => thereabouts(["uninstall", ...args], installEnv(h));
    writeFileSync(installed, text.replace("multus-cni-network", "edited"));
    const keep = uninstall(["--multus", "--multus-conf-file", given]);
    assert.equal(keep.code, 0, keep.stderr);
    assert.match(
      keep.stderr,
      new RegExp(`^kept ${installed}: not --multus-conf-file ${given} as it is now$`, "m"),
    );
    assert.ok(existsSync(installed));
    assert.equal(installOnce(h, {}, ["--multus", "--multus-conf-file", given]).code, 0);
    const u = uninstall(["--multus", "--multus-conf-file", given]);
    assert.equal(u.code, 0, u.stderr);
    assert.ok(!existsSync(installed));
    assert.deepEqual(tree(h.conf), ["10-flannel.conflist"]);
    assert.deepEqual(readdirSync(h.bin), []);
  });

  it("uninstall --multus removes what install --multus wrote, and only that; plain uninstall leaves Multus; another installer's files stay", () => {
    const h = multusHost(dir, "uninstall");
    writeJson(join(h.conf, "10-flannel.conflist"), FLANNEL);
    writeFileSync(join(h.bin, "macvlan"), "#!/bin/sh\n");
    assert.equal(installOnce(h, {}, ["--multus"]).code, 0);
    const uninstall = (args: string[]) => {
      const r = thereabouts(["uninstall", ...args], installEnv(h));
      assert.equal(r.code, 0, r.stderr);
      return r.stderr;
    };

    // Without --multus, Multus is not touched (its DELs may still need everything).
    uninstall([]);
    assert.deepEqual(readdirSync(h.bin).sort(), ["macvlan", "multus"]);
    assert.deepEqual(tree(h.conf), [
      "00-multus.conf",
      "10-flannel.conflist",
      "multus.d",
      "multus.d/multus.kubeconfig",
    ]);

    assert.equal(installOnce(h, {}, ["--multus"]).code, 0);
    writeFileSync(join(h.multusSub, "notes"), "someone else's\n");
    const log = uninstall(["--multus"]);
    assert.deepEqual(log.trimEnd().split("\n").slice(0, 4), [
      `removed ${h.multusConf}`,
      `removed ${h.bin}/thereabouts`,
      `removed ${h.bin}/whereabouts`,
      `removed ${h.multusBinary}`,
    ]);
    assert.deepEqual(log.trimEnd().split("\n").slice(-2), [
      `removed ${h.multusKubeconfig}`,
      `kept ${h.multusSub}: it holds other files`,
    ]);
    assert.deepEqual(readdirSync(h.bin), ["macvlan"]);
    assert.deepEqual(tree(h.conf), ["10-flannel.conflist", "multus.d", "multus.d/notes"]);

    // Go's Multus put back: its binary, kubeconfig (without our first line) and configuration stay.
    unlinkSync(join(h.multusSub, "notes"));
    const goMultus = readFileSync("/bin/echo");
    writeFileSync(h.multusBinary, goMultus);
    writeFileSync(h.multusKubeconfig, "# Kubeconfig file for Multus CNI plugin.\napiVersion: v1\n");
    writeFileSync(
      h.multusConf,
      JSON.stringify({
        cniVersion: "0.3.1",
        name: "multus-cni-network",
        type: "multus",
        kubeconfig: h.multusKubeconfig,
        delegates: [FLANNEL],
      }),
    );
    const goLog = uninstall(["--multus"]);
    assert.match(
      goLog,
      new RegExp(
        `^kept multus' configuration and ${h.multusSub}/: its kubeconfig was written by another installer$`,
        "m",
      ),
    );
    assert.match(goLog, new RegExp(`^kept ${h.multusBinary}: not this executable`, "m"));
    assert.deepEqual(readFileSync(h.multusBinary), goMultus);
    assert.deepEqual(tree(h.conf), [
      "00-multus.conf",
      "10-flannel.conflist",
      "multus.d",
      "multus.d/multus.kubeconfig",
    ]);

    // A configuration under multus' name that is not a multus one naming our kubeconfig stays.
    unlinkSync(h.multusKubeconfig);
    writeJson(h.multusConf, { cniVersion: "0.3.1", name: "x", type: "bridge" });
    assert.match(
      uninstall(["--multus"]),
      new RegExp(`^kept ${h.multusConf}: not a multus configuration install --multus wrote$`, "m"),
    );
  });

  it("bad input exits 1 with what to fix, and writes nothing; an unknown option is a usage error", () => {
    const h = multusHost(dir, "bad");
    const master = join(h.conf, "10-net.conf");
    const cases: [(() => void) | undefined, string[], RegExp][] = [
      [
        undefined,
        ["--multus"],
        new RegExp(
          `^thereabouts install: no CNI configuration \\(.conf or .conflist\\) in ${h.conf} yet to make multus' configuration from \\(--once does not wait: install the cluster network first, or drop --once\\)$`,
          "m",
        ),
      ],
      [
        () => writeFileSync(master, '{"cniVersion": "0.4.0", "type": "bridge", "token": s3cr3t}'),
        ["--multus"],
        new RegExp(
          `^thereabouts install: master CNI configuration ${master}: not valid JSON \\(invalid character .* at line 1, column 52\\)$`,
          "m",
        ),
      ],
      [
        () => writeJson(master, { cniVersion: "0.9.9", type: "bridge" }),
        ["--multus"],
        /cniVersion "0.9.9" is not one multus speaks/,
      ],
      [
        () => writeJson(master, { cniVersion: "0.4.0", type: "bridge" }),
        ["--multus", "--multus-cni-version", "0.3.1"],
        /Multus cni version is "0.3.1" while master plugin cni version is "0.4.0"/,
      ],
      [
        undefined,
        ["--multus", "--multus-master-cni-file-name", "30-missing.conf"],
        /30-missing.conf is not there/,
      ],
      [
        undefined,
        ["--multus", "--multus-conf-file", join(h.root, "nope.conf")],
        /^thereabouts install: cannot read --multus-conf-file \S+nope.conf: no such file or directory$/m,
      ],
      [
        undefined,
        ["--multus", "--multus-log-level", "info"],
        /Log levels should be one of: debug\/verbose\/error\/panic/,
      ],
      [
        undefined,
        ["--multus-namespace-isolation"],
        /^thereabouts install: --multus-namespace-isolation is a --multus option: add --multus, or drop it$/,
      ],
    ];
    for (const [setup, args, message] of cases) {
      setup?.();
      const r = installOnce(h, {}, args);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr.trimEnd(), message);
      assert.doesNotMatch(r.stderr, /s3cr3t|\n\s+at /, "no content, no stack trace");
      assert.deepEqual(readdirSync(h.bin), [], "nothing installed");
      assert.deepEqual(
        readdirSync(h.conf).filter((f) => f !== "10-net.conf"),
        [],
        "nothing written",
      );
    }
    const unknown = installOnce(h, {}, ["--multus", "--multus-cleanup-config-on-exit"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown option '--multus-cleanup-config-on-exit'/);
    assert.match(unknown.stderr, /Run 'thereabouts install --help' for usage/);
  });

  it("the multus kubeconfig works: kubectl reads a pod from the API double with it (TLS, token)", async () => {
    const api = await startApiDouble({ tls: true, token: TOKEN, anonymousAuth: false });
    try {
      const h = multusHost(dir, "kube");
      writeFileSync(join(h.sa, "ca.crt"), api.caPem!);
      writeJson(join(h.conf, "10-flannel.conflist"), FLANNEL);
      const r = installOnce(
        h,
        { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: new URL(api.url).port },
        ["--multus"],
      );
      assert.equal(r.code, 0, r.stderr);
      const created = await api.request("POST", "/api/v1/namespaces/apps/pods", {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "web" },
        spec: { containers: [{ name: "c", image: "busybox" }] },
      });
      assert.equal(created.status, 201, created.body);
      const kubectl = spawnSync(
        "kubectl",
        [
          "--kubeconfig",
          h.multusKubeconfig,
          "--cache-dir",
          join(h.root, "kube-cache"),
          "get",
          "pod",
          "web",
          "-n",
          "apps",
          "-o",
          "jsonpath={.metadata.name}",
        ],
        { encoding: "utf8", env: { PATH: process.env["PATH"] } },
      );
      assert.equal(kubectl.status, 0, kubectl.stderr);
      assert.equal(kubectl.stdout, "web");
    } finally {
      await api.stop();
    }
  });
});
