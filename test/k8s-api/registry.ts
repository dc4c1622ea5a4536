// The generic registry (k8s.io/apiserver/pkg/registry/generic/registry/store.go + rest/create.go,
// update.go, delete.go) over the double's Store: BeforeCreate/BeforeUpdate bookkeeping, optimistic
// concurrency, no-op updates that do not bump resourceVersion, finalizers, graceful deletion with a
// stand-in kubelet, delete preconditions. Everything between reading the current object and
// committing is synchronous, so each write is atomic. Collection reads are in list.ts.
import { randomUUID } from "node:crypto";
import { planDeletion } from "./deletion.ts";
import type { Json } from "./json-patch.ts";
import { type ListOptions, type ListResult, listVersions, waitForResourceVersion } from "./list.ts";
import {
  type DeleteOptions,
  groupKind,
  groupResource,
  type JsonObject,
  metaOf,
  type ResourceDef,
  str,
} from "./resources.ts";
import {
  alreadyExists,
  badRequest,
  conflict,
  invalid,
  notFound,
  OPTIMISTIC_LOCK_MSG,
  storageInvalidObj,
  successStatus,
  unknownError,
} from "./status.ts";
import type { Store, Version } from "./store.ts";
import { nowTime, sortedJson } from "./typed.ts";
import { invalidValue } from "./validation.ts";

export type { ListOptions, ListResult } from "./list.ts";

export interface RegistryOptions {
  /** etcd --max-request-bytes: a larger object fails with "etcdserver: request is too large". */
  readonly maxObjectBytes?: number;
  /** How long the stand-in kubelet takes to finish a graceful pod deletion (capped by the grace period); -1: never. */
  readonly podTerminationMs?: number;
  /** How long a list waits for a resourceVersion newer than the store's before 504 (apiserver: 3 s). */
  readonly tooLargeResourceVersionWaitMs?: number;
}

export interface WriteResult {
  /** The response body (external JSON of the object, or a Status for some deletes). */
  readonly body: string;
  readonly code: number;
}

const GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
export function generateName(base: string): string {
  let suffix = "";
  for (let i = 0; i < 5; i++)
    suffix += GENERATE_ALPHABET[Math.floor(Math.random() * GENERATE_ALPHABET.length)];
  return `${base.length > 58 ? base.slice(0, 58) : base}${suffix}`;
}

export const keyOf = (def: ResourceDef, namespace: string, name: string): string =>
  def.namespaced ? `${namespace}/${name}` : name;
function ensureNamespace(def: ResourceDef, namespace: string, meta: JsonObject): void {
  if (!def.namespaced) {
    delete meta["namespace"];
    return;
  }
  const own = str(meta["namespace"]);
  if (own === "") meta["namespace"] = namespace;
  else if (own !== namespace)
    throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
}

