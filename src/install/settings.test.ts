import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type InstallSettings, installSettings, uninstallTargets } from "./settings.ts";

const POD = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };

function settings(env: Record<string, string>, args: string[] = []): InstallSettings {
  const s = installSettings(args, env);
  assert.notEqual(s, "help");
  return s as InstallSettings;
}

describe("install settings: environment and flags", () => {
  it("defaults are those of Whereabouts' installer", () => {
    const s = settings(POD);
    assert.deepEqual(s, {
      binDir: "/host/opt/cni/bin",
      confDir: "/host/etc/cni/net.d",
      names: ["thereabouts", "whereabouts"],
      once: false,
      cluster: {
        server: "https://10.96.0.1:443",
        namespace: undefined,
        tokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
        caFile: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
        skipTlsVerify: false,
      },
      kubeconfigMode: 0o600,
      cron: "30 4 * * *",
      nodeName: undefined,
      multus: undefined,
    });
    assert.ok(Object.isFrozen(s) && Object.isFrozen(s.cluster) && Object.isFrozen(s.names));
  });

  it("every variable and flag is taken; empty variables count as unset", () => {
    const s = settings(
      {
        ...POD,
        CNI_BIN_DIR: "/host/opt/cni/bin/",
        CNI_CONF_DIR: "/etc/kubernetes/cni/net.d",
        KUBERNETES_SERVICE_PORT: "6443",
        KUBE_CA_FILE: "/etc/ca/bundle.pem",
        KUBECONFIG_MODE: "0640",
        WHEREABOUTS_NAMESPACE: "openshift-multus",
        NODENAME: "worker-1.example.com",
        WHEREABOUTS_RECONCILER_CRON: " */5 * * * * ",
        SKIP_TLS_VERIFY: "",
        KUBERNETES_SERVICE_PROTOCOL: "",
      },
      ["--once", "--names", "whereabouts", "--service-account-dir", "/sa"],
    );
    assert.equal(s.binDir, "/host/opt/cni/bin");
    assert.equal(s.confDir, "/etc/kubernetes/cni/net.d");
    assert.deepEqual(s.names, ["whereabouts"]);
    assert.equal(s.once, true);
    assert.deepEqual(s.cluster, {
      server: "https://10.96.0.1:6443",
      namespace: "openshift-multus",
      tokenFile: "/sa/token",
      caFile: "/etc/ca/bundle.pem",
      skipTlsVerify: false,
    });
    assert.equal(s.kubeconfigMode, 0o640);
    assert.equal(s.nodeName, "worker-1.example.com");
    assert.equal(s.cron, "*/5 * * * *");
    assert.equal(settings(POD, ["--service-account-dir", "/sa/"]).cluster.caFile, "/sa/ca.crt");
  });

  it("an IPv6 service host is put in brackets, once", () => {
    for (const host of ["fd00:10:96::1", "[fd00:10:96::1]"])
      assert.equal(
        settings({ ...POD, KUBERNETES_SERVICE_HOST: host }).cluster.server,
        "https://[fd00:10:96::1]:443",
      );
    assert.equal(
      settings({ ...POD, KUBERNETES_SERVICE_HOST: "kubernetes.default.svc" }).cluster.server,
      "https://kubernetes.default.svc:443",
    );
  });

  it("SKIP_TLS_VERIFY=true trusts no CA; plain http has none to trust", () => {
    assert.deepEqual(
      { ...settings({ ...POD, SKIP_TLS_VERIFY: "true" }).cluster },
      {
        server: "https://10.96.0.1:443",
        namespace: undefined,
        tokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
        caFile: undefined,
        skipTlsVerify: true,
      },
    );
    const http = settings({ ...POD, KUBERNETES_SERVICE_PROTOCOL: "http", SKIP_TLS_VERIFY: "true" }).cluster;
    assert.equal(http.server, "http://10.96.0.1:443");
    assert.equal(http.caFile, undefined);
    assert.equal(http.skipTlsVerify, false);
    assert.equal(settings({ ...POD, SKIP_TLS_VERIFY: "false" }).cluster.skipTlsVerify, false);
  });

  it("bad input is refused with what to fix", () => {
    const cases: [string, Record<string, string | undefined>, string[], RegExp][] = [
      [
        "no service host",
        { ...POD, KUBERNETES_SERVICE_HOST: undefined },
        [],
        /^KUBERNETES_SERVICE_HOST is not set: run install in a pod/,
      ],
      ["no service port", { ...POD, KUBERNETES_SERVICE_PORT: "" }, [], /^KUBERNETES_SERVICE_PORT is not set/],
      [
        "port 0",
        { ...POD, KUBERNETES_SERVICE_PORT: "0" },
        [],
        /^KUBERNETES_SERVICE_PORT "0" is not a port number \(1-65535\)$/,
      ],
      ["port 65536", { ...POD, KUBERNETES_SERVICE_PORT: "65536" }, [], /KUBERNETES_SERVICE_PORT "65536"/],
      ["port tcp://", { ...POD, KUBERNETES_SERVICE_PORT: "tcp://10.0.0.1:443" }, [], /is not a port number/],
      [
        "bad IPv6",
        { ...POD, KUBERNETES_SERVICE_HOST: "fd00::zz" },
        [],
        /^KUBERNETES_SERVICE_HOST "fd00::zz" is not an IP address or DNS name/,
      ],
      ["host with a space", { ...POD, KUBERNETES_SERVICE_HOST: "a b" }, [], /KUBERNETES_SERVICE_HOST "a b"/],
      [
        "host with a port",
        { ...POD, KUBERNETES_SERVICE_HOST: "10.0.0.1:443" },
        [],
        /KUBERNETES_SERVICE_HOST "10.0.0.1:443"/,
      ],
      [
        "protocol",
        { ...POD, KUBERNETES_SERVICE_PROTOCOL: "ftp" },
        [],
        /^KUBERNETES_SERVICE_PROTOCOL "ftp": expected https \(the default\) or http$/,
      ],
      [
        "skip verify",
        { ...POD, SKIP_TLS_VERIFY: "yes" },
        [],
        /^SKIP_TLS_VERIFY "yes": expected true or false$/,
      ],
      [
        "mode 999",
        { ...POD, KUBECONFIG_MODE: "999" },
        [],
        /^KUBECONFIG_MODE "999" is not an octal file mode such as 600 or 640$/,
      ],
      ["mode rw", { ...POD, KUBECONFIG_MODE: "rw-------" }, [], /KUBECONFIG_MODE "rw-------"/],
      ["mode setuid", { ...POD, KUBECONFIG_MODE: "4755" }, [], /KUBECONFIG_MODE "4755"/],
      [
        "namespace",
        { ...POD, WHEREABOUTS_NAMESPACE: "Kube_System" },
        [],
        /^WHEREABOUTS_NAMESPACE "Kube_System" is not a namespace name/,
      ],
      [
        "node name",
        { ...POD, NODENAME: "node/1" },
        [],
        /^NODENAME "node\/1" is not a node name.*spec\.nodeName$/,
      ],
      [
        "cron",
        { ...POD, WHEREABOUTS_RECONCILER_CRON: "61 * * * *" },
        [],
        /^WHEREABOUTS_RECONCILER_CRON: invalid cron expression "61 \* \* \* \*"/,
      ],
      ["cron fields", { ...POD, WHEREABOUTS_RECONCILER_CRON: "* *" }, [], /expected exactly 5 fields/],
      [
        "relative bin dir",
        { ...POD, CNI_BIN_DIR: "opt/cni/bin" },
        [],
        /^CNI_BIN_DIR "opt\/cni\/bin" must be an absolute path$/,
      ],
      [
        "relative conf dir",
        { ...POD, CNI_CONF_DIR: "./net.d" },
        [],
        /^CNI_CONF_DIR ".\/net.d" must be an absolute path$/,
      ],
      [
        "relative CA",
        { ...POD, KUBE_CA_FILE: "ca.crt" },
        [],
        /^KUBE_CA_FILE "ca.crt" must be an absolute path$/,
      ],
      [
        "relative SA dir",
        POD,
        ["--service-account-dir", "sa"],
        /^--service-account-dir "sa" must be an absolute path$/,
      ],
      [
        "name with a slash",
        POD,
        ["--names", "thereabouts,../whereabouts"],
        /^--names: "..\/whereabouts" is not a plain file name .*no "\/"/,
      ],
      ["hidden name", POD, ["--names", ".whereabouts"], /--names: ".whereabouts" is not a plain file name/],
      [
        "empty name",
        POD,
        ["--names", "thereabouts,,whereabouts"],
        /^--names "thereabouts,,whereabouts" has an empty name/,
      ],
      ["no name", POD, ["--names", ""], /--names "" has an empty name/],
      ["name twice", POD, ["--names", "whereabouts,whereabouts"], /^--names lists "whereabouts" twice$/],
      ["unknown flag", POD, ["--frobnicate"], /Unknown option '--frobnicate'/],
      ["positional", POD, ["now"], /Unexpected argument 'now'/],
    ];
    for (const [what, env, args, message] of cases)
      assert.throws(() => installSettings(args, env), { message }, what);
  });

  it("--help is answered before anything else is checked", () => {
    assert.equal(installSettings(["--help"], {}), "help");
    assert.equal(uninstallTargets(["-h"], {}), "help");
  });

  it("uninstall needs only the targets: no API server, no token", () => {
    assert.deepEqual(uninstallTargets(["--names", "whereabouts", "--once"], { CNI_BIN_DIR: "/b" }), {
      binDir: "/b",
      confDir: "/host/etc/cni/net.d",
      names: ["whereabouts"],
      multus: undefined,
    });
    assert.throws(() => uninstallTargets(["--names", "a/b"], {}), /not a plain file name/);
  });
});

