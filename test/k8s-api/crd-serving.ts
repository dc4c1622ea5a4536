// Serving custom resources from the stored CustomResourceDefinitions, as apiextensions-apiserver
// does (customresource_handler.go and its controllers):
// - every served version of a CRD whose names are accepted (NamesAccepted or Established) is
//   served under status.acceptedNames, pruned and validated by that version's schema and printed
//   with its columns; a CRD change re-derives all of it at once (the write that changes it
//   answers after the new schema is in place), a CRD gone stops serving it;
// - watches opened on the old serving info end about a second after its CRD's spec or accepted
//   names change, or the CRD goes (tearDown destroys the old storage, and its watches with it);
// - a create within 2 s of the Established condition's transition waits those 2 s (the handler's
//   "justCreated" wait); creates are forbidden while the CRD is terminating;
// - stand-ins for the controllers, each write one status update as they make it (not in the
//   request log): the naming controller (acceptedNames, NamesAccepted, Established Installing,
//   names already in use by another CRD of the group refused), the establishing controller
//   (Established True), and the finalizer (Terminating, every instance deleted, then the
//   customresourcecleanup finalizer removed, which deletes the CRD).
import { setTimeout as sleep } from "node:timers/promises";
import {
  CLEANUP_FINALIZER,
  type CrdNames,
  CUSTOM_RESOURCE_DEFINITIONS,
  conditionOf,
  isConditionTrue,
  namesOf,
  setCondition,
  storageVersionOf,
  versionsOf,
} from "./crd-definition.ts";
import { customDef } from "./custom-resources.ts";
import type { Json } from "./json-patch.ts";
import type { Registry } from "./registry.ts";
import { type JsonObject, metaOf, type ResourceDef, str } from "./resources.ts";
import type { Router } from "./router.ts";
import { structuralSchema } from "./schema.ts";
import { forbidden } from "./status.ts";
import type { Store, StoreEvent } from "./store.ts";
import { sortedJson } from "./typed.ts";

const CRDS = CUSTOM_RESOURCE_DEFINITIONS;
/** The handler's wait after the Established transition (HA servers may not have seen it yet). */
const JUST_CREATED_MS = 2_000;
/** tearDown: in-flight requests get a second before the old storage (and its watches) goes. */
const TEARDOWN_MS = 1_000;
/** The finalizer's next look while instances with finalizers of their own remain. */
const CLEANUP_RETRY_MS = 200;

export interface CrdServingDeps {
  readonly store: Store;
  readonly registry: Registry;
  readonly router: Router;
  /** Ends the watches on a storage collection that were opened before `before` (epoch ms). */
  readonly stopWatches: (storage: string, before: number) => void;
}

interface Served {
  readonly uid: string;
  /** spec + acceptedNames as served: a change of either rebuilds the storage. */
  readonly storageKey: string;
  /** The store's resourceVersion when this storage was built (custom-resources.ts, bornRv). */
  readonly bornRv: number;
  readonly defs: readonly ResourceDef[];
}

const asObject = (v: Json | undefined): JsonObject =>
  v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v) ? v : {};

export class CrdServing {
  readonly #deps: CrdServingDeps;
  readonly #served = new Map<string, Served>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #pending = new Set<string>();
  readonly #unsubscribe: () => void;
  #closed = false;

  constructor(deps: CrdServingDeps) {
    this.#deps = deps;
    this.#unsubscribe = deps.store.subscribe(CRDS.storage, (e) => this.#onEvent(e));
  }

  /**
   * CRDs that exist when the apiserver starts (etcd contents): stored complete, names accepted and
   * Established since `installedAt`, as a cluster leaves them.
   */
  install(manifests: readonly JsonObject[], installedAt: string): void {
    for (const manifest of manifests) {
      const crd = structuredClone(manifest);
      CRDS.decode(crd);
      CRDS.prepareForCreate(crd);
      const status = asObject(crd["status"]);
      status["acceptedNames"] = acceptedNamesJson(namesOf(asObject(crd["spec"])["names"]));
      status["conditions"] = [
        condition("NamesAccepted", "NoConflicts", "no conflicts found", installedAt),
        condition("Established", "InitialNamesAccepted", "the initial names have been accepted", installedAt),
      ];
      this.#deps.registry.restore(CRDS, crd, installedAt);
    }
  }

