// The Kubernetes datastore (datastore "kubernetes"): Whereabouts' custom resources in the
// kubeconfig's namespace, written exactly as Go Whereabouts writes them, so Go and TypeScript
// plugins share pools (docs/kubernetes-store.md). No Lease and no lock: every write carries its
// own preconditions, so concurrent ADDs that take different addresses never conflict.
//
// A commit is several requests, in this order (the order Go writes in):
//  1. the pool: POST it with the new entries when it does not exist, else one JSON patch whose
//     `test`s are exactly the change's preconditions, per entry (no resourceVersion test: writers
//     of other addresses never conflict; Go writers test the resourceVersion, so any write of ours
//     between their read and their patch makes them read again). A failed test (422) → read the
//     pool → entry conflict, and nothing else is written.
//  2. each reservation to take: POST it (with our owner label); AlreadyExists → GET it: held by
//     the same owner (podRef + ifName) → accepted, else the reservations this commit created are
//     deleted again (uid precondition), the pool write is undone (the inverse patch, tested
//     entry by entry) and the holder reported. The pool comes FIRST so that a Go plugin racing us
//     for an address always loses at its resourceVersion test and retries, never at its
//     reservation POST, which fails its ADD. A writer killed between the steps leaves an entry
//     without its reservation, never reported to anyone: the attachment's next ADD finds the entry
//     and takes the reservation, its DEL removes the entry.
//  3. each reservation to drop: one deletecollection by name AND owner label (the apiserver lists
//     with both selectors, reading the one key the name pins, then deletes). A DEL's `dropOwners`
//     add nothing: a deletecollection by owner label alone would read every reservation of the
//     namespace on every DEL (labels are not indexed), 50,000 at cluster scale. If that deleted
//     nothing (a reservation Go wrote, without our label) or is not allowed (403), GET it and
//     DELETE it at its resourceVersion only if its owner is the one releasing it. A reservation no
//     entry names (a writer stopped between its requests) goes with a DEL that finds no entry
//     (dropReservationsOf), or with the controller once its pod is gone.
// Every pool write (the POST, the JSON patch, an undo) also sets the pool's `status: {used, free}`
// for the pool as it will be after the write, in the same request: counted (pure core,
// allocator/usage.ts) on the pool as this store last saw it (its last read, or the answer to its
// last write) with the change applied. Nothing pool-wide is tested, so a write racing another one
// may leave the figures off by that other write until the pool's next write; Go's writes leave
// them as they are.
// Uncontended requests: ADD 2 (GET pool, PATCH), 3 with overlapping ranges (+ POST reservation);
// DEL 3 (GET pool, PATCH, DELETE collection); the first ADD of a pool: GET (404), POST pool,
// [POST reservation].
import { carriedUsage, type PoolUsage, usageOf } from "../../allocator/usage.ts";
import { StoredDataError, StoreUnavailableError } from "../../errors/errors.ts";
import { capped } from "../../ipam/retry.ts";
import { itemsOf, JSON_PATCH, KubeClient, type KubeReply, MERGE_PATCH } from "../../kube/client.ts";
import { type KubeConnection, loadKubeconfig } from "../../kube/kubeconfig.ts";
import { createTransport } from "../../net/http-transport.ts";
import { ownsReservation, type PoolSnapshot, type Reservation } from "../../pool/allocation.ts";
import {
  applied,
  type CallOptions,
  type CommitResult,
  checkChange,
  emptyPool,
  heldAsRecorded,
  mayReserve,
  type Owner,
  type PoolChange,
  poolChange,
  type ReadOptions,
  reserved,
  type Store,
  sameOwner,
  type Takeover,
} from "../store.ts";
import { type GateClock, GO_LEASE_NAME, GoLeaseGate, goLeaseRecord } from "./go-lease-gate.ts";
import { KubernetesNodeSlices } from "./node-slice-access.ts";
import {
  API_VERSION,
  type DecodedPool,
  decodePool,
  decodeReservation,
  entryPatch,
  firstViolation,
  IPPOOLS,
  type Json,
  metaOf,
  OWNER_LABEL,
  ownerHash,
  poolObject,
  RESERVATIONS,
  reservationMergePatch,
  reservationObject,
  showsChange,
} from "./objects.ts";

