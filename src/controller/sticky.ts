// When a sticky address may go (docs/controller.md, "Sticky addresses"). An entry with an `owner`
// (a StatefulSet slot, a KubeVirt VM: src/pool/owner.ts) outlives its pod on purpose, so its pod
// being gone frees nothing. It is freed only when the owner is gone for good: the StatefulSet does
// not exist or no longer counts the slot among its replicas; neither the VirtualMachine nor the
// VirtualMachineInstance of that name exists. A StatefulSet scaled to zero and back, or a VM
// stopped and started, is gone for a while and then back: so the condition must hold without a
// break for a grace period (--sticky-release-after) before the address goes. Pure: the caller
// feeds what it observes, with its own clock.
import { parseOwner, type StickyOwner } from "../pool/owner.ts";

/** A StatefulSet as the release rule reads it. */
export interface StatefulSetSlots {
  /** spec.replicas. */
  readonly replicas: number;
  /** spec.ordinals.start: the first ordinal (0 unless set). */
  readonly start: number;
}

/** What is known of the owners' objects: undefined while it is not known (caches not listed). */
export interface OwnerWorld {
  /** The StatefulSet `namespace/name`, null when it does not exist; undefined when not known. */
  statefulSet(namespace: string, name: string): StatefulSetSlots | null | undefined;
  /** Whether a VirtualMachine or a VirtualMachineInstance `namespace/name` exists; undefined when not known. */
  vmExists(namespace: string, name: string): boolean | undefined;
}

/**
 * Whether the owner is gone (true), still there (false), or not known (undefined). A StatefulSet
 * slot is there while start ≤ ordinal < start + replicas.
 */
export function ownerGone(owner: StickyOwner, world: OwnerWorld): boolean | undefined {
  if (owner.kind === "vm") {
    const exists = world.vmExists(owner.namespace, owner.name);
    return exists === undefined ? undefined : !exists;
  }
  const sts = world.statefulSet(owner.namespace, owner.name);
  if (sts === undefined) return undefined;
  if (sts === null) return true;
  return owner.ordinal < sts.start || owner.ordinal >= sts.start + sts.replicas;
}

/** The group of owners one object decides: `statefulset/<ns>/<name>` or `vm/<ns>/<name>`. */
export function ownerGroup(owner: StickyOwner): string {
  return `${owner.kind}/${owner.namespace}/${owner.name}`;
}

/**
 * Since when each owner has been gone without a break, by owner text. `observe` is called with
 * every observation (each change of the objects that decide an owner, and a periodic pass over
 * all of them); an observation that finds the owner there clears its time, so a scale to zero and
 * back within the grace starts the count again from the next time it is gone.
 */
export class GoneClock {
  readonly #since = new Map<string, number>();

  /** `gone` undefined (not known) changes nothing. */
  observe(owner: string, gone: boolean | undefined, nowMs: number): void {
    if (gone === true) {
      if (!this.#since.has(owner)) this.#since.set(owner, nowMs);
    } else if (gone === false) this.#since.delete(owner);
  }

  /** Owners no entry names any more need no clock. */
  retain(owners: ReadonlySet<string>): void {
    for (const owner of this.#since.keys()) if (!owners.has(owner)) this.#since.delete(owner);
  }

  since(owner: string): number | undefined {
    return this.#since.get(owner);
  }

  /** Owners gone without a break for at least `graceMs`. */
  due(nowMs: number, graceMs: number): string[] {
    return [...this.#since].filter(([, since]) => nowMs - since >= graceMs).map(([owner]) => owner);
  }

  /** When the next owner falls due (ms), undefined when none is gone. */
  nextDue(graceMs: number): number | undefined {
    let next: number | undefined;
    for (const since of this.#since.values())
      if (next === undefined || since + graceMs < next) next = since + graceMs;
    return next;
  }

  /** How many owners are gone (waiting out the grace), by kind. */
  counts(): { statefulset: number; vm: number } {
    const out = { statefulset: 0, vm: 0 };
    for (const owner of this.#since.keys()) {
      const parsed = parseOwner(owner);
      if (parsed !== undefined) out[parsed.kind]++;
    }
    return out;
  }
}

/** A StatefulSet object as the API serves it → its slots (spec.replicas defaults to 1, as the API's). */
export function statefulSetSlots(object: unknown): StatefulSetSlots {
  const spec = (object as { spec?: { replicas?: unknown; ordinals?: { start?: unknown } } } | undefined)
    ?.spec;
  const replicas = typeof spec?.replicas === "number" ? spec.replicas : 1;
  const start = typeof spec?.ordinals?.start === "number" ? spec.ordinals.start : 0;
  return { replicas, start };
}
