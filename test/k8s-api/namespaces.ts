// Namespaces are implicit: every valid name exists and is Active (no NamespaceLifecycle
// admission, no namespace controller). GET and LIST only; the list holds the well-known
// namespaces and those that contain objects.
import { createHash } from "node:crypto";
import type { HandlerContext, Reply, ResourceRequest } from "./handlers.ts";
import { listJson } from "./list-encoding.ts";
import { parseListOptions } from "./request-options.ts";
import type { JsonObject } from "./resources.ts";
import { str } from "./resources.ts";
import { matchesFields, matchesLabels } from "./selectors.ts";
import { methodNotAllowed, notFound } from "./status.ts";
import { encodeTypedBody, withTypeMeta } from "./typed.ts";
import { isDns1123Label } from "./validation.ts";

const WELL_KNOWN_NAMESPACES = ["default", "kube-node-lease", "kube-public", "kube-system"];
const SERVER_START = `${new Date().toISOString().slice(0, 19)}Z`;

function namespaceObject(name: string): JsonObject {
  const h = createHash("sha1").update(`namespace/${name}`).digest("hex");
  const uid = `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  return {
    metadata: {
      name,
      uid,
      resourceVersion: "1",
      creationTimestamp: SERVER_START,
      labels: { "kubernetes.io/metadata.name": name },
    },
    spec: { finalizers: ["kubernetes"] },
    status: { phase: "Active" },
  };
}

export function handleNamespaces(ctx: HandlerContext, r: ResourceRequest): Reply {
  const def = r.def;
  if (r.verb === "get") {
    if (isDns1123Label(r.name).length > 0) throw notFound({ group: "", resource: "namespaces" }, r.name);
    return {
      code: 200,
      body: withTypeMeta(encodeTypedBody(namespaceObject(r.name), ["spec", "status"]), "Namespace", "v1"),
    };
  }
  if (r.verb !== "list") throw methodNotAllowed();
  const o = parseListOptions(def, r.query, false);
  const names = new Set([...WELL_KNOWN_NAMESPACES, ...ctx.store.namespacesInUse()]);
  const items = [...names]
    .sort()
    .map(namespaceObject)
    .filter((ns) => {
      const meta = ns["metadata"] as JsonObject;
      return (
        matchesLabels(o.labelSelector, meta["labels"] as Record<string, string>) &&
        matchesFields(o.fieldSelector, { "metadata.name": str(meta["name"]), "status.phase": "Active" })
      );
    })
    .map((ns) => encodeTypedBody(ns, ["spec", "status"]));
  return { code: 200, body: listJson(def, { items: [], resourceVersion: ctx.store.resourceVersion }, items) };
}