export interface KubernetesStoreOptions {
  /**
   * Budget of one store call (all its requests, retries included), default 10 s; the caller's
   * deadline (CallOptions) cuts it shorter.
   */
  readonly timeoutMs?: number;
  /** Budget of one HTTP request; default min(3 s, timeoutMs). */
  readonly attemptTimeoutMs?: number;
  /** Items per page when listing; default 500. */
  readonly listPageSize?: number;
  /**
   * Wait while a Go Whereabouts plugin holds its Lease before writing a pool (go-lease-gate.ts).
   * For a long-lived store (the node agent's): it learns whether Go is active from the Lease, which
   * a store opened for one call would have to read on every write.
   */
  readonly honourGoLease?: boolean;
  /** The namespace of the pools and reservations; default the kubeconfig context's. */
  readonly namespace?: string;
}

export const DEFAULT_KUBERNETES_TIMEOUT_MS = 10_000;
const DEFAULT_ATTEMPT_TIMEOUT_MS = 3_000;
/** Budget of one read of Go's Lease (a write waits for no more than that on an unanswered read). */
const LEASE_READ_MS = 1_000;
const systemGateClock: GateClock = {
  now: Date.now,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};
/** Extra time to delete the reservations of a commit that failed after creating them. */
const ROLLBACK_MS = 2_000;
/** Rounds of one step before giving up because what it touches keeps changing. */
const MAX_ROUNDS = 8;
/** Items per page of a listing. */
const DEFAULT_LIST_PAGE = 500;
/** Pools whose last seen state a store keeps, for the status of its next write to them. */
const KNOWN_POOLS = 256;

const OK: CommitResult = { ok: true };

/**
 * Opens the Kubernetes store: reads the kubeconfig (and the files it names) now, throwing
 * StoreSettingsError when it cannot be used; sends no request until the first call.
 */
export async function openKubernetesStore(
  kubeconfig: string,
  options: KubernetesStoreOptions = {},
): Promise<KubernetesStore> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_KUBERNETES_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0)
    throw new RangeError(
      `Cannot open Kubernetes store as 'timeoutMs' must be a positive integer: ${timeoutMs}`,
    );
  const connection = await loadKubeconfig(kubeconfig);
  const client = new KubeClient({
    connection,
    transport: createTransport(connection.tls),
    attemptTimeoutMs: Math.min(timeoutMs, options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS),
  });
  const store = new KubernetesStore(
    client,
    options.namespace ?? connection.namespace,
    timeoutMs,
    options.listPageSize,
  );
  if (options.honourGoLease === true) store.honourGoLease();
  return store;
}

/** A reservation as step 1 left it. */
type Reserved =
  | { readonly kind: "created"; readonly name: string; readonly uid: string }
  | {
      readonly kind: "owned";
      readonly wanted: Reservation;
      readonly owner: string;
      readonly resourceVersion: string;
      readonly stale: boolean;
    }
  | { readonly kind: "held"; readonly holder: Reservation }
  /** Taken over from `from`, the owner the change replaced: given back by an undo. */
  | { readonly kind: "taken"; readonly from: Reservation; readonly to: Reservation };

export class KubernetesStore implements Store {
  readonly datastore = "kubernetes" as const;
  readonly namespace: string;
  readonly #client: KubeClient;
  readonly #timeoutMs: number;
  #gate: GoLeaseGate | undefined;
  /** Pools the last read found missing: the next commit POSTs them instead of patching. */
  readonly #missing = new Set<string>();
  /**
   * The pool as a commit that lost a race read it: the next getPool of that pool returns it
   * instead of asking again (used once), so a retry after a conflict costs no extra read.
   */
  readonly #loser = new Map<string, PoolSnapshot>();
  /**
   * Each pool as this store last saw it (a read, or the answer to a write), most recent last, at
   * most KNOWN_POOLS: what the status of the next write to it is counted from.
   */
  readonly #known = new Map<string, Pick<DecodedPool, "snapshot" | "usage" | "hasReleased">>();
  /** deletecollection was refused (RBAC without that verb): drop reservations by GET + DELETE. */
  #noDeleteCollection = false;
  #closed = false;

