// The content of the files install writes: the kubeconfig (Go's shape, read back by our own
// kubeconfig loader as the plugin reads it), the flat file (Go v0.9.4's keys, read back by the
// plugin's flat-file search) and the host paths in them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { load } from "js-yaml";
import { loadFlatFile } from "../config/flat-file.ts";
import { loadKubeconfig } from "../kube/kubeconfig.ts";
import { readCredentials } from "./credentials.ts";
import { flatFileText } from "./flat-file-text.ts";
import { kubeconfigText, MULTUS_KUBECONFIG, WHEREABOUTS_KUBECONFIG, writtenFor } from "./kubeconfig-text.ts";
import { layoutOf, onHost } from "./layout.ts";
import { type ClusterAccess, DEFAULT_NAMES } from "./settings.ts";

const CA = "-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n";
const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl";
const CLUSTER: ClusterAccess = {
  server: "https://[fd00:10:96::1]:443",
  namespace: "kube-system",
  tokenFile: "/sa/token",
  caFile: "/sa/ca.crt",
  skipTlsVerify: false,
};

describe("the kubeconfig install writes", () => {
  it("has Go's shape: cluster local, user whereabouts, context whereabouts-context, CA as data", () => {
    const text = kubeconfigText(CLUSTER, { token: TOKEN, ca: CA });
    assert.deepEqual(load(text), {
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: "local",
          cluster: {
            server: "https://[fd00:10:96::1]:443",
            "certificate-authority-data": Buffer.from(CA).toString("base64"),
          },
        },
      ],
      users: [{ name: "whereabouts", user: { token: TOKEN } }],
      contexts: [
        {
          name: "whereabouts-context",
          context: { cluster: "local", user: "whereabouts", namespace: "kube-system" },
        },
      ],
      "current-context": "whereabouts-context",
    });
  });

  it("is read by the plugin's kubeconfig loader as the connection meant", async () => {
    const text = kubeconfigText({ ...CLUSTER, namespace: "openshift-multus" }, { token: TOKEN, ca: CA });
    const connection = await loadKubeconfig("/k", () => text);
    assert.equal(connection.server, "https://[fd00:10:96::1]:443");
    assert.equal(connection.namespace, "openshift-multus");
    assert.equal(connection.authorization, `Bearer ${TOKEN}`);
    assert.deepEqual(connection.tls, { ca: CA });
  });

  it("multus' (--multus) has Multus' shape: user multus, context multus-context, no namespace; our own first line", async () => {
    const text = kubeconfigText(CLUSTER, { token: TOKEN, ca: CA }, MULTUS_KUBECONFIG);
    assert.deepEqual(load(text), {
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: "local",
          cluster: {
            server: "https://[fd00:10:96::1]:443",
            "certificate-authority-data": Buffer.from(CA).toString("base64"),
          },
        },
      ],
      users: [{ name: "multus", user: { token: TOKEN } }],
      contexts: [{ name: "multus-context", context: { cluster: "local", user: "multus" } }],
      "current-context": "multus-context",
    });
    assert.ok(writtenFor(MULTUS_KUBECONFIG, text) && !writtenFor(WHEREABOUTS_KUBECONFIG, text));
    assert.ok(writtenFor(WHEREABOUTS_KUBECONFIG, kubeconfigText(CLUSTER, { token: TOKEN, ca: CA })));
    assert.ok(!writtenFor(MULTUS_KUBECONFIG, "# Kubeconfig file for Multus CNI plugin.\napiVersion: v1\n"));
    const connection = await loadKubeconfig("/k", () => text);
    assert.equal(connection.authorization, `Bearer ${TOKEN}`);
    assert.deepEqual(connection.tls, { ca: CA });
  });

  it("SKIP_TLS_VERIFY writes insecure-skip-tls-verify and no CA; no namespace means kube-system", async () => {
    const cluster = { ...CLUSTER, namespace: undefined, caFile: undefined, skipTlsVerify: true };
    const text = kubeconfigText(cluster, { token: TOKEN, ca: undefined });
    assert.match(text, /\n {4}insecure-skip-tls-verify: true\n/);
    assert.doesNotMatch(text, /certificate-authority|namespace/);
    const connection = await loadKubeconfig("/k", () => text);
    assert.deepEqual(connection.tls, { rejectUnauthorized: false });
    assert.equal(connection.namespace, "kube-system");
  });
});

