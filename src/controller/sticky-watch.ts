// The leader's eye on the owners of sticky addresses: StatefulSets (apps/v1) and KubeVirt
// VirtualMachines and VirtualMachineInstances (kubevirt.io/v1; a cluster without KubeVirt's CRDs
// has none, which the informers take from the 404 and check again now and then). Every change of
// one of these objects is an observation of the owners it decides, so a StatefulSet scaled to zero
// and back between two passes still restarts their grace; a periodic pass observes every owner
// the pools name (new entries, owners gone since before the controller started) and hands the
// owners gone for the whole grace to the release (sticky-run.ts), one run at a time.
import type { Clock } from "../ipam/retry.ts";
import { parseOwner } from "../pool/owner.ts";
import type { ClusterView } from "./cluster-view.ts";
import { Informer, type InformerHandlers } from "./informer.ts";
import type { Kube } from "./kube.ts";
import {
  GoneClock,
  type OwnerWorld,
  ownerGone,
  ownerGroup,
  type StatefulSetSlots,
  statefulSetSlots,
} from "./sticky.ts";

export const KUBEVIRT_API = "/apis/kubevirt.io/v1";
/** How often a cluster without KubeVirt's API is asked again. */
const KUBEVIRT_RECHECK_MS = 60_000;

export interface StickyWatchOptions {
  /** --sticky-release-after: how long an owner must stay gone without a break. */
  readonly graceMs: number;
  /** How often every owner is observed and the due ones released. */
  readonly passMs: number;
}

export interface StickyActions {
  /** Releases the entries of these owners (sticky-run.ts); one call at a time. */
  release(due: ReadonlySet<string>): Promise<void>;
  log: InformerHandlers<unknown>["log"];
}

function keyOf(o: unknown): string {
  const meta = (o as { metadata?: { namespace?: string; name?: string } }).metadata;
  return `${meta?.namespace ?? ""}/${meta?.name ?? ""}`;
}

export class StickyWatch {
  readonly statefulSets: Informer<StatefulSetSlots>;
  readonly vms: Informer<true>;
  readonly vmis: Informer<true>;
  readonly clock = new GoneClock();
  readonly #cluster: ClusterView;
  readonly #time: Clock;
  readonly #options: StickyWatchOptions;
  readonly #actions: StickyActions;
  /** Owner group (sticky.ts ownerGroup) → the owner texts the pools name in it, as of the last pass. */
  #groups = new Map<string, Set<string>>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(
    kube: Kube,
    cluster: ClusterView,
    time: Clock,
    options: StickyWatchOptions,
    actions: StickyActions,
  ) {
    this.#cluster = cluster;
    this.#time = time;
    this.#options = options;
    this.#actions = actions;
    const log = actions.log;
    // A change of the object `<ns>/<name>` of a kind is an observation of the owners it decides.
    const changed = <T>(kind: "statefulset" | "vm"): InformerHandlers<T> => ({
      upsert: (key, _next, _previous, initial) => {
        if (!initial) this.#observeGroup(`${kind}/${key}`);
      },
      remove: (key) => this.#observeGroup(`${kind}/${key}`),
      log,
    });
    this.statefulSets = new Informer(
      kube,
      { path: "/apis/apps/v1/statefulsets", what: "statefulsets", key: keyOf, decode: statefulSetSlots },
      changed<StatefulSetSlots>("statefulset"),
    );
    const optional = { recheckMs: KUBEVIRT_RECHECK_MS };
    this.vms = new Informer(
      kube,
      {
        path: `${KUBEVIRT_API}/virtualmachines`,
        what: "virtualmachines",
        key: keyOf,
        decode: () => true,
        optional,
      },
      changed<true>("vm"),
    );
    this.vmis = new Informer(
      kube,
      {
        path: `${KUBEVIRT_API}/virtualmachineinstances`,
        what: "virtualmachineinstances",
        key: keyOf,
        decode: () => true,
        optional,
      },
      changed<true>("vm"),
    );
  }

  /** What the caches know of the owners (undefined until they have listed). */
  readonly world: OwnerWorld = {
    statefulSet: (namespace, name) =>
      this.statefulSets.synced ? (this.statefulSets.get(`${namespace}/${name}`) ?? null) : undefined,
    vmExists: (namespace, name) => {
      if (!this.vms.synced || !this.vmis.synced) return undefined;
      const key = `${namespace}/${name}`;
      return this.vms.get(key) !== undefined || this.vmis.get(key) !== undefined;
    },
  };

  start(): void {
    void this.statefulSets.run();
    void this.vms.run();
    void this.vmis.run();
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.statefulSets.stop();
    this.vms.stop();
    this.vmis.stop();
    await this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.pass();
      this.#schedule();
    }, this.#options.passMs);
  }

  #observeGroup(group: string): void {
    const now = this.#time.now();
    for (const text of this.#groups.get(group) ?? []) {
      const owner = parseOwner(text);
      if (owner !== undefined) this.clock.observe(text, ownerGone(owner, this.world), now);
    }
  }

  /**
   * One pass: index the owners the pools name, observe each, and release those gone for the whole
   * grace whose holder pods the cache does not know alive (a release run reads them all live).
   */
  pass(): void {
    if (!this.#cluster.pools.synced) return;
    const now = this.#time.now();
    const groups = new Map<string, Set<string>>();
    const holders = new Map<string, string[]>();
    for (const pool of this.#cluster.pools.values())
      for (const a of pool.allocations.values()) {
        if (a.owner === undefined) continue;
        const owner = parseOwner(a.owner);
        if (owner === undefined) continue; // a form this version does not write: never released
        const group = ownerGroup(owner);
        groups.set(group, (groups.get(group) ?? new Set()).add(a.owner));
        holders.set(a.owner, [...(holders.get(a.owner) ?? []), a.podRef]);
        this.clock.observe(a.owner, ownerGone(owner, this.world), now);
      }
    this.#groups = groups;
    this.clock.retain(new Set(holders.keys()));
    if (this.#running !== undefined) return;
    const due = this.clock
      .due(now, this.#options.graceMs)
      .filter((owner) => (holders.get(owner) ?? []).some((ref) => !this.#cluster.alive(ref)));
    if (due.length === 0) return;
    this.#running = this.#actions
      .release(new Set(due))
      .catch((error: unknown) =>
        this.#actions.log("error", "sticky release failed", { error: String(error) }),
      )
      .finally(() => {
        this.#running = undefined;
      });
  }
}
