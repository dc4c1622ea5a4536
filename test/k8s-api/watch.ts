// The watch protocol as the apiserver's watch cache serves it (k8s.io/apiserver/pkg/storage/cacher):
// a 200 response streaming newline-delimited `{"type":...,"object":...}` events. RV "" or "0"
// starts with a synthetic ADDED per current object; RV N replays the events after N from the
// watch-cache window, or sends one ERROR event with a 410 Expired Status ("too old resource
// version") and ends. Selector transitions turn into ADDED / DELETED as in cacheWatcher.
// BOOKMARKs (only with allowWatchBookmarks) carry just kind/apiVersion/metadata.resourceVersion;
// with sendInitialEvents=true the first one is annotated "k8s.io/initial-events-end".
import type { ServerResponse } from "node:http";
import { apiVersionOf, type ResourceDef } from "./resources.ts";
import { type FieldSelector, type LabelSelector, matchesFields, matchesLabels } from "./selectors.ts";
import { statusJson } from "./status.ts";
import type { Store, StoreEvent, Version } from "./store.ts";

export interface WatchRequest {
  readonly def: ResourceDef;
  /** "" watches all namespaces. */
  readonly namespace: string;
  readonly labelSelector: LabelSelector;
  readonly fieldSelector: FieldSelector;
  readonly resourceVersion: string;
  readonly allowWatchBookmarks: boolean;
  readonly sendInitialEvents: boolean | undefined;
  readonly timeoutSeconds: number;
}

export interface WatchSettings {
  readonly bookmarkIntervalMs: number;
  /** A watcher whose unsent output exceeds this is terminated, as the cacher drops slow watchers. */
  readonly maxBufferedBytes: number;
}

export interface WatchHandle {
  stop(): void;
}

export function serveWatch(
  store: Store,
  w: WatchRequest,
  res: ServerResponse,
  settings: WatchSettings,
  headers: Record<string, string>,
  onEnd: () => void,
): WatchHandle {
  const def = w.def;
  const prefix = def.namespaced && w.namespace ? `${w.namespace}/` : "";
  const passes = (v: Version | undefined): boolean =>
    v?.key.startsWith(prefix) === true &&
    matchesLabels(w.labelSelector, v.labels) &&
    matchesFields(w.fieldSelector, v.fields);

  res.writeHead(200, { ...headers, "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
  res.flushHeaders();

  let ended = false;
  const timers: NodeJS.Timeout[] = [];
  let unsubscribe: () => void = () => {};
  const end = () => {
    if (ended) return;
    ended = true;
    unsubscribe();
    for (const t of timers) {
      clearTimeout(t);
      clearInterval(t);
    }
    if (!res.writableEnded) res.end();
    onEnd();
  };
  res.on("close", end);

  const write = (type: string, object: string) => {
    if (ended) return;
    res.write(`{"type":"${type}","object":${object}}\n`);
    if (res.writableLength > settings.maxBufferedBytes) {
      res.destroy();
      end();
    }
  };
  const bookmark = (rv: number, initialEventsEnd: boolean) => {
    const meta = initialEventsEnd
      ? { resourceVersion: String(rv), annotations: { "k8s.io/initial-events-end": "true" } }
      : { resourceVersion: String(rv) };
    const object = def.custom
      ? { apiVersion: apiVersionOf(def), kind: def.kind, metadata: meta }
      : { kind: def.kind, apiVersion: apiVersionOf(def), metadata: { ...meta, creationTimestamp: null } };
    write("BOOKMARK", JSON.stringify(object));
  };

  let lastRv = 0;
  const deliver = (e: StoreEvent) => {
    if (e.rv <= lastRv) return;
    lastRv = e.rv;
    const cur = e.type !== "DELETED" && passes(e.object);
    const old = passes(e.prev);
    if (cur && !old) write("ADDED", def.external(e.object.json));
    else if (cur && old) write("MODIFIED", def.external(e.object.json));
    else if (!cur && old) {
      // the previous state, with the event's resourceVersion (cacheWatcher.convertToWatchEvent)
      const object = e.type === "DELETED" ? e.object : { ...e.prev!, json: restampJson(def, e.prev!, e.rv) };
      write("DELETED", def.external(object.json));
    }
  };

  const rvParam = w.resourceVersion;
  const initial = w.sendInitialEvents ?? (rvParam === "" || rvParam === "0");
  if (initial) {
    for (const v of store.list(def.storage, prefix)) if (passes(v)) write("ADDED", def.external(v.json));
    lastRv = store.resourceVersion;
    if (w.sendInitialEvents === true && w.allowWatchBookmarks) bookmark(lastRv, true);
  } else if (rvParam === "" || rvParam === "0") {
    lastRv = store.resourceVersion;
  } else {
    const from = Number(rvParam);
    const since = store.eventsSince(def.storage, from);
    if (!since.ok) {
      write(
        "ERROR",
        statusJson({
          status: "Failure",
          code: 410,
          reason: "Expired",
          message: `too old resource version: ${from} (${since.oldest - 1})`,
        }),
      );
      end();
      return { stop: end };
    }
    lastRv = from;
    for (const e of since.events) deliver(e);
  }
  unsubscribe = store.subscribe(def.storage, deliver);
  if (w.allowWatchBookmarks && settings.bookmarkIntervalMs > 0)
    timers.push(
      setInterval(
        () => bookmark(Math.max(lastRv, store.resourceVersion), false),
        settings.bookmarkIntervalMs,
      ),
    );
  timers.push(setTimeout(end, w.timeoutSeconds * 1000));
  return { stop: end };
}

function restampJson(def: ResourceDef, v: Version, rv: number): string {
  const obj = JSON.parse(v.json) as { metadata?: { resourceVersion?: string } };
  if (obj.metadata) obj.metadata.resourceVersion = String(rv);
  return def.encode(obj as never);
}