  readonly #listPage: number;
  /** The NodeSlicePools of node-slice networks (node-slice-access.ts). */
  readonly nodeSlices: KubernetesNodeSlices;

  constructor(client: KubeClient, namespace: string, timeoutMs: number, listPageSize = DEFAULT_LIST_PAGE) {
    this.#client = client;
    this.namespace = namespace;
    this.#timeoutMs = timeoutMs;
    this.#listPage = listPageSize;
    this.nodeSlices = new KubernetesNodeSlices(
      (request, deadline, action) => this.#send(request, deadline, action),
      (resource, name) => this.#path(resource, name),
      (options) => this.#deadline(options),
    );
  }

  /**
   * From now on, pool writes wait while a Go plugin holds the Lease `whereabouts` of the namespace
   * (go-lease-gate.ts).
   */
  honourGoLease(clock: GateClock = systemGateClock): GoLeaseGate {
    const path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.namespace)}/leases/${GO_LEASE_NAME}`;
    this.#gate = new GoLeaseGate(async () => {
      const reply = await this.#send(
        { method: "GET", path, expect: [403, 404] },
        Date.now() + LEASE_READ_MS,
        "read Go Whereabouts' Lease from",
      );
      if (reply.status === 404) return undefined;
      return reply.status === 403 ? "forbidden" : goLeaseRecord(reply.body);
    }, clock);
    return this.#gate;
  }

  /** Where and as whom the store's requests go (the node agent watches beside them). */
  get connection(): KubeConnection {
    return this.#client.connection;
  }

  /** HTTP requests sent so far (retries included). */
  get requests(): number {
    return this.#client.requests;
  }

  async getPool(name: string, options?: ReadOptions): Promise<PoolSnapshot> {
    const fresh = this.#loser.get(name);
    if (fresh !== undefined && !this.#closed) {
      this.#loser.delete(name);
      return fresh;
    }
    const read = await this.#readPool(name, this.#deadline(options), `read pool ${name} from`);
    return read?.snapshot ?? emptyPool(name);
  }

  async listPools(options?: CallOptions): Promise<readonly PoolSnapshot[]> {
    const items = await this.#list(IPPOOLS, "list pools in", options);
    return items.map((item) => decodePool(item).snapshot);
  }

  async getReservation(name: string, options?: CallOptions): Promise<Reservation | undefined> {
    const got = await this.#getReservation(name, this.#deadline(options), `read reservation ${name} from`);
    return got?.reservation;
  }

  async listReservations(options?: CallOptions): Promise<readonly Reservation[]> {
    const items = await this.#list(RESERVATIONS, "list reservations in", options);
    return items.map(decodeReservation);
  }

  /** Per reservation: GET it, DELETE it at the resourceVersion read while it is held as recorded. */
  async dropReservations(
    reservations: readonly Reservation[],
    options?: CallOptions,
  ): Promise<readonly Reservation[]> {
    const deadline = this.#deadline(options);
    const dropped: Reservation[] = [];
    for (const r of reservations) {
      if (
        await this.#deleteWhile(r.name, (held) => heldAsRecorded(held, r), deadline, "drop reservations from")
      )
        dropped.push(r);
    }
    return dropped;
  }

  async dropReservationsOf(owner: Owner, options?: CallOptions): Promise<number> {
    const deadline = this.#deadline(options);
    const action = `drop reservations of ${owner.podRef} from`;
    const swept = await this.#dropOwners([owner], deadline, action);
    if (!this.#noDeleteCollection) return swept.names.size;
    let count = 0;
    for (const item of await this.#list(RESERVATIONS, action, options)) {
      const r = decodeReservation(item);
      if (!sameOwner(r, owner)) continue;
      await this.#unreserve(r, deadline, action, swept);
      count++;
    }
    return count;
  }

  async commit(change: PoolChange, options?: CallOptions): Promise<CommitResult> {
    checkChange(change);
    const deadline = this.#deadline(options);
    const action = `commit pool ${change.pool} to`;
    this.#loser.delete(change.pool);
    const writesPool =
      change.create.length + change.update.length + change.remove.length > 0 ||
      (change.release?.length ?? 0) + (change.forget?.length ?? 0) > 0;
    const written: PoolWrite = { mayHaveApplied: false };
    if (writesPool) {
      await this.#gate?.clear(deadline);
      const result = await this.#writePool(change, deadline, action, written);
      if (!result.ok) return result;
    }
    const created: { name: string; uid: string }[] = [];
    const owned: Extract<Reserved, { kind: "owned" }>[] = [];
    const taken: Extract<Reserved, { kind: "taken" }>[] = [];
    try {
      for (const r of change.reserve) {
        const outcome = await this.#reserve(r, change, deadline, action);
        if (outcome.kind === "created") created.push(outcome);
        else if (outcome.kind === "taken") taken.push(outcome);
        else if (outcome.kind === "owned") owned.push(outcome);
        else {
          await this.#undo(change, writesPool ? written : undefined, created, taken);
          return { ok: false, conflict: "reservation", holder: outcome.holder };
        }
      }
    } catch (error) {
      await this.#undo(change, writesPool ? written : undefined, created, taken);
      throw error;
    }
    for (const o of owned) if (o.stale) await this.#refresh(o, deadline, action);
    // change.dropOwners: the named ones only (see the header, step 3).
    const swept: Swept = { owners: new Set(), names: new Set() };
    for (const r of change.unreserve) await this.#unreserve(r, deadline, action, swept);
    return OK;
  }

  /** Lists one pool at most: proves the API answers, the credentials work and the CRD is installed. */
  async ping(options?: CallOptions): Promise<void> {
    await this.#send(
      { method: "GET", path: `${this.#path(IPPOOLS)}?limit=1` },
      this.#deadline(options),
      `list pools in namespace ${this.namespace} at`,
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.close();
  }

  // ---- step 2: reservations -------------------------------------------------------------------

  async #reserve(r: Takeover, change: PoolChange, deadline: number, action: string): Promise<Reserved> {
    const owner = await ownerHash(r);
    // A repeated ADD (an entry rewritten for this owner, or nothing to write) or a takeover most
    // likely finds its reservation in place: look first rather than fail a create.
    let look =
      r.replaces !== undefined ||
      change.update.some((u) => sameOwner(u.to, r)) ||
      change.create.length + change.update.length + change.remove.length === 0;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      if (!look) {
        const posted = await this.#send(
          {
            method: "POST",
            path: this.#path(RESERVATIONS),
            body: reservationObject(r, owner),
            expect: [409],
          },
          deadline,
          action,
        );
        // Only a definite create counts as ours to roll back; after a lost answer the object
        // found below may be an older one of the same owner.
        if (posted.status !== 409) return { kind: "created", name: r.name, uid: metaOf(posted.body).uid };
      }
      look = false;
      const got = await this.#send(
        { method: "GET", path: this.#path(RESERVATIONS, r.name), expect: [404] },
        deadline,
        action,
      );
      if (got.status === 404) continue;
      const holder = decodeReservation(got.body);
      const may = mayReserve(holder, r);
      if (may === undefined) return { kind: "held", holder };
      const meta = metaOf(got.body);
      if (may === "takeover") {
        const to = reserved(holder, r);
        if (await this.#takeOver(to, owner, meta.resourceVersion, deadline, action))
          return { kind: "taken", from: holder, to };
        continue;
      }
      return {
        kind: "owned",
        wanted: r,
        owner,
        resourceVersion: meta.resourceVersion,
        stale: holder.containerId !== r.containerId || meta.labels[OWNER_LABEL] !== owner,
      };
    }
    throw new StoreUnavailableError(
      `Cannot ${action} the Kubernetes API at ${this.#client.server}: reservation ${r.name} kept appearing and disappearing`,
    );
  }

  /**
   * Rewrites a reservation to its new holder (a takeover) at the resourceVersion read: false when
   * it changed since (the caller reads it again). `to` is written whole: owner fields, label, claim.
   */
  async #takeOver(
    to: Reservation,
    owner: string,
    resourceVersion: string,
    deadline: number,
    action: string,
  ): Promise<boolean> {
    const patched = await this.#send(
      {
        method: "PATCH",
        path: this.#path(RESERVATIONS, to.name),
        contentType: MERGE_PATCH,
        body: reservationMergePatch(to, owner, resourceVersion),
        expect: [404, 409],
      },
      deadline,
      action,
    );
    return patched.status < 300;
  }

  /** Records the new container id (and owner label) on a reservation the same owner already held. */
  async #refresh(o: Extract<Reserved, { kind: "owned" }>, deadline: number, action: string): Promise<void> {
    let resourceVersion = o.resourceVersion;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const patched = await this.#send(
        {
          method: "PATCH",
          path: this.#path(RESERVATIONS, o.wanted.name),
          contentType: MERGE_PATCH,
          body: {
            metadata: { resourceVersion, labels: { [OWNER_LABEL]: o.owner } },
            spec: { containerid: o.wanted.containerId },
          },
          expect: [404, 409],
        },
        deadline,
        action,
      );
      if (patched.status !== 409) return;
      const got = await this.#send(
        { method: "GET", path: this.#path(RESERVATIONS, o.wanted.name), expect: [404] },
        deadline,
        action,
      );
      if (got.status === 404) return;
      const current = decodeReservation(got.body);
      const meta = metaOf(got.body);
      if (!ownsReservation(current, o.wanted)) return;
      if (current.containerId === o.wanted.containerId && meta.labels[OWNER_LABEL] === o.owner) return;
      resourceVersion = meta.resourceVersion;
    }
  }

  /**
   * Takes back what a commit that cannot complete wrote: the reservations it created (each only
   * while it is that very object, uid), those it took over (given back while the new holder still
   * holds them, at the resourceVersion read) and its pool write — the pool object itself when this commit
   * created it and nobody wrote it since (uid and resourceVersion preconditions), else the inverse
   * change, tested entry by entry, so nothing anyone wrote since is touched. Best effort in its own
   * time budget: what stays is an entry or reservation nobody was told about, which the
   * attachment's DEL removes.
   */
  async #undo(
    change: PoolChange,
    written: PoolWrite | undefined,
    created: readonly { name: string; uid: string }[],
    taken: readonly Extract<Reserved, { kind: "taken" }>[] = [],
  ): Promise<void> {
    const deadline = Date.now() + ROLLBACK_MS;
    for (const { from, to } of taken) {
      const action = `give back reservation ${to.name} at`;
      try {
        const got = await this.#send(
          { method: "GET", path: this.#path(RESERVATIONS, to.name), expect: [404] },
          deadline,
          action,
        );
        if (got.status === 404 || !sameOwner(decodeReservation(got.body), to)) continue;
        await this.#takeOver(from, await ownerHash(from), metaOf(got.body).resourceVersion, deadline, action);
      } catch {
        // Left with the new holder: its DEL or the controller releases it.
      }
    }
    for (const { name, uid } of created) {
      try {
        await this.#send(
          {
            method: "DELETE",
            path: this.#path(RESERVATIONS, name),
            body: deleteOptions({ uid }),
            expect: [404, 409],
          },
          deadline,
          `roll back reservation ${name} at`,
        );
      } catch {
        // Left behind it blocks one address until its owner's DEL or the controller drops it.
      }
    }
    if (written === undefined) return;
    const action = `roll back pool ${change.pool} at`;
    try {
      if (written.created !== undefined) {
        const deleted = await this.#send(
          {
            method: "DELETE",
            path: this.#path(IPPOOLS, change.pool),
            body: deleteOptions(written.created),
            expect: [404, 409],
          },
          deadline,
          action,
        );
        if (deleted.status !== 409) {
          this.#missing.add(change.pool);
          this.#known.delete(change.pool);
          return;
        }
      }
      await this.#writePool(inverseOf(change), deadline, action, { mayHaveApplied: false });
    } catch {
      // The entries stay until the attachment's DEL: never reported, so never a duplicate.
    }
  }

  // ---- step 1: the pool -----------------------------------------------------------------------

  /**
   * `written.mayHaveApplied`: a write of this commit may have landed although its answer was lost;
   * `written.created`: the pool object this write created (POST), as the apiserver answered it.
   */
  async #writePool(
    change: PoolChange,
    deadline: number,
    action: string,
    written: PoolWrite,
  ): Promise<CommitResult> {
    const pool = change.pool;
    let missing = this.#missing.has(pool);
    const guards = new Map<string, Json>();
    // Release records alone never create a pool (they belong to one that exists).
    const recordsOnly = change.create.length + change.update.length + change.remove.length === 0;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      if (missing) {
        if (recordsOnly) return OK;
        const key = firstViolation(emptyPool(pool), change);
        if (key !== undefined) return { ok: false, conflict: "entry", key };
        const posted = await this.#send(
          {
            method: "POST",
            path: this.#path(IPPOOLS),
            body: poolObject(
              pool,
              change.range,
              change.create,
              usageAfter(change, emptyPool(pool), undefined),
              change.release,
            ),
            expect: [409],
          },
          deadline,
          action,
        );
        if (posted.status !== 409) {
          this.#missing.delete(pool);
          keptOurFields(this.#remember(pool, posted.body), change, action);
          const meta = metaOf(posted.body);
          written.created = { uid: meta.uid, resourceVersion: meta.resourceVersion };
          return OK;
        }
        written.mayHaveApplied ||= posted.ambiguous;
        missing = false;
        continue;
      }
      const seen = this.#known.get(pool);
      const patched = await this.#send(
        {
          method: "PATCH",
          path: this.#path(IPPOOLS, pool),
          contentType: JSON_PATCH,
          body: entryPatch(
            change,
            guards,
            seen && usageAfter(change, seen.snapshot, seen.usage),
            seen?.hasReleased === true ? seen.snapshot.released : undefined,
          ),
          expect: [404, 409, 422],
        },
        deadline,
        action,
      );
      if (patched.status < 300) {
        keptOurFields(this.#remember(pool, patched.body), change, action);
        return OK;
      }
      written.mayHaveApplied ||= patched.ambiguous;
      if (patched.status === 404) {
        this.#known.delete(pool);
        if (recordsOnly) return OK;
        missing = true;
        continue;
      }
      // A test failed (422): read the pool to tell which entry, or whether we already won.
      const read = await this.#readPool(pool, deadline, action);
      if (read === undefined) {
        missing = true;
        continue;
      }
      if (written.mayHaveApplied && showsChange(read.snapshot, change)) return OK;
      const key = firstViolation(read.snapshot, change);
      if (key !== undefined) {
        this.#loser.set(pool, read.snapshot);
        return { ok: false, conflict: "entry", key };
      }
      // Every precondition holds as decoded: an entry is stored in an encoding other than ours
      // (e.g. `ifname: ""`). Test those entries as stored from now on.
      addGuards(guards, read, change);
    }
    throw new StoreUnavailableError(
      `Cannot ${action} the Kubernetes API at ${this.#client.server}: the pool's entries kept changing under ${MAX_ROUNDS} attempts`,
    );
  }

  async #readPool(name: string, deadline: number, action: string): Promise<DecodedPool | undefined> {
    const reply = await this.#send(
      { method: "GET", path: this.#path(IPPOOLS, name), expect: [404] },
      deadline,
      action,
    );
    if (reply.status === 404) {
      this.#missing.add(name);
      this.#known.delete(name);
      return undefined;
    }
    this.#missing.delete(name);
    return this.#remember(name, reply.body);
  }

  /** Records the pool as a read or a write's answer shows it (see #known). */
  #remember(name: string, body: unknown): DecodedPool {
    const decoded = decodePool(body);
    const pool = { ...decoded, snapshot: { ...decoded.snapshot, name } };
    this.#known.delete(name);
    this.#known.set(name, { snapshot: pool.snapshot, usage: pool.usage, hasReleased: pool.hasReleased });
    if (this.#known.size > KNOWN_POOLS) this.#known.delete(this.#known.keys().next().value!);
    return pool;
  }

  // ---- step 3: dropping reservations ----------------------------------------------------------

  /**
   * Deletes every reservation labelled with one of the owners (one deletecollection each, which the
   * API serves by reading every reservation of the namespace): for a DEL that found no entry, so
   * that a reservation its failed ADD left goes too. Without the deletecollection verb nothing is
   * swept.
   */
  async #dropOwners(owners: readonly Owner[], deadline: number, action: string): Promise<Swept> {
    const swept: Swept = { owners: new Set(), names: new Set() };
    for (const owner of owners) {
      if (this.#noDeleteCollection) break;
      const hash = await ownerHash(owner);
      if (swept.owners.has(hash)) continue;
      const dropped = await this.#send(
        {
          method: "DELETE",
          path: `${this.#path(RESERVATIONS)}?labelSelector=${encodeURIComponent(`${OWNER_LABEL}=${hash}`)}`,
          expect: [403],
        },
        deadline,
        action,
      );
      if (dropped.status === 403) {
        this.#noDeleteCollection = true;
        break;
      }
      swept.owners.add(hash);
      for (const item of itemsOf(dropped)) swept.names.add(metaOf(item).name);
    }
    return swept;
  }

  async #unreserve(r: Reservation, deadline: number, action: string, swept: Swept): Promise<void> {
    if (swept.names.has(r.name)) return;
    const owner = await ownerHash(r);
    if (!this.#noDeleteCollection && !swept.owners.has(owner)) {
      const selectors =
        `fieldSelector=${encodeURIComponent(`metadata.name=${r.name}`)}` +
        `&labelSelector=${encodeURIComponent(`${OWNER_LABEL}=${owner}`)}`;
      const dropped = await this.#send(
        { method: "DELETE", path: `${this.#path(RESERVATIONS)}?${selectors}`, expect: [403] },
        deadline,
        action,
      );
      if (dropped.status === 403) this.#noDeleteCollection = true;
      else if (itemsOf(dropped).length > 0) return;
    }
    // Not ours by label (written by Go, or by another container of the same owner), or the
    // collection verb is not granted: look, and delete only what this owner holds, as read.
    await this.#deleteWhile(r.name, (held) => ownsReservation(held, r), deadline, action);
  }

  /**
   * Deletes reservation `name` at the resourceVersion read, while `wanted` holds of it (read again
   * when it changed in between); true when this call deleted it.
   */
  async #deleteWhile(
    name: string,
    wanted: (held: Reservation) => boolean,
    deadline: number,
    action: string,
  ): Promise<boolean> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const got = await this.#getReservation(name, deadline, action);
      if (got === undefined || !wanted(got.reservation)) return false;
      const deleted = await this.#send(
        {
          method: "DELETE",
          path: this.#path(RESERVATIONS, name),
          body: deleteOptions({ resourceVersion: got.resourceVersion }),
          expect: [404, 409],
        },
        deadline,
        action,
      );
      if (deleted.status !== 409) return deleted.status !== 404;
    }
    return false;
  }

  async #getReservation(
    name: string,
    deadline: number,
    action: string,
  ): Promise<{ reservation: Reservation; resourceVersion: string } | undefined> {
    const got = await this.#send(
      { method: "GET", path: this.#path(RESERVATIONS, name), expect: [404] },
      deadline,
      action,
    );
    if (got.status === 404) return undefined;
    return { reservation: decodeReservation(got.body), resourceVersion: metaOf(got.body).resourceVersion };
  }

  // ---- plumbing -------------------------------------------------------------------------------

  /** Every item, page by page; each page has the store's budget, none goes past the caller's deadline. */
  async #list(resource: string, action: string, options: CallOptions | undefined): Promise<unknown[]> {
    if (this.#closed)
      throw new StoreUnavailableError(`Cannot ${action} the Kubernetes API: the store is closed`);
    return this.#client.list(
      this.#path(resource),
      () => this.#deadline(options),
      `${action} namespace ${this.namespace} at`,
      this.#listPage,
    );
  }

  #path(resource: string, name?: string): string {
    const base = `/apis/${API_VERSION}/namespaces/${encodeURIComponent(this.namespace)}/${resource}`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  /** When one store call ends (epoch ms): its own budget, or the caller's deadline if sooner. */
  #deadline(options: CallOptions | undefined): number {
    return capped(this.#timeoutMs, options?.deadline).at;
  }

  #send(request: Parameters<KubeClient["send"]>[0], deadline: number, action: string): Promise<KubeReply> {
    if (this.#closed)
      return Promise.reject(
        new StoreUnavailableError(`Cannot ${action} the Kubernetes API: the store is closed`),
      );
    return this.#client.send(request, deadline, action);
  }
}

