// The checks that need the cluster (Kubernetes only): entries of pods that are gone by the
// controller's reading (src/controller/liveness.ts), pods that could not be read, and live pods
// whose network-status annotation disagrees with the store. Pure.
import { type GoneReason, splitPodRef, whyGone } from "../../controller/liveness.ts";
import { contains, formatIP, type IP, masked, parseIP } from "../../ip/index.ts";
import type { NetworkStatus, PodInfo } from "../pods.ts";
import { type Finding, ownerText } from "./findings.ts";
import type { Placed, StoreModel } from "./model.ts";

/** What was read of one pod. */
export type PodReading =
  | { readonly kind: "found"; readonly pod: PodInfo }
  | { readonly kind: "not found" }
  | { readonly kind: "unreadable"; readonly error: string };

/** Why a podref's pod is gone (with the uid judged), or undefined: alive, unknown, or no pod checks. */
export type GoneJudge = (podRef: string) => { why: GoneReason; uid: string | undefined } | undefined;

export function goneJudge(pods: ReadonlyMap<string, PodReading> | undefined): GoneJudge {
  return (podRef) => {
    const reading = pods?.get(podRef);
    if (reading === undefined || reading.kind === "unreadable" || splitPodRef(podRef) === undefined)
      return undefined;
    const pod = reading.kind === "found" ? reading.pod : undefined;
    const why = whyGone(pod);
    return why === undefined ? undefined : { why, uid: pod?.uid };
  };
}

/** Entries of gone pods, pods that could not be read, and network-status disagreements. */
export function podFindings(
  model: StoreModel,
  pods: ReadonlyMap<string, PodReading> | undefined,
  gone: GoneJudge,
): Finding[] {
  if (pods === undefined) return [];
  const out: Finding[] = [];
  const byPod = new Map<string, Placed[]>();
  for (const pool of model.pools)
    for (const entry of pool.entries) {
      const { podRef } = entry.allocation;
      if (podRef !== "") byPod.set(podRef, [...(byPod.get(podRef) ?? []), { pool, entry }]);
    }
  const unreadable = new Set<string>();
  for (const [podRef, placed] of byPod) {
    const reading = pods.get(podRef);
    if (reading?.kind === "unreadable") {
      unreadable.add(podRef);
      continue;
    }
    const judged = gone(podRef);
    if (judged === undefined) continue;
    for (const { pool, entry } of placed)
      out.push({
        kind: "pod-gone",
        pool: pool.snapshot.name,
        address: formatIP(entry.address),
        key: entry.key,
        owner: entry.allocation,
        detail: `pod ${podRef} is ${judged.why}`,
        action: "check --fix frees it (as the controller would)",
        repair: { kind: "release", podRef, uid: judged.uid },
      });
  }
  for (const r of model.reservations.values())
    if (r.podRef !== "" && pods.get(r.podRef)?.kind === "unreadable") unreadable.add(r.podRef);
  for (const podRef of unreadable) {
    const reading = pods.get(podRef);
    out.push({
      kind: "pod-unreadable",
      pool: "",
      address: "",
      owner: { podRef, ifName: "", containerId: "" },
      detail: `could not read pod ${podRef}: ${reading?.kind === "unreadable" ? reading.error : "no answer"}`,
      action: "make the pod readable (permissions: get and list pods in every namespace) and check again",
    });
  }
  for (const [podRef, reading] of pods) {
    if (reading.kind !== "found" || typeof reading.pod.networkStatus === "string") continue;
    if (gone(podRef) !== undefined) continue;
    out.push(...statusFindings(model, podRef, reading.pod.networkStatus, byPod.get(podRef) ?? []));
  }
  return out;
}

/** An address as the annotation writes it (Multus: bare; some runtimes: with a prefix length). */
function addressOf(text: string): IP | undefined {
  const slash = text.indexOf("/");
  return parseIP(slash < 0 ? text : text.slice(0, slash));
}

function sameIP(a: IP, b: IP): boolean {
  return a.family === b.family && a.value === b.value;
}

/**
 * A live pod's network-status against the store. Of the addresses the annotation lists, those
 * inside some pool's range must be held by the pod (on any interface: the default network's too,
 * since a pool holding its address could hand it out again); of the entries the pod holds, those
 * on an interface the annotation lists must be among that interface's addresses.
 */
function statusFindings(
  model: StoreModel,
  podRef: string,
  status: readonly NetworkStatus[],
  held: readonly Placed[],
): Finding[] {
  const out: Finding[] = [];
  const ours = status.map((s) => ({
    ...s,
    addresses: s.ips.map(addressOf).filter((ip) => ip !== undefined),
  }));
  for (const s of ours) {
    for (const ip of s.addresses) {
      const pools = model.pools.filter((p) => p.range !== undefined && contains(masked(p.range), ip));
      if (pools.length === 0) continue;
      const stored = held.some(
        (p) =>
          sameIP(p.entry.address, ip) &&
          (p.entry.allocation.ifName === "" ||
            s.interface === "" ||
            p.entry.allocation.ifName === s.interface),
      );
      if (stored) continue;
      const holders = pools.flatMap((p) =>
        p.entries
          .filter((e) => sameIP(e.address, ip))
          .map((e) => `${ownerText(e.allocation)} in pool ${p.snapshot.name}`),
      );
      const owner = { podRef, ifName: s.interface, containerId: "" };
      out.push({
        kind: "status-not-stored",
        pool: pools[0]!.snapshot.name,
        address: formatIP(ip),
        owner,
        detail: `the pod's network-status (${s.name || "unnamed network"}) lists ${formatIP(ip)}, which the store ${holders.length === 0 ? "does not record" : `gives to ${holders.join("; ")}`}`,
        action:
          holders.length === 0
            ? "the address may be handed out again: delete and re-create the pod, so that its ADD records one"
            : "two pods may use one address: delete and re-create this pod",
      });
    }
  }
  for (const { pool, entry } of held) {
    const { ifName } = entry.allocation;
    if (ifName === "") continue;
    const listed = ours.filter((s) => s.interface === ifName);
    if (listed.length === 0 || listed.some((s) => s.addresses.some((ip) => sameIP(ip, entry.address))))
      continue;
    const ips = listed.flatMap((s) => s.addresses.map(formatIP));
    out.push({
      kind: "stored-not-in-status",
      pool: pool.snapshot.name,
      address: formatIP(entry.address),
      key: entry.key,
      owner: entry.allocation,
      detail: `the pod's network-status lists ${ips.length === 0 ? "no address" : ips.join(", ")} on ${ifName}, not ${formatIP(entry.address)}`,
      action: `if the pod does not use it (left from an earlier sandbox), free it: thereabouts release ${formatIP(entry.address)} --pod ${podRef} --force`,
    });
  }
  return out;
}
