// Query parameters and option bodies of the verbs, validated as the apiserver does
// (apimachinery/pkg/apis/meta/internalversion/validation, ValidateDeleteOptions): ListOptions for
// list and watch, DeleteOptions, fieldValidation / dryRun, and unknown-field warnings.
import type { ListOptions } from "./registry.ts";
import { isObject } from "./request-decoding.ts";
import type { DeleteOptions, JsonObject, ResourceDef } from "./resources.ts";
import { parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import { type ApiError, badRequest, invalid } from "./status.ts";
import { type FieldError, forbiddenField, invalidValue, notSupported } from "./validation.ts";

function optionsInvalid(kind: string, errs: FieldError[]): ApiError {
  return invalid({ group: "meta.k8s.io", kind }, "", errs);
}

/** fieldValidation and dryRun query parameters of create / update / patch. */
export function writeOptions(
  query: URLSearchParams,
  kind: string,
): { strict: boolean; warn: boolean; dryRun: boolean } {
  const errs: FieldError[] = [];
  const fv = query.get("fieldValidation") ?? "";
  if (!["", "Ignore", "Warn", "Strict"].includes(fv))
    errs.push(notSupported("fieldValidation", fv, ["Ignore", "Strict", "Warn"]));
  const dry = query.getAll("dryRun");
  for (const d of dry) if (d !== "All") errs.push(notSupported("dryRun", d, ["All"]));
  if (errs.length > 0) throw optionsInvalid(kind, errs);
  return { strict: fv === "Strict", warn: fv === "" || fv === "Warn", dryRun: dry.includes("All") };
}

export function unknownFieldWarnings(
  unknown: readonly string[],
  o: { strict: boolean; warn: boolean },
): string[] {
  if (unknown.length === 0) return [];
  if (o.strict)
    throw badRequest(`strict decoding error: ${unknown.map((u) => `unknown field "${u}"`).join(", ")}`);
  return o.warn ? unknown.map((u) => `unknown field "${u}"`) : [];
}

export function parseListOptions(
  def: ResourceDef,
  query: URLSearchParams,
  watch: boolean,
): ListOptions & { sendInitialEvents: boolean | undefined } {
  const labelSelector = parseLabelSelector(query.get("labelSelector") ?? "");
  const fieldSelector = parseFieldSelector(query.get("fieldSelector") ?? "");
  for (const r of fieldSelector)
    if (!def.fieldLabels.includes(r.field)) throw badRequest(`field label not supported: ${r.field}`);
  const limitText = query.get("limit") ?? "";
  if (limitText !== "" && !/^\d+$/.test(limitText))
    throw badRequest(`limit: invalid value ${JSON.stringify(limitText)}`);
  const resourceVersion = query.get("resourceVersion") ?? "";
  if (resourceVersion !== "" && !/^\d+$/.test(resourceVersion))
    throw badRequest(`invalid resource version: ${JSON.stringify(resourceVersion)}`);
  const match = query.get("resourceVersionMatch") ?? "";
  const continueToken = query.get("continue") ?? "";
  const sie = query.get("sendInitialEvents");
  const sendInitialEvents = sie === null ? undefined : sie === "true" || sie === "1";
  const bookmarks = query.get("allowWatchBookmarks") === "true" || query.get("allowWatchBookmarks") === "1";
  const errs: FieldError[] = [];
  if (watch) {
    if (sendInitialEvents !== undefined) {
      if (match !== "NotOlderThan")
        errs.push(
          forbiddenField(
            "resourceVersionMatch",
            "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
          ),
        );
      if (sendInitialEvents && !bookmarks)
        errs.push(
          forbiddenField(
            "allowWatchBookmarks",
            "sendInitialEvents requires setting allowWatchBookmarks to true",
          ),
        );
    } else if (match !== "") {
      errs.push(
        forbiddenField(
          "resourceVersionMatch",
          "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        ),
      );
    }
  } else {
    if (match !== "") {
      if (resourceVersion === "")
        errs.push(
          forbiddenField(
            "resourceVersionMatch",
            "resourceVersionMatch is forbidden unless resourceVersion is provided",
          ),
        );
      if (continueToken !== "")
        errs.push(
          forbiddenField(
            "resourceVersionMatch",
            "resourceVersionMatch is forbidden when continue is provided",
          ),
        );
      if (match !== "Exact" && match !== "NotOlderThan")
        errs.push(notSupported("resourceVersionMatch", match, ["Exact", "NotOlderThan", ""]));
      if (match === "Exact" && resourceVersion === "0")
        errs.push(
          forbiddenField(
            "resourceVersionMatch",
            'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
          ),
        );
    }
    if (sendInitialEvents !== undefined)
      errs.push(forbiddenField("sendInitialEvents", "sendInitialEvents is forbidden for list"));
  }
  if (errs.length > 0) throw optionsInvalid("ListOptions", errs);
  return {
    labelSelector,
    fieldSelector,
    limit: limitText === "" ? 0 : Number(limitText),
    continueToken,
    resourceVersion,
    resourceVersionMatch: match,
    sendInitialEvents,
  };
}

export function parseDeleteOptions(query: URLSearchParams, body: string): DeleteOptions {
  let fromBody: JsonObject = {};
  if (body.trim() !== "") {
    try {
      const parsed = JSON.parse(body);
      if (!isObject(parsed)) throw new Error("not an object");
      fromBody = parsed;
    } catch (e) {
      throw badRequest(`the body of the request was in an unknown format - ${(e as Error).message}`);
    }
  }
  const errs: FieldError[] = [];
  const graceText = query.get("gracePeriodSeconds");
  let gracePeriodSeconds: number | undefined;
  if (graceText !== null) {
    if (!/^-?\d+$/.test(graceText))
      throw badRequest(`gracePeriodSeconds: invalid value ${JSON.stringify(graceText)}`);
    gracePeriodSeconds = Number(graceText);
  } else if (typeof fromBody["gracePeriodSeconds"] === "number")
    gracePeriodSeconds = fromBody["gracePeriodSeconds"];
  const policy =
    query.get("propagationPolicy") ??
    (typeof fromBody["propagationPolicy"] === "string" ? fromBody["propagationPolicy"] : undefined);
  if (policy !== undefined && !["Foreground", "Background", "Orphan"].includes(policy))
    errs.push(notSupported("propagationPolicy", policy, ["Foreground", "Background", "Orphan"]));
  const orphanText = query.get("orphanDependents");
  const orphan =
    orphanText !== null
      ? orphanText === "true"
      : typeof fromBody["orphanDependents"] === "boolean"
        ? fromBody["orphanDependents"]
        : undefined;
  if (orphan !== undefined && policy !== undefined)
    errs.push(
      invalidValue(
        "propagationPolicy",
        policy,
        "orphanDependents and deletionPropagation cannot be both set",
      ),
    );
  const dryRun = [
    ...query.getAll("dryRun"),
    ...(Array.isArray(fromBody["dryRun"]) ? (fromBody["dryRun"] as string[]) : []),
  ];
  for (const d of dryRun) if (d !== "All") errs.push(notSupported("dryRun", d, ["All"]));
  if (errs.length > 0) throw optionsInvalid("DeleteOptions", errs);
  const pre = isObject(fromBody["preconditions"]) ? fromBody["preconditions"] : undefined;
  return {
    ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}),
    ...(policy !== undefined ? { propagationPolicy: policy } : {}),
    ...(orphan !== undefined ? { orphanDependents: orphan } : {}),
    dryRun,
    ...(pre
      ? {
          preconditions: {
            ...(typeof pre["uid"] === "string" ? { uid: pre["uid"] } : {}),
            ...(typeof pre["resourceVersion"] === "string"
              ? { resourceVersion: pre["resourceVersion"] }
              : {}),
          },
        }
      : {}),
  };
}