  close(): void {
    this.#closed = true;
    this.#unsubscribe();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #later(ms: number, run: () => void): void {
    if (this.#closed) return;
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.#closed) run();
    }, ms);
    this.#timers.add(t);
  }

  #onEvent(e: StoreEvent): void {
    const name = e.object.name;
    const crd = e.type === "DELETED" ? undefined : (JSON.parse(e.object.json) as JsonObject);
    this.#reserve(name, crd);
    // The controllers run after the write that woke them has answered, as informers do; a name
    // released here may let another CRD of the group accept it.
    for (const other of this.#deps.store.list(CRDS.storage)) this.#schedule(other.name);
  }

  #schedule(name: string): void {
    if (this.#pending.has(name)) return;
    this.#pending.add(name);
    this.#later(0, () => {
      this.#pending.delete(name);
      this.#control(name);
    });
  }

  /** Routes what `crd` serves now (nothing when it is gone or its names are not accepted). */
  #reserve(name: string, crd: JsonObject | undefined): void {
    const before = this.#served.get(name);
    const servable =
      crd !== undefined && (isConditionTrue(crd, "NamesAccepted") || isConditionTrue(crd, "Established"));
    const uid = crd === undefined ? "" : str(metaOf(crd)["uid"]);
    const storageKey =
      crd === undefined
        ? ""
        : sortedJson([crd["spec"] ?? null, asObject(crd["status"])["acceptedNames"] ?? null]);
    // updateCustomResourceDefinition: a new uid, spec or accepted names (or no serving) is a new
    // storage, and the old one is torn down. Otherwise the storage stays; the defs are rebuilt
    // anyway, for the terminating state and the Established time they carry.
    const sameStorage =
      before !== undefined && servable && before.uid === uid && before.storageKey === storageKey;
    const bornRv = sameStorage ? before.bornRv : this.#deps.store.resourceVersion;
    const defs = servable ? this.#defsOf(crd, bornRv) : [];
    this.#route(before?.defs ?? [], defs);
    if (defs.length > 0) this.#served.set(name, { uid, storageKey, bornRv, defs });
    else this.#served.delete(name);
    const storage = before?.defs[0]?.storage;
    if (storage !== undefined && !sameStorage) {
      const at = Date.now();
      this.#later(TEARDOWN_MS, () => this.#deps.stopWatches(storage, at));
    }
  }

  #route(old: readonly ResourceDef[], now: readonly ResourceDef[]): void {
    const key = (d: ResourceDef) => `${d.group}/${d.version}\0${d.resource}`;
    const kept = new Set(now.map(key));
    for (const d of old)
      if (!kept.has(key(d))) this.#deps.router.unserve(`${d.group}/${d.version}`, d.resource);
    for (const d of now) this.#deps.router.serve(d);
  }

  #defsOf(crd: JsonObject, bornRv: number): ResourceDef[] {
    const spec = asObject(crd["spec"]);
    const group = str(spec["group"]);
    const names = namesOf(asObject(crd["status"])["acceptedNames"]);
    const storageVersion = storageVersionOf(crd) ?? "";
    const established = Date.parse(str(conditionOf(crd, "Established")?.["lastTransitionTime"]));
    const isTerminating = terminating(crd);
    const gr = { group, resource: names.plural };
    const beforeCreate = async (objectName: string) => {
      const since = Date.now() - established;
      if (since < JUST_CREATED_MS) await sleep(JUST_CREATED_MS - since);
      if (isTerminating)
        throw forbidden(gr, objectName, "create not allowed while custom resource definition is terminating");
    };
    return versionsOf(crd)
      .filter((v) => v.served)
      .map((v) =>
        customDef({
          group,
          version: v.name,
          storageVersion,
          resource: names.plural,
          singular: names.singular,
          kind: names.kind,
          listKind: names.listKind,
          namespaced: str(spec["scope"]) === "Namespaced",
          shortNames: names.shortNames,
          categories: names.categories,
          schema: structuralSchema(v.schema),
          columns: v.columns,
          statusSubresource: v.statusSubresource,
          beforeCreate,
          bornRv,
        }),
      );
  }

  // ---- the controllers ------------------------------------------------------------------------

  #control(name: string): void {
    const current = this.#deps.store.get(CRDS.storage, name);
    if (current === undefined) return;
    const crd = JSON.parse(CRDS.external(current.json)) as JsonObject;
    if (this.#name(crd)) return;
    if (isConditionTrue(crd, "NamesAccepted") && !isConditionTrue(crd, "Established")) {
      setCondition(crd, {
        type: "Established",
        status: "True",
        reason: "InitialNamesAccepted",
        message: "the initial names have been accepted",
      });
      this.#writeStatus(crd);
      return;
    }
    if (metaOf(crd)["deletionTimestamp"] !== undefined && hasCleanupFinalizer(crd)) this.#finalize(crd);
  }

  /** NamingConditionController; true when it wrote (the next event runs the rest). */
  #name(crd: JsonObject): boolean {
    const spec = asObject(crd["spec"]);
    const status = asObject(crd["status"]);
    const requested = namesOf(spec["names"]);
    const accepted = namesOf(status["acceptedNames"]);
    const { resources, kinds } = this.#namesInUse(str(spec["group"]), str(metaOf(crd)["name"]));
    const fresh = (want: string, have: string, used: Set<string>) =>
      want === have || !used.has(want) ? undefined : `${JSON.stringify(want)} is already in use`;
    const next = { ...accepted };
    let conflict: { reason: string; message: string } | undefined;
    const take = (field: "plural" | "singular" | "kind" | "listKind", used: Set<string>, reason: string) => {
      const why = fresh(requested[field], accepted[field], used);
      if (why === undefined) next[field] = requested[field];
      else conflict = { reason, message: why };
    };
    take("plural", resources, "PluralConflict");
    take("singular", resources, "SingularConflict");
    if (JSON.stringify(requested.shortNames) !== JSON.stringify(accepted.shortNames)) {
      const errs = requested.shortNames
        .filter((s) => !accepted.shortNames.includes(s))
        .map((s) => fresh(s, "", resources))
        .filter((e): e is string => e !== undefined);
      if (errs.length > 0)
        conflict = {
          reason: "ShortNamesConflict",
          message: errs.length === 1 ? errs[0]! : `[${errs.join(", ")}]`,
        };
      else next.shortNames = requested.shortNames;
    }
    take("kind", kinds, "KindConflict");
    take("listKind", kinds, "ListKindConflict");
    next.categories = requested.categories;
    const namesAccepted = conflict
      ? { type: "NamesAccepted", status: "False", ...conflict }
      : { type: "NamesAccepted", status: "True", reason: "NoConflicts", message: "no conflicts found" };
    const established = conditionOf(crd, "Established");
    let establishedCondition =
      established === undefined
        ? {
            type: "Established",
            status: "False",
            reason: "NotAccepted",
            message: "not all names are accepted",
          }
        : {
            type: "Established",
            status: str(established["status"]),
            reason: str(established["reason"]),
            message: str(established["message"]),
          };
    if (establishedCondition.status !== "True" && namesAccepted.status === "True")
      establishedCondition = {
        type: "Established",
        status: "False",
        reason: "Installing",
        message: "the initial names have been accepted",
      };
    const namesJson = acceptedNamesJson(next);
    const same =
      JSON.stringify(status["acceptedNames"]) === JSON.stringify(namesJson) &&
      equivalent(conditionOf(crd, "NamesAccepted"), namesAccepted) &&
      equivalent(established, establishedCondition);
    if (same) return false;
    status["acceptedNames"] = namesJson;
    setCondition(crd, namesAccepted);
    setCondition(crd, establishedCondition);
    this.#writeStatus(crd);
    return true;
  }

  /** Names other CRDs of the group have been given (getAcceptedNamesForGroup). */
  #namesInUse(group: string, except: string): { resources: Set<string>; kinds: Set<string> } {
    const resources = new Set<string>();
    const kinds = new Set<string>();
    for (const v of this.#deps.store.list(CRDS.storage)) {
      if (v.name === except) continue;
      const other = JSON.parse(v.json) as JsonObject;
      if (str(asObject(other["spec"])["group"]) !== group) continue;
      const n = namesOf(asObject(other["status"])["acceptedNames"]);
      for (const r of [n.plural, n.singular, ...n.shortNames]) if (r !== "") resources.add(r);
      for (const k of [n.kind, n.listKind]) if (k !== "") kinds.add(k);
    }
    return { resources, kinds };
  }

  /** The finalizer: delete every instance, then drop the finalizer (which deletes the CRD). */
  #finalize(crd: JsonObject): void {
    const name = str(metaOf(crd)["name"]);
    const inProgress = {
      type: "Terminating",
      status: "True",
      reason: "InstanceDeletionInProgress",
      message: "CustomResource deletion is in progress",
    };
    if (!equivalent(conditionOf(crd, "Terminating"), inProgress)) {
      setCondition(crd, inProgress);
      this.#writeStatus(crd);
      return;
    }
    const served = this.#served.get(name);
    const def = served?.defs[0];
    if (def !== undefined) {
      for (const v of this.#deps.store.list(def.storage)) {
        try {
          this.#deps.registry.delete(def, v.namespace, v.name, {});
        } catch {
          // gone meanwhile
        }
      }
      if (this.#deps.store.list(def.storage).length > 0) {
        this.#later(CLEANUP_RETRY_MS, () => this.#schedule(name));
        return;
      }
      setCondition(crd, {
        type: "Terminating",
        status: "False",
        reason: "InstanceDeletionCompleted",
        message: "removed all instances",
      });
    } else
      setCondition(crd, {
        type: "Terminating",
        status: "False",
        reason: "NeverEstablished",
        message: "resource was never established",
      });
    const meta = metaOf(crd);
    meta["finalizers"] = (Array.isArray(meta["finalizers"]) ? meta["finalizers"] : []).filter(
      (f) => f !== CLEANUP_FINALIZER,
    );
    this.#writeStatus(crd);
  }

  /** UpdateStatus at the resourceVersion read; a conflict means another event comes. */
  #writeStatus(crd: JsonObject): void {
    try {
      this.#deps.registry.update(CRDS, "", str(metaOf(crd)["name"]), () => structuredClone(crd), {
        subresource: "status",
        dryRun: false,
      });
    } catch {
      // changed or deleted meanwhile: its event schedules another pass
    }
  }
}

