// Maps a request path and method to what it addresses, like the apiserver's RequestInfoFactory:
// `/api/v1/namespaces/{ns}/pods/{name}/status`, `/apis/{group}/{version}/...`, the legacy
// `/.../watch/...` prefix, cluster-scoped and all-namespaces collections, discovery paths. The
// served resources change at run time: custom resources come and go with their CRDs.
import type { ResourceDef } from "./resources.ts";

export type Route =
  | { readonly type: "discovery"; readonly path: string }
  | { readonly type: "nonResource"; readonly path: string }
  | {
      readonly type: "resource";
      readonly def: ResourceDef;
      readonly verb: string;
      readonly namespace: string;
      readonly name: string;
      readonly subresource: string;
    }
  | { readonly type: "notFound" }
  | {
      readonly type: "methodNotAllowed";
      readonly def: ResourceDef;
      readonly namespace: string;
      readonly name: string;
    };

export class Router {
  readonly #byGroupVersion = new Map<string, Map<string, ResourceDef>>();

  constructor(defs: readonly ResourceDef[]) {
    for (const d of defs) this.serve(d);
  }

  /** Serves `d` (replacing what was served under its group, version and resource). */
  serve(d: ResourceDef): void {
    const gv = d.group ? `${d.group}/${d.version}` : d.version;
    let m = this.#byGroupVersion.get(gv);
    if (!m) {
      m = new Map();
      this.#byGroupVersion.set(gv, m);
    }
    m.set(d.resource, d);
  }

  /** Stops serving a resource; a group version left empty disappears from discovery. */
  unserve(groupVersion: string, resource: string): void {
    const m = this.#byGroupVersion.get(groupVersion);
    if (!m) return;
    m.delete(resource);
    if (m.size === 0) this.#byGroupVersion.delete(groupVersion);
  }

  groupVersions(): string[] {
    return [...this.#byGroupVersion.keys()];
  }

  resources(groupVersion: string): ResourceDef[] {
    return [...(this.#byGroupVersion.get(groupVersion)?.values() ?? [])];
  }

  route(method: string, pathname: string, query: URLSearchParams): Route {
    const segs = pathname
      .split("/")
      .filter((s) => s !== "")
      .map(decodeURIComponent);
    if (segs[0] === "api" || segs[0] === "apis") {
      let gv: string;
      let rest: string[];
      if (segs[0] === "api") {
        if (segs.length <= 2)
          return segs.length === 1 || segs[1] === "v1"
            ? { type: "discovery", path: pathname }
            : { type: "notFound" };
        gv = segs[1]!;
        rest = segs.slice(2);
      } else {
        if (segs.length <= 3) return { type: "discovery", path: pathname };
        gv = `${segs[1]}/${segs[2]}`;
        rest = segs.slice(3);
      }
      const resources = this.#byGroupVersion.get(gv);
      if (!resources) return { type: "notFound" };
      let legacyWatch = false;
      if (rest[0] === "watch") {
        legacyWatch = true;
        rest = rest.slice(1);
      }
      let namespace = "";
      let resource: string;
      let name = "";
      let subresource = "";
      if (rest[0] === "namespaces" && rest.length >= 3) {
        namespace = rest[1]!;
        resource = rest[2]!;
        name = rest[3] ?? "";
        subresource = rest[4] ?? "";
        if (rest.length > 5) return { type: "notFound" };
      } else {
        resource = rest[0]!;
        name = rest[1] ?? "";
        subresource = rest[2] ?? "";
        if (rest.length > 3) return { type: "notFound" };
      }
      const def = resources.get(resource);
      if (!def) return { type: "notFound" };
      if (subresource && !def.subresources.includes(subresource)) return { type: "notFound" };
      if (def.namespaced && !namespace && name) return { type: "notFound" };
      if (!def.namespaced && namespace) return { type: "notFound" };
      const watchParam = query.get("watch");
      const watch = legacyWatch || watchParam === "true" || watchParam === "1";
      const verb = verbFor(method, name !== "", watch, subresource !== "");
      if (!verb || (legacyWatch && verb !== "watch"))
        return { type: "methodNotAllowed", def, namespace, name };
      // the all-namespaces path of a namespaced resource only serves list and watch
      if (def.namespaced && !namespace && verb !== "list" && verb !== "watch")
        return { type: "methodNotAllowed", def, namespace, name };
      return { type: "resource", def, verb, namespace, name, subresource };
    }
    return { type: "nonResource", path: pathname };
  }
}

function verbFor(method: string, named: boolean, watch: boolean, sub: boolean): string | undefined {
  switch (method) {
    case "GET":
    case "HEAD":
      return watch ? "watch" : named ? "get" : "list";
    case "POST":
      return named ? undefined : "create";
    case "PUT":
      return named ? "update" : undefined;
    case "PATCH":
      return named ? "patch" : undefined;
    case "DELETE":
      if (sub) return undefined;
      return named ? "delete" : "deletecollection";
    default:
      return undefined;
  }
}
