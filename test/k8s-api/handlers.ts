// The REST verbs over HTTP (k8s.io/apiserver/pkg/endpoints/handlers: get.go, create.go, update.go,
// patch.go, delete.go, watch.go): decode, validate options, apply patches, call the registry.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Encoding } from "./dispatch.ts";
import {
  applyJsonPatch,
  decodeJsonPatch,
  type Json,
  JsonPatchApplyError,
  JsonPatchDecodeError,
} from "./json-patch.ts";
import { listJson } from "./list-encoding.ts";
import { applyMergePatch, MergePatchError } from "./merge-patch.ts";
import { handleNamespaces } from "./namespaces.ts";
import type { Registry } from "./registry.ts";
import { checkName, contentType, decodeBody, decodePatched, readBody } from "./request-decoding.ts";
import {
  parseDeleteOptions,
  parseListOptions,
  unknownFieldWarnings,
  writeOptions,
} from "./request-options.ts";
import { type JsonObject, metaOf, PATCH_JSON, PATCH_MERGE, type ResourceDef, str } from "./resources.ts";
import {
  badRequest,
  genericServerResponse,
  methodNotAllowed,
  notFound,
  requestEntityTooLarge,
  unsupportedMediaType,
} from "./status.ts";
import type { Store } from "./store.ts";
import { applyStrategicMergePatch } from "./strategic-merge-patch.ts";
import { DEFAULT_TABLE, includeObjectOf, tableJson } from "./table.ts";
import { serveWatch, type WatchSettings } from "./watch.ts";

export interface HandlerContext {
  readonly registry: Registry;
  readonly store: Store;
  readonly watch: WatchSettings;
  readonly defaultWatchTimeoutSeconds: () => number;
  readonly writeDelay: () => Promise<void>;
  /** Registers a running watch on a storage collection (ended early when its CRD changes). */
  readonly trackWatch: (stop: () => void, storage: string) => () => void;
}

export interface Reply {
  readonly code: number;
  readonly body: string;
  readonly warnings?: readonly string[];
}

export interface ResourceRequest {
  readonly def: ResourceDef;
  readonly verb: string;
  readonly namespace: string;
  readonly name: string;
  readonly subresource: string;
  readonly query: URLSearchParams;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly headers: Record<string, string>;
  readonly encoding: Encoding;
}

