// A throw-away test CA and a serving certificate for 127.0.0.1 / localhost (plus the in-cluster
// names kube-apiserver's certificate carries), made with openssl in a temporary directory that is
// removed before returning. EC P-256 keys keep generation fast.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ServingCertificate {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export function generateServingCertificate(): ServingCertificate {
  const dir = mkdtempSync(join(tmpdir(), "api-double-pki-"));
  try {
    const openssl = (args: readonly string[]) =>
      execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    openssl([
      "req",
      "-x509",
      ...EC,
      "-days",
      "2",
      "-subj",
      "/CN=api-double-ca",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
    ]);
    openssl(["req", ...EC, "-subj", "/CN=kube-apiserver", "-keyout", "server.key", "-out", "server.csr"]);
    writeFileSync(
      join(dir, "server.ext"),
      [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth",
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc",
        "",
      ].join("\n"),
    );
    openssl([
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      "server.ext",
      "-out",
      "server.crt",
    ]);
    return {
      caPem: readFileSync(join(dir, "ca.crt"), "utf8"),
      certPem: readFileSync(join(dir, "server.crt"), "utf8"),
      keyPem: readFileSync(join(dir, "server.key"), "utf8"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
