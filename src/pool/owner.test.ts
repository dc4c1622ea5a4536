import assert from "node:assert/strict";
import { test } from "node:test";
import { ownerText, type PodIdentity, parseOwner, stickyOwnerOf } from "./owner.ts";

const pod = (over: Partial<PodIdentity>): PodIdentity => ({
  namespace: "db",
  name: "web-2",
  labels: {},
  ownerReferences: [],
  ...over,
});
const sts = [{ kind: "StatefulSet", name: "web", controller: true }];
const owned = (p: PodIdentity) => {
  const o = stickyOwnerOf(p);
  return o === undefined ? undefined : ownerText(o);
};

test("a StatefulSet pod's owner is its slot: the pod-index label, else the name's ordinal suffix", () => {
  assert.equal(owned(pod({ ownerReferences: sts })), "statefulset/db/web/2");
  assert.equal(
    owned(pod({ ownerReferences: sts, labels: { "apps.kubernetes.io/pod-index": "7" } })),
    "statefulset/db/web/7",
  );
  // A name that is not <sts>-<ordinal> and no label: the slot cannot be told.
  assert.equal(owned(pod({ name: "other-2", ownerReferences: sts })), undefined);
  assert.equal(owned(pod({ name: "web-02", ownerReferences: sts })), undefined);
  assert.equal(owned(pod({ name: "web-x", ownerReferences: sts })), undefined);
  // Not the controller reference: not the StatefulSet's pod.
  assert.equal(owned(pod({ ownerReferences: [{ kind: "StatefulSet", name: "web" }] })), undefined);
  assert.equal(
    owned(pod({ ownerReferences: [{ kind: "ReplicaSet", name: "web", controller: true }] })),
    undefined,
  );
});

test("a virt-launcher pod's owner is its VM: kubevirt.io/vm, else vm.kubevirt.io/name, else the VMI", () => {
  const vmi = [{ kind: "VirtualMachineInstance", name: "vmi-a", controller: true }];
  const launcher = { "kubevirt.io": "virt-launcher" };
  assert.equal(
    owned(
      pod({
        name: "virt-launcher-a-xyz",
        ownerReferences: vmi,
        labels: { "kubevirt.io/vm": "a", "vm.kubevirt.io/name": "b" },
      }),
    ),
    "vm/db/a",
  );
  assert.equal(owned(pod({ ownerReferences: vmi, labels: { "vm.kubevirt.io/name": "b" } })), "vm/db/b");
  assert.equal(owned(pod({ ownerReferences: vmi })), "vm/db/vmi-a");
  assert.equal(owned(pod({ labels: { ...launcher, "vm.kubevirt.io/name": "b" } })), "vm/db/b");
  // A label alone on a pod that is not KubeVirt's says nothing.
  assert.equal(owned(pod({ labels: { "kubevirt.io/vm": "a" } })), undefined);
  assert.equal(owned(pod({ labels: launcher })), undefined);
  assert.equal(owned(pod({})), undefined);
});

test("parseOwner() reads back what ownerText() writes, and nothing else", () => {
  for (const text of ["statefulset/db/web/0", "statefulset/db/web/12", "vm/ns/my-vm"])
    assert.equal(ownerText(parseOwner(text)!), text);
  assert.deepEqual(parseOwner("statefulset/db/web/3"), {
    kind: "statefulset",
    namespace: "db",
    name: "web",
    ordinal: 3,
  });
  for (const bad of [
    "",
    "vm/ns",
    "vm/ns/a/b",
    "statefulset/db/web",
    "statefulset/db/web/-1",
    "statefulset/db/web/01",
    "statefulset//web/1",
    "pod/ns/x",
  ])
    assert.equal(parseOwner(bad), undefined, bad);
});
