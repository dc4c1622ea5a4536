import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StoreRefusedError, StoreSettingsError } from "../errors/errors.ts";
import { type KubeConnection, loadKubeconfig } from "./kubeconfig.ts";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const b64 = (text: string) => Buffer.from(text).toString("base64");

/** A file system of `files`; anything else is ENOENT. */
function fs(files: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = files[path];
    if (text === undefined)
      throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: "ENOENT" });
    return text;
  };
}

function kubeconfig(cluster: string, user: string, context = "    cluster: local\n    user: u\n"): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: local",
    "  cluster:",
    cluster,
    "users:",
    "- name: u",
    "  user:",
    user,
    "contexts:",
    "- name: ctx",
    "  context:",
    context,
    "current-context: ctx",
  ].join("\n");
}

function load(text: string, more: Record<string, string> = {}): Promise<KubeConnection> {
  return loadKubeconfig(
    "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig",
    fs({
      "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig": text,
      ...more,
    }),
  );
}

async function rejects(
  text: string,
  pattern: RegExp,
  more: Record<string, string> = {},
): Promise<StoreSettingsError> {
  let caught: unknown;
  try {
    await load(text, more);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof StoreSettingsError, String(caught));
  assert.match(`${caught.message} | ${caught.details ?? ""}`, pattern);
  return caught;
}

describe("loadKubeconfig", () => {
  it("reads install-cni.sh's kubeconfig: server, CA data, token, namespace", async () => {
    const c = await load(
      kubeconfig(
        `    server: https://10.96.0.1:443/\n    certificate-authority-data: ${b64(PEM)}`,
        '    token: "eyJhbGciOi.x.y"',
        "    cluster: local\n    user: u\n    namespace: whereabouts",
      ),
    );
    assert.deepEqual(c, {
      kubeconfig: "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig",
      server: "https://10.96.0.1:443",
      namespace: "whereabouts",
      tls: { ca: PEM },
      authorization: "Bearer eyJhbGciOi.x.y",
    });
  });

  it("uses kube-system when the context has no namespace", async () => {
    assert.equal(
      (await load(kubeconfig("    server: http://api:80", "    token: t"))).namespace,
      "kube-system",
    );
  });

  it("resolves relative files against the kubeconfig's directory; tokenFile wins over token", async () => {
    const c = await load(
      kubeconfig(
        "    server: https://api:6443\n    certificate-authority: ca.crt",
        "    tokenFile: token\n    token: stale\n    client-certificate: /abs/client.crt\n    client-key: client.key",
      ),
      {
        "/etc/cni/net.d/whereabouts.d/ca.crt": PEM,
        "/etc/cni/net.d/whereabouts.d/token": "rotated\n",
        "/abs/client.crt": "CERT",
        "/etc/cni/net.d/whereabouts.d/client.key": "KEY",
      },
    );
    assert.deepEqual(c.tls, { ca: PEM, cert: "CERT", key: "KEY" });
    assert.equal(c.authorization, "Bearer rotated");
  });

  it("falls back to token when tokenFile cannot be read, and names the file when there is none", async () => {
    const text = (token: string) =>
      kubeconfig("    server: https://api", `    tokenFile: /var/run/t\n${token}`);
    assert.equal((await load(text("    token: static"))).authorization, "Bearer static");
    await rejects(
      text("    username: ''"),
      /^open \/var\/run\/t: no such file or directory \| tokenFile of user "u"/,
    );
  });

  it("prefers -data over files, and supports basic auth", async () => {
    const c = await load(
      kubeconfig(
        `    server: https://api\n    certificate-authority-data: ${b64(PEM)}\n    certificate-authority: /missing`,
        `    client-certificate-data: ${b64("CERT")}\n    client-key-data: ${b64("KEY")}\n    username: admin\n    password: pw`,
      ),
    );
    assert.deepEqual(c.tls, { ca: PEM, cert: "CERT", key: "KEY" });
    assert.equal(c.authorization, `Basic ${b64("admin:pw")}`);
  });

  it("a client certificate alone authenticates (no Authorization header)", async () => {
    const c = await load(
      kubeconfig(
        "    server: https://api",
        `    client-certificate-data: ${b64("CERT")}\n    client-key-data: ${b64("KEY")}`,
      ),
    );
    assert.equal(c.authorization, undefined);
    await rejects(
      kubeconfig("    server: https://api", `    client-certificate-data: ${b64("CERT")}`),
      /both client-certificate and client-key/,
    );
  });

  it("insecure-skip-tls-verify turns verification off, and cannot be combined with a CA", async () => {
    const c = await load(
      kubeconfig("    server: https://api\n    insecure-skip-tls-verify: true", "    token: t"),
    );
    assert.deepEqual(c.tls, { rejectUnauthorized: false });
    await rejects(
      kubeconfig(
        `    server: https://api\n    insecure-skip-tls-verify: true\n    certificate-authority-data: ${b64(PEM)}`,
        "    token: t",
      ),
      /root certificates file with the insecure flag is not allowed/,
    );
  });

  it("refuses exec and auth-provider users unless they also carry static credentials", async () => {
    const exec =
      "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws-iam-authenticator";
    const refused = await rejects(
      kubeconfig("    server: https://api", exec),
      /user "u" authenticates with an exec credential plugin \(aws-iam-authenticator\), which thereabouts does not run \| $/,
    );
    // What to use instead depends on who reads it (the plugin's operator, the controller's): the
    // facts say what it is about, the caller's edge advises.
    assert.deepEqual(refused.facts, {
      settings: "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig",
      topic: "credentialHelper",
    });
    const provider = await rejects(
      kubeconfig("    server: https://api", "    auth-provider:\n      name: gcp"),
      /auth-provider "gcp"/,
    );
    assert.equal(provider.facts.topic, "credentialHelper");
    assert.equal(
      (await load(kubeconfig("    server: https://api", `${exec}\n    token: t`))).authorization,
      "Bearer t",
    );
  });

  it("explains missing pieces: file, current-context, cluster, server, user", async () => {
    await assert.rejects(loadKubeconfig("/nope", fs({})), (e: unknown) => {
      assert.ok(e instanceof StoreSettingsError, String(e));
      assert.equal(e.message, "open /nope: no such file or directory");
      assert.deepEqual(e.facts, { settings: "/nope", topic: "settingsFile" });
      return true;
    });
    await rejects(
      "apiVersion: v1\nkind: Config\n",
      /^k8s config: namespace not present in context \| .*no current-context/,
    );
    await rejects(
      kubeconfig("    server: https://api", "    token: t").replace(
        "current-context: ctx",
        "current-context: other",
      ),
      /namespace not present in context \| .*"other" is not among its contexts/,
    );
    await rejects(
      kubeconfig("    server: https://api", "    token: t", "    cluster: elsewhere\n    user: u"),
      /cluster "elsewhere" of context "ctx" not found/,
    );
    await rejects(
      kubeconfig("    insecure-skip-tls-verify: true", "    token: t"),
      /no server found for cluster "local"/,
    );
    await rejects(kubeconfig("    server: ftp://api", "    token: t"), /is not an http\(s\) URL/);
    await rejects(
      kubeconfig("    server: https://api", "    token: t", "    cluster: local\n    user: ghost"),
      /user "ghost" of context "ctx" not found/,
    );
    await rejects(
      "clusters: [\n",
      /^error loading config file "\/etc\/cni\/net\.d\/whereabouts\.d\/whereabouts\.kubeconfig": /,
    );
    assert.equal((await rejects("- a\n- b\n", /not a kubeconfig mapping/)).facts.topic, "settingsFile");
    const missingCa = await rejects(
      kubeconfig("    server: https://api\n    certificate-authority: ca.pem", "    token: t"),
      /^open \/etc\/cni\/net\.d\/whereabouts\.d\/ca\.pem: no such file or directory \| certificate-authority in kubeconfig /,
    );
    assert.equal(missingCa.facts.topic, undefined, "a file it names: the details say which");
  });

  it("a kubeconfig that is there but cannot be read is refused (not a settings fault), still about the file", async () => {
    const denied = (path: string): string => {
      throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: "EACCES" });
    };
    await assert.rejects(loadKubeconfig("/etc/kubeconfig", denied), (e: unknown) => {
      assert.ok(e instanceof StoreRefusedError, String(e));
      assert.equal(e.message, "open /etc/kubeconfig: permission denied");
      assert.deepEqual(e.facts, { settings: "/etc/kubeconfig", topic: "settingsFile" });
      return true;
    });
  });

  it("accepts the JSON form and YAML 1.1 booleans, as client-go does", async () => {
    const json = JSON.stringify({
      clusters: [{ name: "c", cluster: { server: "https://api", "insecure-skip-tls-verify": true } }],
      users: [{ name: "u", user: { token: "t" } }],
      contexts: [{ name: "x", context: { cluster: "c", user: "u", namespace: "ns" } }],
      "current-context": "x",
    });
    assert.equal((await load(json)).namespace, "ns");
    assert.deepEqual(
      (await load(kubeconfig("    server: https://api\n    insecure-skip-tls-verify: yes", "    token: t")))
        .tls,
      {
        rejectUnauthorized: false,
      },
    );
  });
});

