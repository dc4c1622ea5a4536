// The pod's ServiceAccount token and the API server's CA, which the kubeconfig carries as data.
// Read with the bounded regular-file reader (kubelet's projected files are small regular files
// behind symlinks). Messages name the file and what to do, never what it holds.
import { fileReason, readConfigFile } from "../files/config-file.ts";
import type { ReadText } from "../kube/kubeconfig.ts";
import type { ClusterAccess } from "./settings.ts";

export interface Credentials {
  readonly token: string;
  /** PEM; undefined when the cluster access verifies nothing (SKIP_TLS_VERIFY, http). */
  readonly ca: string | undefined;
}

/** A bearer token is printable ASCII without spaces (a JWT: base64url and dots). */
const TOKEN = /^[\x21-\x7e]+$/;

export function readCredentials(cluster: ClusterAccess, read: ReadText = readConfigFile): Credentials {
  let token: string;
  try {
    // As the shell's $(cat token): trailing newlines do not belong to the token.
    token = read(cluster.tokenFile).trim();
  } catch (error) {
    throw new Error(
      `cannot read the ServiceAccount token ${cluster.tokenFile}: ${fileReason(error)} (mount the pod's ServiceAccount token, or point --service-account-dir at its directory)`,
    );
  }
  if (token === "") throw new Error(`the ServiceAccount token ${cluster.tokenFile} is empty`);
  if (!TOKEN.test(token))
    throw new Error(
      `the ServiceAccount token ${cluster.tokenFile} holds characters a bearer token cannot have (spaces, line breaks or control characters)`,
    );
  if (cluster.caFile === undefined) return { token, ca: undefined };
  let ca: string;
  try {
    ca = read(cluster.caFile);
  } catch (error) {
    throw new Error(
      `cannot read the API server's CA certificate ${cluster.caFile}: ${fileReason(error)} (set KUBE_CA_FILE to the CA bundle, or SKIP_TLS_VERIFY=true)`,
    );
  }
  if (!ca.includes("-----BEGIN CERTIFICATE-----"))
    throw new Error(
      `the CA file ${cluster.caFile} holds no PEM certificate (set KUBE_CA_FILE to the CA bundle, or SKIP_TLS_VERIFY=true)`,
    );
  return { token, ca };
}
