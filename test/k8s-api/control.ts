// The double's own control API under /__control/ (no authentication; never part of a real
// apiserver): request counts and log, fault rules, latency, a raw object dump, forced compaction.
//   GET  /__control/requests[?log=false]   {total, counts: {"verb resource": n}, log: [...]}
//   POST /__control/reset                   zero the counts and the log
//   GET  /__control/faults                  {rules, latency}
//   POST /__control/faults                  [rule...] or {rules: [...], append?: true}
//   DELETE /__control/faults                drop all rules
//   GET|POST /__control/latency             {requestMs?, writeMs?, jitterMs?}
//   GET  /__control/objects                 {resourceVersion, collections: {id: [object...]}}
//   POST /__control/compact                 every older resourceVersion becomes "too old"
//   GET  /__control/health                  {ok: true, resourceVersion}
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FaultRule, Faults, Latency } from "./faults.ts";
import { readBody } from "./request-decoding.ts";
import type { RequestLog } from "./request-log.ts";
import type { Store } from "./store.ts";

export interface ControlContext {
  readonly store: Store;
  readonly faults: Faults;
  readonly requests: RequestLog;
}

function reply(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

async function jsonBody(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  return text.trim() === "" ? {} : JSON.parse(text);
}

export async function handleControl(
  ctx: ControlContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: URLSearchParams,
): Promise<void> {
  const route = `${req.method} ${path.replace(/\/+$/, "")}`;
  try {
    switch (route) {
      case "GET /__control/requests":
        return reply(res, 200, ctx.requests.snapshot(query.get("log") !== "false"));
      case "POST /__control/reset":
        ctx.requests.reset();
        return reply(res, 200, { ok: true });
      case "GET /__control/faults":
        return reply(res, 200, { rules: ctx.faults.describe(), latency: ctx.faults.latency });
      case "POST /__control/faults": {
        const body = (await jsonBody(req)) as FaultRule[] | { rules?: FaultRule[]; append?: boolean };
        const rules = Array.isArray(body) ? body : (body.rules ?? []);
        if (!Array.isArray(body) && body.append) ctx.faults.add(rules);
        else ctx.faults.set(rules);
        return reply(res, 200, { rules: ctx.faults.describe() });
      }
      case "DELETE /__control/faults":
        ctx.faults.set([]);
        return reply(res, 200, { rules: [] });
      case "GET /__control/latency":
        return reply(res, 200, ctx.faults.latency);
      case "POST /__control/latency":
        ctx.faults.latency = (await jsonBody(req)) as Latency;
        return reply(res, 200, ctx.faults.latency);
      case "GET /__control/objects": {
        const collections: Record<string, unknown[]> = {};
        for (const id of ctx.store.collectionIds())
          collections[id] = ctx.store.list(id).map((v) => JSON.parse(v.json) as unknown);
        return reply(res, 200, {
          resourceVersion: String(ctx.store.resourceVersion),
          compactedResourceVersion: String(ctx.store.compactedResourceVersion),
          collections,
        });
      }
      case "POST /__control/compact":
        ctx.store.compact();
        return reply(res, 200, { resourceVersion: String(ctx.store.resourceVersion) });
      case "GET /__control/health":
        return reply(res, 200, { ok: true, resourceVersion: String(ctx.store.resourceVersion) });
      default:
        return reply(res, 404, { error: `no control endpoint ${route}` });
    }
  } catch (e) {
    return reply(res, 400, { error: (e as Error).message });
  }
}