export class Registry {
  readonly store: Store;
  readonly #opts: Required<RegistryOptions>;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(store: Store, options: RegistryOptions = {}) {
    this.store = store;
    this.#opts = {
      maxObjectBytes: options.maxObjectBytes ?? 1_572_864,
      podTerminationMs: options.podTerminationMs ?? 100,
      tooLargeResourceVersionWaitMs: options.tooLargeResourceVersionWaitMs ?? 3_000,
    };
  }

  /** A read "not older than" `rv` waits for the store to get there, then fails with 504 (cacher). */
  waitForResourceVersion(rv: string): Promise<void> {
    return waitForResourceVersion(this.store, rv, this.#opts.tooLargeResourceVersionWaitMs);
  }

  /** A consistent, optionally paginated list (etcd3 store GetList semantics). */
  list(def: ResourceDef, namespace: string, o: ListOptions): Promise<ListResult> {
    return listVersions(this.store, def, namespace, o, this.#opts.tooLargeResourceVersionWaitMs);
  }

  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #version(def: ResourceDef, key: string, stored: JsonObject, rv: number): Version {
    const meta = metaOf(stored);
    meta["resourceVersion"] = String(rv);
    const json = def.encode(stored);
    return {
      key,
      namespace: str(meta["namespace"]),
      name: str(meta["name"]),
      uid: str(meta["uid"]),
      rv,
      json,
      labels: { ...((meta["labels"] ?? {}) as Record<string, string>) },
      fields: def.fields(stored),
    };
  }

  #restamp =
    (def: ResourceDef) =>
    (last: Version, rv: number): Version =>
      this.#version(def, last.key, JSON.parse(last.json) as JsonObject, rv);

  #checkSize(def: ResourceDef, stored: JsonObject): void {
    if (Buffer.byteLength(def.encode(stored)) > this.#opts.maxObjectBytes)
      throw unknownError("etcdserver: request is too large");
  }

  get(def: ResourceDef, namespace: string, name: string): Version {
    const v = this.store.get(def.storage, keyOf(def, namespace, name));
    if (!v) throw notFound(groupResource(def), name);
    return v;
  }

  /** POST: BeforeCreate, validation, then an etcd create that fails if the key exists. */
  create(def: ResourceDef, namespace: string, input: JsonObject, dryRun: boolean): WriteResult {
    const obj = def.toStorage(input);
    const meta = metaOf(obj);
    ensureNamespace(def, namespace, meta);
    delete meta["deletionTimestamp"];
    delete meta["deletionGracePeriodSeconds"];
    delete meta["managedFields"];
    def.prepareForCreate(obj);
    meta["uid"] = randomUUID();
    meta["creationTimestamp"] = nowTime();
    const generate = str(meta["generateName"]);
    let name = str(meta["name"]);
    for (let attempt = 0; name === "" && generate !== "" && attempt < 8; attempt++) {
      const candidate = generateName(generate);
      if (!this.store.get(def.storage, keyOf(def, namespace, candidate))) name = candidate;
    }
    if (name !== "") meta["name"] = name;
    const errs = def.validate(obj);
    if (errs.length > 0) throw invalid(groupKind(def), name, errs);
    if (str(meta["resourceVersion"]) !== "")
      throw unknownError("resourceVersion should not be set on objects to be created");
    const key = keyOf(def, str(meta["namespace"]), name);
    const existing = this.store.get(def.storage, key);
    if (existing) {
      const deleting = (JSON.parse(existing.json) as JsonObject)["metadata"] as JsonObject;
      throw alreadyExists(groupResource(def), name, deleting["deletionTimestamp"] !== undefined);
    }
    this.#checkSize(def, obj);
    if (dryRun) {
      delete meta["resourceVersion"];
      return { body: def.external(def.encode(obj)), code: 201 };
    }
    const event = this.store.put(def.storage, key, (rv) => this.#version(def, key, obj, rv));
    return { body: def.external(event.object.json), code: 201 };
  }

  /**
   * An object that is in etcd when the apiserver starts (the double's initial CRDs): prepared and
   * validated as a create would be, but created at `createdAt` and stored as given otherwise.
   */
  restore(def: ResourceDef, obj: JsonObject, createdAt: string): void {
    const meta = metaOf(obj);
    meta["uid"] = randomUUID();
    meta["creationTimestamp"] = createdAt;
    const name = str(meta["name"]);
    const errs = def.validate(obj);
    if (errs.length > 0) throw invalid(groupKind(def), name, errs);
    const key = keyOf(def, str(meta["namespace"]), name);
    this.store.put(def.storage, key, (rv) => this.#version(def, key, obj, rv));
  }

  /**
   * PUT / PATCH (and their /status forms): `produce` maps the current version (or undefined when
   * absent) to the desired object in the request's API version. Mirrors Store.Update inside
   * GuaranteedUpdate.
   */
  update(
    def: ResourceDef,
    namespace: string,
    name: string,
    produce: (current: Version | undefined) => JsonObject,
    opts: { readonly subresource?: string; readonly uidPrecondition?: string; readonly dryRun: boolean },
  ): WriteResult {
    const gr = groupResource(def);
    const key = keyOf(def, namespace, name);
    const current = this.store.get(def.storage, key);
    if (!current) {
      if (!def.allowCreateOnUpdate || opts.subresource) throw notFound(gr, name);
      const input = produce(undefined);
      delete metaOf(input)["resourceVersion"];
      return { ...this.create(def, namespace, input, opts.dryRun), code: 201 };
    }
    const old = def.decodeStored ? def.decodeStored(current.json) : (JSON.parse(current.json) as JsonObject);
    const oldMeta = metaOf(old);
    if (opts.uidPrecondition && opts.uidPrecondition !== current.uid)
      throw storageInvalidObj(
        gr,
        name,
        `${def.etcdPrefix}/${key}`,
        `Precondition failed: UID in precondition: ${opts.uidPrecondition}, UID in object meta: ${current.uid}`,
      );
    let obj = def.toStorage(produce(current));
    let meta = metaOf(obj);
    ensureNamespace(def, namespace, meta);
    const given = str(meta["resourceVersion"]);
    if (given === "") {
      if (!def.allowUnconditionalUpdate)
        throw invalid({ group: def.group, kind: def.resource }, name, [
          invalidValue("metadata.resourceVersion", { goSyntax: "0x0" }, "must be specified for an update"),
        ]);
    } else if (!/^\d+$/.test(given)) {
      throw invalid({ group: def.group, kind: def.resource }, name, [
        invalidValue(
          "metadata.resourceVersion",
          given,
          `strconv.ParseUint: parsing ${JSON.stringify(given)}: invalid syntax`,
        ),
      ]);
    } else if (Number(given) !== current.rv) {
      throw conflict(gr, name, OPTIMISTIC_LOCK_MSG);
    }
    // rest.BeforeUpdate
    if (oldMeta["generation"] === undefined) delete meta["generation"];
    else meta["generation"] = oldMeta["generation"]!;
    if (opts.subresource === "status" && def.prepareStatusUpdate) {
      obj = def.prepareStatusUpdate(obj, old);
      meta = metaOf(obj);
    } else def.prepareForUpdate(obj, old);
    if (str(meta["uid"]) === "") meta["uid"] = oldMeta["uid"]!;
    meta["creationTimestamp"] = oldMeta["creationTimestamp"]!;
    if (oldMeta["deletionTimestamp"] === undefined) delete meta["deletionTimestamp"];
    else meta["deletionTimestamp"] = oldMeta["deletionTimestamp"]!;
    if (
      oldMeta["deletionGracePeriodSeconds"] !== undefined &&
      meta["deletionGracePeriodSeconds"] === undefined
    )
      meta["deletionGracePeriodSeconds"] = oldMeta["deletionGracePeriodSeconds"]!;
    delete meta["managedFields"];
    const errs = def.validateUpdate(obj, old);
    if (errs.length > 0) throw invalid(groupKind(def), name, errs);
    meta["resourceVersion"] = String(current.rv);
    const finalizers = (meta["finalizers"] ?? []) as Json[];
    const grace = oldMeta["deletionGracePeriodSeconds"];
    if (
      finalizers.length === 0 &&
      oldMeta["deletionTimestamp"] !== undefined &&
      (grace === undefined || grace === 0)
    ) {
      if (!opts.dryRun) this.store.remove(def.storage, key, this.#restamp(def));
      return { body: def.external(def.encode(obj)), code: 200 };
    }
    if (sortedJson(obj) === sortedJson(old)) return { body: def.external(current.json), code: 200 };
    this.#checkSize(def, obj);
    if (opts.dryRun) return { body: def.external(def.encode(obj)), code: 200 };
    const event = this.store.put(def.storage, key, (rv) => this.#version(def, key, obj, rv));
    return { body: def.external(event.object.json), code: 200 };
  }

  /** DELETE: commits the deletion plan (Store.Delete): mark and/or remove, answer like finalizeDelete. */
  delete(def: ResourceDef, namespace: string, name: string, options: DeleteOptions): WriteResult {
    const key = keyOf(def, namespace, name);
    const current = this.store.get(def.storage, key);
    if (!current) throw notFound(groupResource(def), name);
    if (def.markForDeletion) {
      const obj = JSON.parse(current.json) as JsonObject;
      if (metaOf(obj)["deletionTimestamp"] === undefined) {
        def.markForDeletion(obj, options.preconditions?.uid, options.preconditions?.resourceVersion);
        const dryRun = (options.dryRun ?? []).includes("All");
        if (dryRun) return { body: def.external(def.encode(obj)), code: 200 };
        const event = this.store.put(def.storage, key, (rv) => this.#version(def, key, obj, rv));
        return { body: def.external(event.object.json), code: 200 };
      }
    }
    const plan = planDeletion(def, current, options);
    const dryRun = (options.dryRun ?? []).includes("All");
    if (plan.kind === "pending") return this.#finalizeDelete(def, current);
    if (plan.kind === "mark") {
      let updated = current;
      if (sortedJson(plan.obj) !== sortedJson(JSON.parse(current.json) as Json))
        updated = dryRun
          ? { ...current, json: def.encode(plan.obj) }
          : this.store.put(def.storage, key, (rv) => this.#version(def, key, plan.obj, rv)).object;
      if (!plan.thenDelete) {
        if (plan.period > 0 && !dryRun) this.#kubelet(def, namespace, name, current.uid, plan.period);
        return { body: def.external(updated.json), code: options.orphanDependents === false ? 202 : 200 };
      }
    }
    if (dryRun) return this.#finalizeDelete(def, current);
    const last = this.store.get(def.storage, key)!;
    this.store.remove(def.storage, key, this.#restamp(def));
    return this.#finalizeDelete(def, last);
  }

  #finalizeDelete(def: ResourceDef, last: Version): WriteResult {
    if (def.returnDeletedObject) return { body: def.external(last.json), code: 200 };
    return {
      body: successStatus({ name: last.name, group: def.group, kind: def.resource, uid: last.uid }),
      code: 200,
    };
  }

  /** The node's kubelet: stops the containers, then deletes the pod with grace period 0. */
  #kubelet(def: ResourceDef, namespace: string, name: string, uid: string, periodSeconds: number): void {
    if (this.#opts.podTerminationMs < 0) return;
    const delay = Math.min(periodSeconds * 1000, this.#opts.podTerminationMs);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      try {
        this.delete(def, namespace, name, { gracePeriodSeconds: 0, preconditions: { uid } });
      } catch {
        // gone already, or recreated under a new uid
      }
    }, delay);
    this.#timers.add(timer);
  }

  /** DELETE on a collection: list, then delete each (NotFound ignored); answers the listed items. */
  async deleteCollection(
    def: ResourceDef,
    namespace: string,
    o: ListOptions,
    options: DeleteOptions,
  ): Promise<ListResult> {
    const listed = await this.list(def, namespace, o);
    for (const v of listed.items) {
      try {
        this.delete(def, v.namespace, v.name, options);
      } catch (e) {
        if (!(e instanceof Error && "httpCode" in e && (e as { httpCode: number }).httpCode === 404)) throw e;
      }
    }
    return listed;
  }
}
