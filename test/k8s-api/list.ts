// Reads of collections with etcd3 GetList semantics: consistent reads at the current revision,
// snapshot reads at an older one (resourceVersionMatch=Exact, continue tokens) until compaction,
// limit/continue pagination with `{"v":"meta.k8s.io/v1","rv":N,"start":"key\u0000"}` tokens
// (base64url), remainingItemCount without selectors, and the cacher's wait for a future
// resourceVersion (504 "Too large resource version").
import { setTimeout as sleep } from "node:timers/promises";
import type { ResourceDef } from "./resources.ts";
import {
  type FieldSelector,
  type LabelSelector,
  matchesFields,
  matchesLabels,
  pinnedValue,
} from "./selectors.ts";
import { badRequest, resourceExpired, timeoutError } from "./status.ts";
import { CompactedError, type Store, type Version } from "./store.ts";

export interface ListOptions {
  readonly labelSelector: LabelSelector;
  readonly fieldSelector: FieldSelector;
  readonly limit: number;
  readonly continueToken: string;
  readonly resourceVersion: string;
  readonly resourceVersionMatch: string;
}

export interface ListResult {
  readonly items: readonly Version[];
  readonly resourceVersion: number;
  readonly continueToken?: string;
  readonly remainingItemCount?: number;
}

const EXPIRED_LIST = "The resourceVersion for the provided list is too old.";
const INCONSISTENT_CONTINUE =
  "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

export function encodeContinue(rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv, start })).toString("base64url");
}

function decodeContinue(token: string): { rv: number; start: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw badRequest("continue key is not valid: illegal base64 data");
  }
  const t = parsed as { v?: unknown; rv?: unknown; start?: unknown };
  if (t.v !== "meta.k8s.io/v1")
    throw badRequest(`continue key is not valid: server does not recognize this encoded key`);
  if (typeof t.rv !== "number" || (t.rv < 1 && t.rv !== -1) || typeof t.start !== "string")
    throw badRequest(
      "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
    );
  return { rv: t.rv, start: t.start };
}

/** EnsureObjectNamespaceMatchesRequestNamespace. */
/** A read "not older than" `rv` waits for the store to get there, then fails with 504 (cacher). */
export async function waitForResourceVersion(store: Store, rv: string, waitMs: number): Promise<void> {
  if (rv === "" || rv === "0" || !/^\d+$/.test(rv)) return;
  const wanted = Number(rv);
  const deadline = Date.now() + waitMs;
  while (wanted > store.resourceVersion && Date.now() < deadline) await sleep(20);
  if (wanted > store.resourceVersion)
    throw timeoutError(`Too large resource version: ${wanted}, current: ${store.resourceVersion}`, 1, [
      { reason: "ResourceVersionTooLarge", message: "Too large resource version" },
    ]);
}

/** A consistent, optionally paginated list (etcd3 store GetList semantics). */
export async function listVersions(
  store: Store,
  def: ResourceDef,
  namespace: string,
  o: ListOptions,
  waitMs: number,
): Promise<ListResult> {
  const prefix = def.namespaced && namespace ? `${namespace}/` : "";
  let snapshotRv = store.resourceVersion;
  let start = "";
  let versions: Version[];
  if (o.continueToken) {
    if (o.resourceVersion !== "")
      throw badRequest("specifying resource version is not allowed when using continue");
    const token = decodeContinue(o.continueToken);
    start = prefix + token.start;
    if (token.rv === -1) versions = store.list(def.storage, prefix);
    else {
      snapshotRv = token.rv;
      try {
        versions = store.snapshot(def.storage, token.rv, prefix);
      } catch (e) {
        if (e instanceof CompactedError)
          throw resourceExpired(INCONSISTENT_CONTINUE, encodeContinue(-1, token.start));
        throw e;
      }
    }
  } else if (o.resourceVersionMatch === "Exact") {
    snapshotRv = Number(o.resourceVersion);
    try {
      versions = store.snapshot(def.storage, snapshotRv, prefix);
    } catch (e) {
      if (e instanceof CompactedError) throw resourceExpired(EXPIRED_LIST);
      throw e;
    }
  } else {
    await waitForResourceVersion(store, o.resourceVersion, waitMs);
    snapshotRv = store.resourceVersion;
    // The apiserver's registry reads the one key when the field selector pins metadata.name and
    // the key is known (ListPredicate's MatchesSingle): such a list or deletecollection costs the
    // same at any collection size.
    const name = pinnedValue(o.fieldSelector, "metadata.name");
    if (name !== undefined && (!def.namespaced || namespace !== "")) {
      const v = store.get(def.storage, prefix + name);
      versions = v === undefined ? [] : [v];
    } else versions = store.list(def.storage, prefix);
  }
  const selecting = o.labelSelector.length > 0 || o.fieldSelector.length > 0;
  const matches = (v: Version) =>
    v.key >= start && matchesLabels(o.labelSelector, v.labels) && matchesFields(o.fieldSelector, v.fields);
  const items: Version[] = [];
  let i = 0;
  for (; i < versions.length; i++) {
    const v = versions[i]!;
    if (!matches(v)) continue;
    if (o.limit > 0 && items.length === o.limit) break;
    items.push(v);
  }
  const more = o.limit > 0 && versions.slice(i).some(matches);
  if (!more) return { items, resourceVersion: snapshotRv };
  const last = items[items.length - 1]!;
  const token = encodeContinue(snapshotRv, `${last.key.slice(prefix.length)}\u0000`);
  const remaining = versions.slice(i).filter(matches).length;
  return {
    items,
    resourceVersion: snapshotRv,
    continueToken: token,
    ...(selecting ? {} : { remainingItemCount: remaining }),
  };
}
