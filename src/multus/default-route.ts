// What `default-route` does to a delegate's cached result (the namespace side is netns-routes.ts).
// Once any selection element asks for `default-route`, every attachment not requesting a gateway of
// a family is "filtered" for it: its default routes of that family leave the libcni result cache,
// so a later CHECK or GC sees the pod as it is; an attachment's requested gateways enter it as
// `{dst: 0.0.0.0/0 | ::/0, gw}`. The result returned to the runtime is not changed (Multus' choice).
import type { Json, JsonObject } from "../config/json-parse.ts";
import { isJsonObject } from "../config/json-parse.ts";
import { parseCidr, parseIP } from "../ip/index.ts";
import type { Attachment } from "./attachments.ts";

/** Whether this attachment's default routes are touched after its ADD at all. */
export function touchesDefaultRoutes(a: Attachment): boolean {
  return a.filterV4Gateway || a.filterV6Gateway || (a.selection?.defaultRoute?.length ?? 0) > 0;
}

function defaultFamily(route: Json): 4 | 6 | undefined {
  if (!isJsonObject(route) || typeof route["dst"] !== "string") return undefined;
  const dst = parseCidr(route["dst"]);
  return dst !== undefined && dst.prefix === 0 ? dst.family : undefined;
}

/** The delegate's result (any 0.3+ shape: top-level `routes`) as the cache should hold it. */
export function withDefaultRoutes(result: JsonObject, a: Attachment): JsonObject {
  const routes = Array.isArray(result["routes"]) ? result["routes"] : [];
  const kept = routes.filter((r) => {
    const family = defaultFamily(r);
    return !((family === 4 && a.filterV4Gateway) || (family === 6 && a.filterV6Gateway));
  });
  const added = (a.selection?.defaultRoute ?? []).map((gw) => ({
    dst: parseIP(gw)?.family === 6 ? "::/0" : "0.0.0.0/0",
    gw,
  }));
  return { ...result, routes: [...kept, ...added] };
}
