// What a DELETE does to an object, decided without touching storage (rest.BeforeDelete,
// CheckGracefulDeletion, markAsDeleting in registry/generic/registry/store.go): check the
// DeleteOptions preconditions, then either leave a pending graceful deletion alone, mark the object
// (deletionTimestamp, deletionGracePeriodSeconds, generation+1) and possibly delete it right
// after, or delete it outright. The registry commits the plan.
import type { Json } from "./json-patch.ts";
import { type DeleteOptions, type JsonObject, metaOf, type ResourceDef } from "./resources.ts";
import { conflict } from "./status.ts";
import type { Version } from "./store.ts";
import { nowTime } from "./typed.ts";

export type DeletionPlan =
  /** A graceful deletion is already under way and not being shortened: answer the object as is. */
  | { readonly kind: "pending" }
  /** Write `obj` (marked as deleting); then delete it unless finalizers or a grace period remain. */
  | { readonly kind: "mark"; readonly obj: JsonObject; readonly period: number; readonly thenDelete: boolean }
  | { readonly kind: "delete" };

export function planDeletion(def: ResourceDef, current: Version, options: DeleteOptions): DeletionPlan {
  const kindGr = { group: def.group, resource: def.kind };
  const pre = options.preconditions;
  if (pre?.uid !== undefined && pre.uid !== current.uid)
    throw conflict(
      kindGr,
      current.name,
      `the UID in the precondition (${pre.uid}) does not match the UID in record (${current.uid}). The object might have been deleted and then recreated`,
    );
  if (pre?.resourceVersion !== undefined && pre.resourceVersion !== String(current.rv))
    throw conflict(
      kindGr,
      current.name,
      `the ResourceVersion in the precondition (${pre.resourceVersion}) does not match the ResourceVersion in record (${current.rv}). The object might have been modified`,
    );
  const grace =
    options.gracePeriodSeconds !== undefined && options.gracePeriodSeconds < 0
      ? 1
      : options.gracePeriodSeconds;
  const obj = JSON.parse(current.json) as JsonObject;
  const meta = metaOf(obj);
  let graceful = false;
  let period = 0;
  if (def.gracePeriod) {
    const ts = meta["deletionTimestamp"];
    const curPeriod = meta["deletionGracePeriodSeconds"];
    if (typeof ts === "string") {
      if (typeof curPeriod === "number" && curPeriod !== 0) {
        // only a shorter grace period may be given while a graceful deletion is pending
        if (grace === undefined || grace >= curPeriod) return { kind: "pending" };
        period = grace;
        const shifted = Date.parse(ts) - curPeriod * 1000 + period * 1000;
        meta["deletionTimestamp"] = `${new Date(shifted).toISOString().slice(0, 19)}Z`;
        meta["deletionGracePeriodSeconds"] = period;
        graceful = true;
      }
    } else {
      period = def.gracePeriod(
        obj,
        grace === undefined ? options : { ...options, gracePeriodSeconds: grace },
      );
      meta["deletionTimestamp"] = nowTime(period * 1000);
      meta["deletionGracePeriodSeconds"] = period;
      if (typeof meta["generation"] === "number" && meta["generation"] > 0) meta["generation"] += 1;
      graceful = true;
    }
  }
  const pendingFinalizers = ((meta["finalizers"] ?? []) as Json[]).length > 0;
  if (!graceful && !pendingFinalizers) return { kind: "delete" };
  if (!graceful) {
    // markAsDeleting
    if (
      meta["deletionTimestamp"] === undefined &&
      typeof meta["generation"] === "number" &&
      meta["generation"] > 0
    )
      meta["generation"] += 1;
    const now = nowTime();
    const ts = meta["deletionTimestamp"];
    if (typeof ts !== "string" || ts > now) meta["deletionTimestamp"] = now;
    meta["deletionGracePeriodSeconds"] = 0;
  }
  return { kind: "mark", obj, period, thenDelete: !pendingFinalizers && period === 0 };
}