export async function handleResource(ctx: HandlerContext, r: ResourceRequest): Promise<Reply | undefined> {
  const { def, query } = r;
  if (def.resource === "namespaces") return handleNamespaces(ctx, r);
  switch (r.verb) {
    case "get": {
      const table = r.encoding.table && {
        apiVersion: r.encoding.table.apiVersion,
        include: includeObjectOf(query),
      };
      await ctx.registry.waitForResourceVersion(query.get("resourceVersion") ?? "");
      const v = ctx.registry.get(def, r.namespace, r.name);
      const json = def.external(v.json);
      if (table === undefined) return { code: 200, body: json };
      const item = { obj: JSON.parse(json) as JsonObject, json };
      return {
        code: 200,
        body: tableJson(def.table ?? DEFAULT_TABLE, [item], { resourceVersion: String(v.rv) }, table),
      };
    }
    case "list": {
      const table = r.encoding.table && {
        apiVersion: r.encoding.table.apiVersion,
        include: includeObjectOf(query),
      };
      const o = parseListOptions(def, query, false);
      const result = await ctx.registry.list(def, r.namespace, o);
      if (table !== undefined) {
        const items = result.items.map((v) => {
          const json = def.external(v.json);
          return { obj: JSON.parse(json) as JsonObject, json };
        });
        const meta: JsonObject = { resourceVersion: String(result.resourceVersion) };
        if (result.continueToken) meta["continue"] = result.continueToken;
        if (result.remainingItemCount !== undefined) meta["remainingItemCount"] = result.remainingItemCount;
        return { code: 200, body: tableJson(def.table ?? DEFAULT_TABLE, items, meta, table) };
      }
      return {
        code: 200,
        body: listJson(
          def,
          result,
          result.items.map((v) => def.item(v.json)),
        ),
      };
    }
    case "watch": {
      const o = parseListOptions(def, query, true);
      const fieldSelector = r.name
        ? [...o.fieldSelector, { field: "metadata.name", op: "=" as const, value: r.name }]
        : o.fieldSelector;
      const timeoutText = query.get("timeoutSeconds");
      const timeoutSeconds =
        timeoutText && /^\d+$/.test(timeoutText) && Number(timeoutText) > 0
          ? Number(timeoutText)
          : ctx.defaultWatchTimeoutSeconds();
      let untrack: () => void = () => {};
      const handle = serveWatch(
        ctx.store,
        {
          def,
          namespace: r.namespace,
          labelSelector: o.labelSelector,
          fieldSelector,
          resourceVersion: o.resourceVersion,
          allowWatchBookmarks:
            query.get("allowWatchBookmarks") === "true" || query.get("allowWatchBookmarks") === "1",
          sendInitialEvents: o.sendInitialEvents,
          timeoutSeconds,
        },
        r.res,
        ctx.watch,
        r.headers,
        () => untrack(),
      );
      untrack = ctx.trackWatch(handle.stop, def.storage);
      return undefined;
    }
    case "create": {
      const wo = writeOptions(query, "CreateOptions");
      requireJson(r.req);
      const { obj, unknown } = decodeBody(def, await readBody(r.req));
      const warnings = unknownFieldWarnings(unknown, wo);
      await def.beforeCreate?.(str(metaOf(obj)["name"]));
      await ctx.writeDelay();
      const out = ctx.registry.create(def, r.namespace, obj, wo.dryRun);
      return { ...out, warnings };
    }
    case "update": {
      const wo = writeOptions(query, "UpdateOptions");
      requireJson(r.req);
      const { obj, unknown } = decodeBody(def, await readBody(r.req));
      checkName(obj, r.name, r.namespace);
      const warnings = unknownFieldWarnings(unknown, wo);
      const uid = str(metaOf(obj)["uid"]);
      await ctx.writeDelay();
      const out = ctx.registry.update(def, r.namespace, r.name, () => obj, {
        ...(r.subresource ? { subresource: r.subresource } : {}),
        ...(uid ? { uidPrecondition: uid } : {}),
        dryRun: wo.dryRun,
      });
      return { ...out, warnings };
    }
    case "patch":
      return patch(ctx, r);
    case "delete": {
      const options = parseDeleteOptions(query, await readBody(r.req));
      await ctx.writeDelay();
      return ctx.registry.delete(def, r.namespace, r.name, options);
    }
    case "deletecollection": {
      const options = parseDeleteOptions(query, await readBody(r.req));
      const o = parseListOptions(def, query, false);
      await ctx.writeDelay();
      const result = await ctx.registry.deleteCollection(def, r.namespace, o, options);
      return {
        code: 200,
        body: listJson(
          def,
          result,
          result.items.map((v) => def.item(v.json)),
        ),
      };
    }
    default:
      throw methodNotAllowed();
  }
}

function requireJson(req: IncomingMessage): void {
  const ct = contentType(req);
  if (ct !== "" && ct !== "application/json" && ct !== "*/*")
    throw unsupportedMediaType(["application/json"]);
}

async function patch(ctx: HandlerContext, r: ResourceRequest): Promise<Reply> {
  const { def } = r;
  const ct = contentType(r.req);
  if (!def.patchTypes.includes(ct)) throw unsupportedMediaType(def.patchTypes);
  const wo = writeOptions(r.query, "PatchOptions");
  const body = await readBody(r.req);
  let warnings: string[] = [];
  await ctx.writeDelay();
  const out = ctx.registry.update(
    def,
    r.namespace,
    r.name,
    (current) => {
      if (!current) throw notFound({ group: def.group, resource: def.resource }, r.name);
      const doc = JSON.parse(def.external(current.json)) as JsonObject;
      let patched: Json;
      if (ct === PATCH_JSON) {
        let ops: ReturnType<typeof decodeJsonPatch>;
        try {
          ops = decodeJsonPatch(body);
        } catch (e) {
          if (e instanceof JsonPatchDecodeError) throw badRequest(e.message);
          throw e;
        }
        if (ops.length > 10_000)
          throw requestEntityTooLarge(
            `The allowed maximum operations in a JSON patch is 10000, got ${ops.length}`,
          );
        try {
          patched = applyJsonPatch(doc, ops);
        } catch (e) {
          if (e instanceof JsonPatchApplyError) throw genericServerResponse(422);
          throw e;
        }
      } else {
        try {
          patched = ct === PATCH_MERGE ? applyMergePatch(doc, body) : applyStrategicMergePatch(doc, body);
        } catch (e) {
          if (e instanceof MergePatchError) throw badRequest(e.message);
          throw e;
        }
      }
      const decoded = decodePatched(def, patched);
      warnings = unknownFieldWarnings(decoded.unknown, wo);
      checkName(decoded.obj, r.name, r.namespace);
      return decoded.obj;
    },
    { ...(r.subresource ? { subresource: r.subresource } : {}), dryRun: wo.dryRun },
  );
  return { ...out, warnings };
}
