// Legacy (unaggregated) discovery documents and /version, built from the served resources:
// /api (APIVersions), /apis (APIGroupList), /apis/{group} (APIGroup), /api/v1 and
// /apis/{group}/{version} (APIResourceList).
import type { ResourceDef } from "./resources.ts";
import type { Router } from "./router.ts";

export const VERSION_INFO = {
  major: "1",
  minor: "34",
  emulationMajor: "1",
  emulationMinor: "34",
  minCompatibilityMajor: "1",
  minCompatibilityMinor: "33",
  gitVersion: "v1.34.0+api-double",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2025-08-27T00:00:00Z",
  goVersion: "go1.24.6",
  compiler: "gc",
  platform: "linux/amd64",
};

function resourceEntries(defs: readonly ResourceDef[]): object[] {
  const out: object[] = [];
  for (const d of defs) {
    out.push({
      name: d.resource,
      singularName: d.singular,
      namespaced: d.namespaced,
      kind: d.kind,
      verbs: d.resource === "namespaces" ? ["get", "list"] : d.verbs,
      ...(d.shortNames.length > 0 ? { shortNames: d.shortNames } : {}),
      ...(d.categories && d.categories.length > 0 ? { categories: d.categories } : {}),
    });
    for (const sub of d.subresources)
      out.push({
        name: `${d.resource}/${sub}`,
        singularName: "",
        namespaced: d.namespaced,
        kind: d.kind,
        verbs: ["get", "patch", "update"],
      });
  }
  return out;
}

/** version.CompareKubeAwareVersionStrings: GA, then beta, then alpha, higher first; others last, by name. */
export function kubeVersionOrder(a: string, b: string): number {
  const rank = (v: string): [number, number, number] | undefined => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return undefined;
    return [m[2] === undefined ? 2 : m[2] === "beta" ? 1 : 0, Number(m[1]), Number(m[3] ?? 0)];
  };
  const x = rank(a);
  const y = rank(b);
  if (!x || !y) return x ? -1 : y ? 1 : a < b ? -1 : a > b ? 1 : 0;
  return y[0] - x[0] || y[1] - x[1] || y[2] - x[2];
}

/** The discovery document for `path`, or undefined when the path is not a discovery path. */
export function discoveryDocument(router: Router, path: string, serverAddress: string): object | undefined {
  const segs = path.split("/").filter((s) => s !== "");
  const groups = new Map<string, string[]>();
  for (const gv of router.groupVersions()) {
    if (!gv.includes("/")) continue;
    const [name, version] = gv.split("/") as [string, string];
    groups.set(name, [...(groups.get(name) ?? []), version]);
  }
  const groupEntry = (name: string) => {
    const versions = [...(groups.get(name) ?? [])]
      .sort(kubeVersionOrder)
      .map((version) => ({ groupVersion: `${name}/${version}`, version }));
    return { name, versions, preferredVersion: versions[0]! };
  };
  if (segs.length === 1 && segs[0] === "api")
    return {
      kind: "APIVersions",
      versions: ["v1"],
      serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
    };
  if (segs.length === 2 && segs[0] === "api" && segs[1] === "v1")
    return {
      kind: "APIResourceList",
      groupVersion: "v1",
      resources: resourceEntries(router.resources("v1")),
    };
  if (segs.length === 1 && segs[0] === "apis")
    return { kind: "APIGroupList", apiVersion: "v1", groups: [...groups.keys()].map(groupEntry) };
  if (segs.length === 2 && segs[0] === "apis")
    return groups.has(segs[1]!) ? { kind: "APIGroup", apiVersion: "v1", ...groupEntry(segs[1]!) } : undefined;
  if (segs.length === 3 && segs[0] === "apis") {
    const gv = `${segs[1]}/${segs[2]}`;
    if (!groups.get(segs[1]!)?.includes(segs[2]!)) return undefined;
    return {
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion: gv,
      resources: resourceEntries(router.resources(gv)),
    };
  }
  return undefined;
}