/** What a commit's pool write did, for its retries and its undo. */
interface PoolWrite {
  mayHaveApplied: boolean;
  created?: { readonly uid: string; readonly resourceVersion: string };
}

/** What a DEL's owner sweep did: owners swept by label (hash) and the reservations it deleted. */
interface Swept {
  readonly owners: Set<string>;
  readonly names: Set<string>;
}

/** The change that takes `change`'s entries back (tested against what it wrote). */
function inverseOf(change: PoolChange): PoolChange {
  return poolChange(change.pool, change.range, {
    create: change.remove,
    update: change.update.map((u) => ({ key: u.key, from: u.to, to: u.from })),
    remove: change.create,
    ...(change.usable === undefined ? {} : { usable: change.usable }),
  });
}

/**
 * The usage to write with `change`: counted on `before` (the pool as last seen) with the change
 * applied, against the configuration's addresses when the change carries them, else carried on
 * from the status `before` had (the controller, which has no configuration).
 */
function usageAfter(change: PoolChange, before: PoolSnapshot, recorded: PoolUsage | undefined): PoolUsage {
  const after = applied(before, [change]);
  return change.usable === undefined ? carriedUsage(after, recorded) : usageOf(after, change.usable);
}

export function deleteOptions(preconditions: { uid?: string; resourceVersion?: string }): object {
  return { apiVersion: "v1", kind: "DeleteOptions", preconditions };
}