describe("the flat file install writes", () => {
  const layout = layoutOf({
    binDir: "/host/opt/cni/bin",
    confDir: "/host/etc/cni/net.d",
    names: DEFAULT_NAMES,
    multus: undefined,
  });

  it("holds exactly the keys Go v0.9.4 writes, with host paths", () => {
    const text = flatFileText(layout, "30 4 * * *");
    assert.deepEqual(Object.keys(JSON.parse(text)), [
      "datastore",
      "configuration_path",
      "kubernetes",
      "reconciler_cron_expression",
    ]);
    assert.deepEqual(JSON.parse(text), {
      datastore: "kubernetes",
      configuration_path: "/etc/cni/net.d/whereabouts.d",
      kubernetes: { kubeconfig: "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig" },
      reconciler_cron_expression: "30 4 * * *",
    });
  });

  it("is found and decoded by the plugin's flat-file search at the host path", () => {
    const text = flatFileText(layout, "0 * * * *");
    const files = new Map([["/etc/cni/net.d/whereabouts.d/whereabouts.conf", text]]);
    const flat = loadFlatFile((path) => files.get(path), undefined);
    assert.equal(flat?.path, "/etc/cni/net.d/whereabouts.d/whereabouts.conf");
    assert.equal(flat?.ipam.datastore, "kubernetes");
    assert.equal(flat?.ipam.configurationPath, "/etc/cni/net.d/whereabouts.d");
    assert.equal(flat?.ipam.kubernetes.kubeconfig, "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig");
    assert.equal(flat?.ipam.reconcilerCronExpression, "0 * * * *");
  });

  it("host paths drop a leading /host and nothing else", () => {
    assert.equal(onHost("/host/etc/cni/net.d"), "/etc/cni/net.d");
    assert.equal(onHost("/host"), "/");
    assert.equal(onHost("/hostile/net.d"), "/hostile/net.d");
    assert.equal(onHost("/tmp/host/net.d"), "/tmp/host/net.d");
    assert.deepEqual(layout.binaries, ["/host/opt/cni/bin/thereabouts", "/host/opt/cni/bin/whereabouts"]);
    assert.equal(layout.nodeName, "/host/etc/cni/net.d/whereabouts.d/nodename");
  });
});

describe("the ServiceAccount credentials", () => {
  const files = (entries: Record<string, string>) => (path: string) => {
    const text = entries[path];
    if (text === undefined) throw Object.assign(new Error("missing"), { code: "ENOENT" });
    return text;
  };

  it("the token loses its trailing newline, the CA is read whole", () => {
    assert.deepEqual(readCredentials(CLUSTER, files({ "/sa/token": `${TOKEN}\n`, "/sa/ca.crt": CA })), {
      token: TOKEN,
      ca: CA,
    });
    assert.deepEqual(readCredentials({ ...CLUSTER, caFile: undefined }, files({ "/sa/token": TOKEN })), {
      token: TOKEN,
      ca: undefined,
    });
  });

  it("what cannot be used is refused with what to do, never with what the file holds", () => {
    const secret = "s3cr3t-value";
    const cases: [Record<string, string>, RegExp][] = [
      [
        { "/sa/ca.crt": CA },
        /^cannot read the ServiceAccount token \/sa\/token: no such file or directory \(mount the pod's ServiceAccount token, or point --service-account-dir at its directory\)$/,
      ],
      [{ "/sa/token": "\n", "/sa/ca.crt": CA }, /^the ServiceAccount token \/sa\/token is empty$/],
      [{ "/sa/token": `${secret} two`, "/sa/ca.crt": CA }, /holds characters a bearer token cannot have/],
      [
        { "/sa/token": TOKEN },
        /^cannot read the API server's CA certificate \/sa\/ca.crt: no such file or directory \(set KUBE_CA_FILE to the CA bundle, or SKIP_TLS_VERIFY=true\)$/,
      ],
      [{ "/sa/token": TOKEN, "/sa/ca.crt": secret }, /^the CA file \/sa\/ca.crt holds no PEM certificate/],
    ];
    for (const [entries, message] of cases) {
      const error = (() => {
        try {
          readCredentials(CLUSTER, files(entries));
        } catch (e) {
          return e as Error;
        }
        assert.fail("not refused");
      })();
      assert.match(error.message, message);
      assert.doesNotMatch(error.message, new RegExp(`${secret}|${TOKEN}`));
    }
  });
});
