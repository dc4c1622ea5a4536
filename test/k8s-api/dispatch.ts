// One API request through the double, in the apiserver's filter order: request accounting,
// authentication, injected faults ("before"), request latency, content negotiation, routing to
// discovery / health / the REST handlers, faults "after", then the response with the apiserver's
// headers (Audit-Id, Cache-Control, APF uids, Warning). /__control/ bypasses all of it.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { type AuthSettings, authenticate } from "./auth.ts";
import { handleControl } from "./control.ts";
import { discoveryDocument, VERSION_INFO } from "./discovery.ts";
import { type Faults, faultError, type RequestInfo } from "./faults.ts";
import { type HandlerContext, handleResource, type Reply } from "./handlers.ts";
import type { RequestLog } from "./request-log.ts";
import { qualifiedName } from "./resources.ts";
import type { Router } from "./router.ts";
import {
  ApiError,
  internalError,
  methodNotAllowed,
  notAcceptable,
  pathNotFound,
  statusJson,
} from "./status.ts";
import type { Store } from "./store.ts";

export interface DispatchDeps {
  readonly router: Router;
  readonly handlers: HandlerContext;
  readonly store: Store;
  readonly faults: Faults;
  readonly requests: RequestLog;
  readonly auth: AuthSettings;
  readonly serverAddress: () => string;
}

const FLOW_SCHEMA_UID = randomUUID();
const PRIORITY_LEVEL_UID = randomUUID();

/** What the response is encoded as: plain JSON, or a meta.k8s.io Table (`apiVersion`). */
export type Encoding = { readonly table?: { readonly apiVersion: string } };

const TABLE_VERSIONS = ["v1", "v1beta1"];

/**
 * Content negotiation (handlers/negotiation): the Accept clauses by quality, the first one the
 * double can produce wins. JSON, or with `as=Table;g=meta.k8s.io;v=v1|v1beta1` a Table where the
 * endpoint serves one (GET and LIST); other conversions (`as=PartialObjectMetadata`) are not served.
 * undefined: nothing acceptable (406).
 */
export function negotiate(accept: string | undefined, tableAllowed: boolean): Encoding | undefined {
  if (!accept || accept.trim() === "") return {};
  const clauses = accept
    .split(",")
    .map((part, i) => {
      const [type = "", ...raw] = part.split(";").map((x) => x.trim());
      const params = new Map(
        raw.map((p) => {
          const eq = p.indexOf("=");
          return eq < 0
            ? [p.toLowerCase(), ""]
            : [p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim()];
        }),
      );
      const q = params.has("q") ? Number(params.get("q")) : 1;
      return { type: type.toLowerCase(), params, q: Number.isNaN(q) ? 0 : q, i };
    })
    .filter((c) => c.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const c of clauses) {
    if (c.type !== "application/json" && c.type !== "*/*" && c.type !== "application/*") continue;
    const as = c.params.get("as");
    if (as === undefined) return {};
    if (
      tableAllowed &&
      as === "Table" &&
      c.params.get("g") === "meta.k8s.io" &&
      TABLE_VERSIONS.includes(c.params.get("v") ?? "")
    )
      return { table: { apiVersion: `meta.k8s.io/${c.params.get("v")}` } };
  }
  return undefined;
}

