// Helpers shared by the Kubernetes store tests that run against the API double: a network's loaded
// configuration whose kubeconfig points at the double, and the requests the double served in one
// namespace.
import { loadIpamConfig } from "../../src/config/load.ts";
import type { IpamConfig } from "../../src/config/types.ts";
import type { ApiDouble } from "../k8s-api/harness.ts";

/** A loaded IPAM config of one network (no flat file), stored in `namespace` of `api`. */
export function networkOn(api: ApiDouble, namespace: string, ipam: Record<string, unknown>): IpamConfig {
  return loadIpamConfig({
    stdin: JSON.stringify({
      cniVersion: "1.0.0",
      name: "net",
      ipam: { type: "whereabouts", kubernetes: { kubeconfig: api.kubeconfigPath(namespace) }, ...ipam },
    }),
    cniArgs: "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=pod",
    readFile: () => undefined,
  });
}

/** Requests the double served in `namespace` since the last reset, as "verb plural" → count. */
export async function requestsIn(api: ApiDouble, namespace: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const r of (await api.requests()).log) {
    if (r.namespace !== namespace) continue;
    const key = `${r.verb} ${r.resource.split(".")[0]}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