function condition(type: string, reason: string, message: string, at: string): JsonObject {
  return { type, status: "True", lastTransitionTime: at, reason, message };
}

function acceptedNamesJson(n: CrdNames): JsonObject {
  return {
    plural: n.plural,
    ...(n.singular ? { singular: n.singular } : {}),
    ...(n.shortNames.length > 0 ? { shortNames: [...n.shortNames] } : {}),
    kind: n.kind,
    ...(n.listKind ? { listKind: n.listKind } : {}),
    ...(n.categories.length > 0 ? { categories: [...n.categories] } : {}),
  };
}

/** IsCRDConditionEquivalent: type, status, reason and message. */
function equivalent(
  have: JsonObject | undefined,
  want: { type: string; status: string; reason: string; message: string },
): boolean {
  return (
    have !== undefined &&
    have["type"] === want.type &&
    have["status"] === want.status &&
    str(have["reason"]) === want.reason &&
    str(have["message"]) === want.message
  );
}

const terminating = (crd: JsonObject): boolean =>
  metaOf(crd)["deletionTimestamp"] !== undefined || isConditionTrue(crd, "Terminating");

const hasCleanupFinalizer = (crd: JsonObject): boolean => {
  const f = metaOf(crd)["finalizers"];
  return Array.isArray(f) && f.includes(CLEANUP_FINALIZER);
};
