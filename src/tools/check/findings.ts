// What `thereabouts check` reports: one finding per thing wrong, with the pool, the address, the
// owner and what to do about it, and — for the few kinds that are safe to repair — what `--fix`
// does. Which kinds are repaired, and why the others are only reported, is decided here once
// (docs/tools.md, "check").
import type { Allocation, Reservation } from "../../pool/allocation.ts";

export type FindingKind =
  /** A pool's stored range is not a CIDR: none of its entries can be read. */
  | "unreadable-range"
  /** An entry whose key is not an offset (or denotes no address of the pool's family). */
  | "unreadable-key"
  /** An entry whose key decodes to an address outside the pool's range. */
  | "outside-range"
  /** One address held by two entries in pools of one network (overlapping ranges, other writers). */
  | "duplicate-address"
  /** One attachment (pod + interface) holding two entries in one pool, where it may hold one. */
  | "duplicate-attachment"
  /** An entry whose pod is gone (Kubernetes: not found, Succeeded/Failed, evicted). */
  | "pod-gone"
  /** A reservation that no pool entry of its owner goes with. */
  | "orphan-reservation"
  /** An entry of a network that uses reservations, without its reservation. */
  | "missing-reservation"
  /** A live pod's network-status lists an address the store does not give it. */
  | "status-not-stored"
  /** The store gives a live pod an address its network-status does not list for that interface. */
  | "stored-not-in-status"
  /** A pod the store names that could not be read: its checks could not be made. */
  | "pod-unreadable";

/** Output order: what breaks pools first, then conflicts, leaks, bookkeeping, pods. */
export const FINDING_KINDS: readonly FindingKind[] = [
  "unreadable-range",
  "unreadable-key",
  "outside-range",
  "duplicate-address",
  "duplicate-attachment",
  "pod-gone",
  "orphan-reservation",
  "missing-reservation",
  "status-not-stored",
  "stored-not-in-status",
  "pod-unreadable",
];

/**
 * What `--fix` does about a finding; a finding without one is only reported. Two repairs exist:
 * - `release`: everything a pod confirmed gone holds (entries with their reservations, and
 *   reservations no entry goes with), through the controller's reclaim, which reads the pod again
 *   just before releasing; it is released only while it is still the pod the check judged.
 * - `reserve`: the missing reservation of an entry, created in one commit whose precondition is the
 *   entry as read (a concurrent release or rewrite makes it fail), and which takes the reservation
 *   only when it is free or already this owner's (another holder makes it fail).
 */
export type Repair =
  | { readonly kind: "release"; readonly podRef: string; readonly uid: string | undefined }
  | {
      readonly kind: "reserve";
      readonly pool: string;
      readonly range: string;
      readonly key: string;
      readonly allocation: Allocation;
      readonly reservation: Reservation;
    };

export interface Finding {
  readonly kind: FindingKind;
  /** The pool concerned; "" for a reservation or a pod alone. */
  readonly pool: string;
  /** Go's IP text; "" when not known (an unreadable key, a reservation Go wrote). */
  readonly address: string;
  /** The pool entry's key, when the finding is about an entry. */
  readonly key?: string;
  /** The reservation's name, when the finding is about one. */
  readonly reservation?: string;
  /** Who holds it: the entry's or reservation's podref, interface and container id. */
  readonly owner?: Allocation;
  /** What is wrong, in a sentence. */
  readonly detail: string;
  /** What to do about it. */
  readonly action: string;
  readonly repair?: Repair;
}

/** Findings in output order: by kind, then pool, address, key, reservation. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  const rank = new Map(FINDING_KINDS.map((k, i) => [k, i]));
  const text = (f: Finding) => [f.pool, f.address, f.key ?? "", f.reservation ?? "", f.owner?.podRef ?? ""];
  return [...findings].sort((a, b) => {
    const byKind = rank.get(a.kind)! - rank.get(b.kind)!;
    if (byKind !== 0) return byKind;
    const x = text(a);
    const y = text(b);
    for (let i = 0; i < x.length; i++) {
      const c = x[i]!.localeCompare(y[i]!);
      if (c !== 0) return c;
    }
    return 0;
  });
}

/** `ns/name (net1)`: an owner as the findings name it. */
export function ownerText(owner: Pick<Allocation, "podRef" | "ifName">): string {
  const pod = owner.podRef === "" ? "(no pod)" : owner.podRef;
  return owner.ifName === "" ? pod : `${pod} (${owner.ifName})`;
}
