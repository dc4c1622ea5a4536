// The plugins' kubeconfigs, each in the shape its Go installer writes (cluster `local`, one user,
// one context, current-context set), so tools and docs written for Go's files read ours:
// Whereabouts' (user `whereabouts`, context `whereabouts-context` with the pools' namespace) and,
// with `install --multus`, Multus' (user `multus`, context `multus-context`, no namespace: the
// meta-plugin names the namespace of every object it reads). The token and the CA go in as data,
// not as paths: the plugins run on the host, where the pod's ServiceAccount files are not at the
// paths the pod sees. Every value is written as a JSON string, which YAML reads as the same string
// whatever it holds.
import type { Credentials } from "./credentials.ts";
import type { ClusterAccess } from "./settings.ts";

/** Whose kubeconfig: the user and context names Go's installer gives it, and our first line. */
export interface KubeconfigOwner {
  /** The first line install writes: how uninstall tells its own file from another installer's. */
  readonly mark: string;
  readonly user: string;
  readonly context: string;
  /** Whether the context carries the cluster access's namespace (the pools' namespace). */
  readonly namespaced: boolean;
}

export const WHEREABOUTS_KUBECONFIG: KubeconfigOwner = Object.freeze({
  mark: "# Kubeconfig of the thereabouts/whereabouts CNI plugin, written by `thereabouts install`",
  user: "whereabouts",
  context: "whereabouts-context",
  namespaced: true,
});

export const MULTUS_KUBECONFIG: KubeconfigOwner = Object.freeze({
  mark: "# Kubeconfig of the multus CNI meta-plugin, written by `thereabouts install --multus`",
  user: "multus",
  context: "multus-context",
  namespaced: false,
});

/** Whether a kubeconfig's text is one install wrote for `owner`. */
export function writtenFor(owner: KubeconfigOwner, text: string): boolean {
  return text.startsWith(`${owner.mark}\n`);
}

export function kubeconfigText(
  cluster: ClusterAccess,
  credentials: Credentials,
  owner: KubeconfigOwner = WHEREABOUTS_KUBECONFIG,
): string {
  const q = (value: string) => JSON.stringify(value);
  const tls = cluster.skipTlsVerify
    ? ["    insecure-skip-tls-verify: true"]
    : credentials.ca === undefined
      ? []
      : [`    certificate-authority-data: ${q(Buffer.from(credentials.ca).toString("base64"))}`];
  const namespace = owner.namespaced ? cluster.namespace : undefined;
  return [
    owner.mark,
    "# (rewritten when the ServiceAccount token or CA changes).",
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: local",
    "  cluster:",
    `    server: ${q(cluster.server)}`,
    ...tls,
    "users:",
    `- name: ${owner.user}`,
    "  user:",
    `    token: ${q(credentials.token)}`,
    "contexts:",
    `- name: ${owner.context}`,
    "  context:",
    "    cluster: local",
    `    user: ${owner.user}`,
    ...(namespace === undefined ? [] : [`    namespace: ${q(namespace)}`]),
    `current-context: ${owner.context}`,
    "",
  ].join("\n");
}
