// The plugin's kubeconfig, in the shape Whereabouts' installer writes (cluster `local`, user
// `whereabouts`, context `whereabouts-context`, current-context set), so tools and docs written
// for Go's file read ours. The token and the CA go in as data, not as paths: the plugin runs on
// the host, where the pod's ServiceAccount files are not at the paths the pod sees. Every value
// is written as a JSON string, which YAML reads as the same string whatever it holds.
import type { Credentials } from "./credentials.ts";
import type { ClusterAccess } from "./settings.ts";

/** The first line of every kubeconfig install writes: how uninstall tells its own from another installer's. */
export const KUBECONFIG_MARK =
  "# Kubeconfig of the thereabouts/whereabouts CNI plugin, written by `thereabouts install`";

export function kubeconfigText(cluster: ClusterAccess, credentials: Credentials): string {
  const q = (value: string) => JSON.stringify(value);
  const tls = cluster.skipTlsVerify
    ? ["    insecure-skip-tls-verify: true"]
    : credentials.ca === undefined
      ? []
      : [`    certificate-authority-data: ${q(Buffer.from(credentials.ca).toString("base64"))}`];
  return [
    KUBECONFIG_MARK,
    "# (rewritten when the ServiceAccount token or CA changes).",
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: local",
    "  cluster:",
    `    server: ${q(cluster.server)}`,
    ...tls,
    "users:",
    "- name: whereabouts",
    "  user:",
    `    token: ${q(credentials.token)}`,
    "contexts:",
    "- name: whereabouts-context",
    "  context:",
    "    cluster: local",
    "    user: whereabouts",
    ...(cluster.namespace === undefined ? [] : [`    namespace: ${q(cluster.namespace)}`]),
    "current-context: whereabouts-context",
    "",
  ].join("\n");
}
