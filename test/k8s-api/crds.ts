// The CustomResourceDefinitions the double starts with, as apiextensions.k8s.io/v1 objects the way
// their projects install them: Whereabouts v0.9.4's three (doc/crds/whereabouts.cni.cncf.io_*.yaml:
// no printer columns, no subresources, no status on IPPools; descriptions left out) and Multus'
// NetworkAttachmentDefinition. `legacy` gives Whereabouts ≤ v0.7's IPPool and ORIP schemas
// (allocations without `ifname`, ORIP `containerid` required), for the "old CRDs, new code" hazard.
// They are stored like any CRD: replacing one (`kubectl apply -f deploy/crds/`) changes how its
// resources are pruned, validated and printed (crd-serving.ts).
import type { Json } from "./json-patch.ts";
import type { JsonObject } from "./resources.ts";
import { type Schema, structuralSchema } from "./schema.ts";

const str = { type: "string" };

function root(properties: Record<string, Json>, required: string[] = []): JsonObject {
  return {
    type: "object",
    properties: { apiVersion: str, kind: str, metadata: { type: "object" }, ...properties },
    ...(required.length > 0 ? { required } : {}),
  };
}

interface CrdInit {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly shortNames?: readonly string[];
  readonly schema: JsonObject;
  readonly annotations?: Record<string, string>;
}

/** A namespaced, single-version CRD manifest. */
export function crdManifest(c: CrdInit): JsonObject {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${c.plural}.${c.group}`, ...(c.annotations ? { annotations: c.annotations } : {}) },
    spec: {
      group: c.group,
      names: {
        kind: c.kind,
        listKind: `${c.kind}List`,
        plural: c.plural,
        singular: c.plural.replace(/s$/, ""),
        ...(c.shortNames ? { shortNames: [...c.shortNames] } : {}),
      },
      scope: "Namespaced",
      versions: [{ name: c.version, served: true, storage: true, schema: { openAPIV3Schema: c.schema } }],
    },
  };
}

const entry = (ifname: boolean): JsonObject => ({
  type: "object",
  properties: { id: str, podref: str, ...(ifname ? { ifname: str } : {}) },
  required: ifname ? ["id", "podref"] : ["id"],
});

const ippoolSchema = (legacy: boolean) =>
  root({
    spec: {
      type: "object",
      properties: { allocations: { type: "object", additionalProperties: entry(!legacy) }, range: str },
      required: ["allocations", "range"],
    },
  });

const oripSchema = (legacy: boolean) =>
  root(
    {
      spec: {
        type: "object",
        properties: { containerid: str, podref: str, ...(legacy ? {} : { ifname: str }) },
        required: [legacy ? "containerid" : "podref"],
      },
    },
    ["spec"],
  );

const nodeSlicePoolSchema = root({
  spec: { type: "object", properties: { range: str, sliceSize: str }, required: ["range", "sliceSize"] },
  status: {
    type: "object",
    properties: {
      allocations: {
        type: "array",
        items: {
          type: "object",
          properties: { nodeName: str, sliceRange: str },
          required: ["nodeName", "sliceRange"],
        },
      },
    },
    required: ["allocations"],
  },
});

const WHEREABOUTS = {
  group: "whereabouts.cni.cncf.io",
  version: "v1alpha1",
  annotations: { "controller-gen.kubebuilder.io/version": "v0.14.0" },
};

/** Whereabouts' CRDs as v0.9.4 installs them (legacy: the ≤ v0.7 IPPool and ORIP schemas). */
export function whereaboutsCrds(legacy = false): JsonObject[] {
  return [
    crdManifest({ ...WHEREABOUTS, plural: "ippools", kind: "IPPool", schema: ippoolSchema(legacy) }),
    crdManifest({
      ...WHEREABOUTS,
      plural: "overlappingrangeipreservations",
      kind: "OverlappingRangeIPReservation",
      schema: oripSchema(legacy),
    }),
    crdManifest({
      ...WHEREABOUTS,
      plural: "nodeslicepools",
      kind: "NodeSlicePool",
      schema: nodeSlicePoolSchema,
    }),
  ];
}

export const NAD_CRD: JsonObject = crdManifest({
  group: "k8s.cni.cncf.io",
  version: "v1",
  plural: "network-attachment-definitions",
  kind: "NetworkAttachmentDefinition",
  shortNames: ["net-attach-def"],
  schema: root({ spec: { type: "object", properties: { config: str } } }),
});

/** Whereabouts v0.9.4's schemas in the form pruning and validation use (the deploy/crds tests). */
export const IPPOOL_SCHEMA: Schema = structuralSchema(ippoolSchema(false));
export const ORIP_SCHEMA: Schema = structuralSchema(oripSchema(false));
export const NODESLICEPOOL_SCHEMA: Schema = structuralSchema(nodeSlicePoolSchema);
