// Who a sticky address belongs to when it must outlive the pod holding it: a StatefulSet's slot
// (namespace, StatefulSet, ordinal) or a KubeVirt VM (namespace, VM name). The plugin derives it
// from the pod on ADD and stores it as text on the pool entry (`owner`); the controller reads the
// same text to decide when the owner is gone for good. One format, written and read here only.

/** The pod metadata an owner is derived from (what the plugin's pod GET keeps). */
export interface PodIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ownerReferences: readonly {
    readonly kind: string;
    readonly name: string;
    readonly controller?: boolean;
  }[];
}

export type StickyOwner =
  | {
      readonly kind: "statefulset";
      readonly namespace: string;
      readonly name: string;
      readonly ordinal: number;
    }
  | { readonly kind: "vm"; readonly namespace: string; readonly name: string };

/** Set by the StatefulSet controller (Kubernetes ≥ 1.28) on every pod it creates. */
export const POD_INDEX_LABEL = "apps.kubernetes.io/pod-index";
/** The VM a virt-launcher pod runs, as KubeVirt labels it, newest first. */
export const VM_LABELS = ["kubevirt.io/vm", "vm.kubevirt.io/name"] as const;
/** KubeVirt's label on the pods that run a VM (`kubevirt.io: virt-launcher`). */
export const KUBEVIRT_LABEL = "kubevirt.io";

function controllerOf(pod: PodIdentity, kind: string): string | undefined {
  return pod.ownerReferences.find((r) => r.controller === true && r.kind === kind)?.name;
}

/** A whole number written as the StatefulSet controller writes ordinals (no sign, no leading 0). */
function ordinalOf(text: string | undefined): number | undefined {
  if (text === undefined || !/^(0|[1-9][0-9]{0,8})$/.test(text)) return undefined;
  return Number(text);
}

/**
 * The owner of a pod's sticky addresses: its StatefulSet slot (a controller ownerReference of kind
 * StatefulSet; the ordinal from the pod-index label, else the name's suffix after `<sts>-`), or
 * its VM (a virt-launcher pod: labelled `kubevirt.io: virt-launcher` or controlled by a
 * VirtualMachineInstance; the VM from its labels, else the VMI's name, which is the VM's). Any
 * other pod, or one whose slot cannot be told: none, and its addresses behave as any pod's.
 */
export function stickyOwnerOf(pod: PodIdentity): StickyOwner | undefined {
  const statefulSet = controllerOf(pod, "StatefulSet");
  if (statefulSet !== undefined) {
    const suffix = pod.name.startsWith(`${statefulSet}-`)
      ? pod.name.slice(statefulSet.length + 1)
      : undefined;
    const ordinal = ordinalOf(pod.labels[POD_INDEX_LABEL]) ?? ordinalOf(suffix);
    if (ordinal === undefined) return undefined;
    return { kind: "statefulset", namespace: pod.namespace, name: statefulSet, ordinal };
  }
  const vmi = controllerOf(pod, "VirtualMachineInstance");
  if (vmi === undefined && pod.labels[KUBEVIRT_LABEL] !== "virt-launcher") return undefined;
  const vm = VM_LABELS.map((l) => pod.labels[l]).find((v) => v !== undefined && v !== "") ?? vmi;
  return vm === undefined || vm === "" ? undefined : { kind: "vm", namespace: pod.namespace, name: vm };
}

/** `statefulset/<namespace>/<name>/<ordinal>` or `vm/<namespace>/<name>`: the entry's `owner`. */
export function ownerText(owner: StickyOwner): string {
  return owner.kind === "statefulset"
    ? `statefulset/${owner.namespace}/${owner.name}/${owner.ordinal}`
    : `vm/${owner.namespace}/${owner.name}`;
}

/** The owner an entry's `owner` text names; undefined for text this format does not produce. */
export function parseOwner(text: string): StickyOwner | undefined {
  const parts = text.split("/");
  if (parts.some((p) => p === "")) return undefined;
  if (parts[0] === "statefulset" && parts.length === 4) {
    const ordinal = ordinalOf(parts[3]);
    if (ordinal === undefined) return undefined;
    return { kind: "statefulset", namespace: parts[1]!, name: parts[2]!, ordinal };
  }
  if (parts[0] === "vm" && parts.length === 3) return { kind: "vm", namespace: parts[1]!, name: parts[2]! };
  return undefined;
}