describe("install settings: --multus", () => {
  const multus = (args: string[], env: Record<string, string> = {}) => {
    const s = settings({ ...POD, ...env }, ["--multus", ...args]);
    return { s, m: s.multus! };
  };

  it("adds multus to the names; defaults as Multus' thin entrypoint (auto, the conf dir, nothing extra written)", () => {
    const { s, m } = multus([], { CNI_CONF_DIR: "/host/etc/kubernetes/cni/net.d" });
    assert.deepEqual(s.names, ["thereabouts", "whereabouts", "multus"]);
    assert.deepEqual(m, {
      confFile: undefined,
      autoconfigDir: "/host/etc/kubernetes/cni/net.d",
      masterFileName: undefined,
      options: {
        cniVersion: undefined,
        overrideNetworkName: false,
        namespaceIsolation: false,
        globalNamespaces: undefined,
        logLevel: undefined,
        logFile: undefined,
        logToStderr: true,
        readinessIndicatorFile: undefined,
        binDir: undefined,
      },
    });
    assert.ok(Object.isFrozen(m) && Object.isFrozen(m.options) && Object.isFrozen(s.names));
    assert.deepEqual(
      multus(["--names", "multus,thereabouts"]).s.names,
      ["multus", "thereabouts"],
      "not twice",
    );
    assert.deepEqual(multus(["--multus-conf-file", "auto"]).m.confFile, undefined);
  });

  it("every option, in both forms the parser takes", () => {
    const { m } = multus([
      "--multus-autoconfig-dir=/host/run/multus/cni/net.d/",
      "--multus-master-cni-file-name",
      "10-ovn-kubernetes.conf",
      "--multus-cni-version=0.4.0",
      "--multus-override-network-name",
      "--multus-namespace-isolation",
      "--multus-global-namespaces",
      " default , shared-nets",
      "--multus-log-level=Verbose",
      "--multus-log-file=/var/log/multus.log",
      "--multus-log-to-stderr=false",
      "--multus-readiness-indicator-file=/run/ovn-kubernetes/cni/ready",
      "--multus-additional-bin-dir=/var/lib/cni/bin",
    ]);
    assert.deepEqual(m, {
      confFile: undefined,
      autoconfigDir: "/host/run/multus/cni/net.d",
      masterFileName: "10-ovn-kubernetes.conf",
      options: {
        cniVersion: "0.4.0",
        overrideNetworkName: true,
        namespaceIsolation: true,
        globalNamespaces: "default,shared-nets",
        logLevel: "verbose",
        logFile: "/var/log/multus.log",
        logToStderr: false,
        readinessIndicatorFile: "/run/ovn-kubernetes/cni/ready",
        binDir: "/var/lib/cni/bin",
      },
    });
    assert.equal(
      multus(["--multus-conf-file", "/tmp/multus-conf/70-multus.conf"]).m.confFile,
      "/tmp/multus-conf/70-multus.conf",
    );
  });

  it("uninstall --multus knows where the configuration went, and ignores the generation flags", () => {
    assert.deepEqual(uninstallTargets(["--multus", "--multus-log-level", "debug"], {}), {
      binDir: "/host/opt/cni/bin",
      confDir: "/host/etc/cni/net.d",
      names: ["thereabouts", "whereabouts", "multus"],
      multus: { confFile: undefined },
    });
    assert.deepEqual(
      (uninstallTargets(["--multus", "--multus-conf-file=/cfg/70-multus.conf"], {}) as { multus: unknown })
        .multus,
      { confFile: "/cfg/70-multus.conf" },
    );
  });

  it("refuses what cannot work, saying what to change", () => {
    const cases: [string[], RegExp][] = [
      [
        ["--multus-log-level", "debug"],
        /^--multus-log-level is a --multus option: add --multus, or drop it$/,
      ],
      [
        ["--multus", "--multus-conf-file", "conf/70.conf"],
        /^--multus-conf-file "conf\/70.conf" must be an absolute path$/,
      ],
      [
        ["--multus", "--multus-conf-file", "/cfg/multus.yaml"],
        /the runtime loads only .conf, .conflist and .json files/,
      ],
      [
        ["--multus", "--multus-conf-file", "/cfg/m.conf", "--multus-namespace-isolation"],
        /^--multus-namespace-isolation shapes the generated configuration, and --multus-conf-file installs a given one: drop one of them$/,
      ],
      [
        ["--multus", "--multus-cni-version", "0.5.0"],
        /^--multus-cni-version "0.5.0" is not a CNI version multus speaks \(0.1.0, /,
      ],
      [
        ["--multus", "--multus-global-namespaces", "default"],
        /only matters with --multus-namespace-isolation/,
      ],
      [
        ["--multus", "--multus-namespace-isolation", "--multus-global-namespaces", "default,Kube_System"],
        /^--multus-global-namespaces: "Kube_System" is not a namespace name/,
      ],
      [
        ["--multus", "--multus-namespace-isolation", "--multus-global-namespaces", "a,,b"],
        /"" is not a namespace name/,
      ],
      [
        ["--multus", "--multus-log-level", "info"],
        /^--multus-log-level: Log levels should be one of: debug\/verbose\/error\/panic, did not understand: "info"$/,
      ],
      [
        ["--multus", "--multus-log-to-stderr", "no"],
        /^--multus-log-to-stderr "no": expected true \(the default\) or false$/,
      ],
      [
        ["--multus", "--multus-log-file", "multus.log"],
        /^--multus-log-file "multus.log" must be an absolute path$/,
      ],
      [["--multus", "--multus-readiness-indicator-file", "ready"], /must be an absolute path/],
      [["--multus", "--multus-additional-bin-dir", "bin"], /must be an absolute path/],
      [["--multus", "--multus-autoconfig-dir", "net.d"], /must be an absolute path/],
      [
        ["--multus", "--multus-master-cni-file-name", "../10-x.conf"],
        /is not a file name in the configuration directory/,
      ],
      [
        ["--multus", "--multus-master-cni-file-name", "00-multus.conf"],
        /is the file install --multus generates/,
      ],
      [["--multus", "--multus-cleanup-config-on-exit"], /Unknown option '--multus-cleanup-config-on-exit'/],
      [["--multus", "--multus-namespace-isolation=true"], /does not take an argument/],
    ];
    for (const [args, message] of cases)
      assert.throws(() => installSettings(args, POD), { message }, args.join(" "));
  });
});
