// The in-cluster way to the API server, as every pod sees it: the ServiceAccount directory kubelet
// mounts (token, ca.crt, namespace) and the URL made of KUBERNETES_SERVICE_HOST/PORT. Shared by the
// controller's in-cluster connection and the kubeconfig `thereabouts install` writes for the
// plugin, so both reach the server by the same URL.

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** `https://host:port`; an IPv6 host goes in brackets, or its colons would read as the port's. */
export function serviceUrl(host: string, port: string, protocol = "https"): string {
  return `${protocol}://${host.includes(":") ? `[${host}]` : host}:${port}`;
}