/**
 * Throws StoredDataError (code 5) when the apiserver's answer to a pool write lacks the sticky
 * fields or release records it wrote: an IPPool CRD without them (Go Whereabouts' own) prunes
 * them, which would silently turn a sticky address into an ordinary one.
 */
function keptOurFields(answer: DecodedPool, change: PoolChange, action: string): void {
  const written = [...change.create, ...change.update.map((u) => [u.key, u.to] as const)];
  const entryKept = written.every(([key, a]) => {
    if (a.owner === undefined && a.parkedAt === undefined) return true;
    const stored = answer.snapshot.allocations.get(key);
    return stored === undefined || (stored.owner === a.owner && stored.parkedAt === a.parkedAt);
  });
  const recordsKept = (change.release ?? []).every(([key]) => answer.snapshot.released.has(key));
  if (entryKept && recordsKept) return;
  throw new StoredDataError(
    `Cannot ${action} the Kubernetes API: the cluster's IPPool CRD dropped the fields thereabouts wrote (entry owner/parkedat, spec.released), which sticky addresses and the reuse cooldown need; apply thereabouts' CRDs (deploy/crds, part of the install bundle) over Go Whereabouts' ones`,
  );
}

/** The stored form of every entry the change rewrites or removes, to `test` as is. */
function addGuards(guards: Map<string, Json>, read: DecodedPool, change: PoolChange): void {
  for (const key of [...change.update.map((u) => u.key), ...change.remove.map(([key]) => key)]) {
    const raw = read.raw.get(key);
    if (raw !== undefined) guards.set(key, raw);
  }
}