export function createDispatcher(
  deps: DispatchDeps,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { router, handlers: ctx, store, faults, requests, auth } = deps;
  const baseHeaders = (): Record<string, string> => ({
    "Audit-Id": randomUUID(),
    "Cache-Control": "no-cache, private",
    "X-Kubernetes-Pf-Flowschema-Uid": FLOW_SCHEMA_UID,
    "X-Kubernetes-Pf-Prioritylevel-Uid": PRIORITY_LEVEL_UID,
  });

  const send = (req: IncomingMessage, res: ServerResponse, reply: Reply, headers: Record<string, string>) => {
    if (res.headersSent || res.destroyed) return;
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.setHeader("Content-Type", "application/json");
    if (reply.warnings && reply.warnings.length > 0)
      res.setHeader(
        "Warning",
        reply.warnings.map((w) => `299 - ${JSON.stringify(w)}`),
      );
    res.setHeader("Content-Length", Buffer.byteLength(reply.body));
    res.writeHead(reply.code);
    res.end(req.method === "HEAD" ? undefined : reply.body);
  };

  const sendError = (
    req: IncomingMessage,
    res: ServerResponse,
    e: ApiError,
    headers: Record<string, string>,
  ) => {
    if (res.headersSent || res.destroyed) return;
    for (const [k, v] of Object.entries({ ...headers, ...e.headers })) res.setHeader(k, v);
    const body = e.rawBody ?? statusJson(e.status);
    if (!e.rawBody) res.setHeader("Content-Type", "application/json");
    res.setHeader("Content-Length", Buffer.byteLength(body));
    res.writeHead(e.httpCode);
    res.end(req.method === "HEAD" ? undefined : body);
  };

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname.startsWith("/__control/"))
      return handleControl({ store, faults, requests }, req, res, url.pathname, url.searchParams);
    const started = performance.now();
    const route = router.route(req.method ?? "GET", url.pathname, url.searchParams);
    const info: RequestInfo =
      route.type === "resource"
        ? {
            verb: route.verb,
            resource: qualifiedName(route.def) + (route.subresource ? `/${route.subresource}` : ""),
            shortResource: route.def.resource + (route.subresource ? `/${route.subresource}` : ""),
            namespace: route.namespace,
            name: route.name,
            group: route.def.group,
          }
        : {
            verb: (req.method ?? "GET").toLowerCase(),
            resource: url.pathname,
            shortResource: url.pathname,
            namespace: "",
            name: "",
            group: "",
          };
    const entry = requests.start(info.verb, info.resource, info.namespace, info.name);
    res.on("close", () => {
      entry.code = res.headersSent ? res.statusCode : 0;
      entry.durationMs = Math.round((performance.now() - started) * 100) / 100;
    });
    const headers = baseHeaders();
    try {
      authenticate(auth, req, {
        verb: info.verb,
        group: info.group,
        resource: route.type === "resource" ? route.def.resource : "",
        subresource: route.type === "resource" ? route.subresource : "",
        namespace: info.namespace,
        name: info.name,
        path: route.type === "resource" ? undefined : url.pathname,
      });
      const before = faults.pick(info, false);
      if (before) {
        entry.fault = before.kind;
        if (before.kind === "delay") await sleep(before.holdMs ?? 0);
        else if (before.kind === "timeout") {
          await sleep(before.holdMs ?? 10_000);
          req.socket.destroy();
          return;
        } else throw faultError(before, info);
      }
      const delay = faults.requestDelayMs();
      if (delay > 0) await sleep(delay);
      // An unknown path is 404 whatever the client accepts (the NotFound handler negotiates nothing).
      const tableAllowed = route.type === "resource" && (route.verb === "get" || route.verb === "list");
      const encoding = route.type === "nonResource" ? {} : negotiate(req.headers.accept, tableAllowed);
      if (encoding === undefined) throw notAcceptable(["application/json"]);
      let reply: Reply | undefined;
      switch (route.type) {
        case "resource":
          reply = await handleResource(ctx, {
            ...route,
            query: url.searchParams,
            req,
            res,
            headers,
            encoding,
          });
          if (reply === undefined) return; // a watch, streaming
          break;
        case "discovery": {
          const doc = discoveryDocument(router, url.pathname, deps.serverAddress());
          if (!doc) throw pathNotFound();
          reply = { code: 200, body: JSON.stringify(doc) };
          break;
        }
        case "nonResource":
          if (url.pathname === "/version") reply = { code: 200, body: JSON.stringify(VERSION_INFO, null, 2) };
          else if (/^\/(healthz|livez|readyz)(\/.*)?$/.test(url.pathname)) {
            res.writeHead(200, {
              ...headers,
              "Content-Type": "text/plain; charset=utf-8",
              "X-Content-Type-Options": "nosniff",
            });
            res.end("ok");
            return;
          } else throw pathNotFound();
          break;
        case "methodNotAllowed":
          throw methodNotAllowed();
        default:
          throw pathNotFound();
      }
      const after = faults.pick(info, true);
      if (after) {
        entry.fault = `${after.kind} (after)`;
        if (after.kind === "delay") await sleep(after.holdMs ?? 0);
        else if (after.kind === "timeout") {
          await sleep(after.holdMs ?? 10_000);
          req.socket.destroy();
          return;
        } else throw faultError(after, info);
      }
      send(req, res, reply, headers);
    } catch (e) {
      if (e instanceof ApiError) sendError(req, res, e, headers);
      else {
        process.stderr.write(`api-double: ${(e as Error).stack ?? String(e)}\n`);
        sendError(req, res, internalError((e as Error).message), headers);
      }
    }
  };
}
