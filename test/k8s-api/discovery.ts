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

/** The discovery document for `path`, or undefined when the path is not a discovery path. */
export function discoveryDocument(router: Router, path: string, serverAddress: string): object | undefined {
  const segs = path.split("/").filter((s) => s !== "");
  const groups = router.groupVersions().filter((gv) => gv.includes("/"));
  const groupEntry = (gv: string) => {
    const [name, version] = gv.split("/") as [string, string];
    const v = { groupVersion: gv, version };
    return { name, versions: [v], preferredVersion: v };
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
    return { kind: "APIGroupList", apiVersion: "v1", groups: groups.map(groupEntry) };
  if (segs.length === 2 && segs[0] === "apis") {
    const gv = groups.find((g) => g.startsWith(`${segs[1]}/`));
    return gv ? { kind: "APIGroup", apiVersion: "v1", ...groupEntry(gv) } : undefined;
  }
  if (segs.length === 3 && segs[0] === "apis") {
    const gv = `${segs[1]}/${segs[2]}`;
    if (!groups.includes(gv)) return undefined;
    return {
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion: gv,
      resources: resourceEntries(router.resources(gv)),
    };
  }
  return undefined;
}