describe("loadKubeconfig(): what messages may say", () => {
  it("takes credentials out of the server URL: Basic auth when nothing else authenticates, never shown", async () => {
    const c = await load(
      kubeconfig(
        "    server: https://admin:p%40ss@api:6443/",
        "    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ",
      ),
    );
    assert.equal(c.server, "https://api:6443");
    assert.equal(c.authorization, `Basic ${b64("admin:p@ss")}`);
    const withToken = await load(kubeconfig("    server: https://admin:pw@api", "    token: t"));
    assert.deepEqual([withToken.server, withToken.authorization], ["https://api", "Bearer t"]);
    await assert.rejects(
      load(kubeconfig("    server: ftp://admin:s3cret@api", "    token: t")),
      (e: unknown) => {
        assert.ok(e instanceof StoreSettingsError);
        assert.match(e.message, /server "ftp:\/\/\*\*\*@api" of cluster "local"/);
        assert.doesNotMatch(e.message, /s3cret/);
        return true;
      },
    );
  });

  it("reports a YAML syntax error by position, without the text around it", async () => {
    await assert.rejects(
      load(`users:\n- name: u\n  user: {token: s3cret-token\nclusters: [`),
      (e: unknown) => {
        assert.ok(e instanceof StoreSettingsError);
        assert.match(e.message, /^error loading config file "[^"]+": .*at line \d+, column \d+$/);
        assert.doesNotMatch(e.message, /s3cret/);
        return true;
      },
    );
    await assert.rejects(load("a: !<tag:s3cret> x\n"), (e: unknown) => {
      assert.ok(e instanceof StoreSettingsError);
      assert.match(e.message, /YAML syntax error at line 1, column \d+$/);
      assert.doesNotMatch(e.message, /s3cret/);
      return true;
    });
  });
});
