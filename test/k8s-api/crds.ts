// The openAPIV3Schema of each CRD the double serves, as installed by whereabouts
// (doc/crds/whereabouts.cni.cncf.io_*.yaml at HEAD) and Multus (the
// NetworkAttachmentDefinition CRD). `LEGACY_WHEREABOUTS` are the ≤ v0.7 schemas (allocations
// without `ifname`, ORIP with required `containerid`), for the "old CRDs, new code" hazard.
import type { Schema } from "./schema.ts";

const str: Schema = { type: "string" };

const root = (properties: Record<string, Schema>, requiredTop: string[] = []): Schema => ({
  type: "object",
  properties: { apiVersion: str, kind: str, metadata: { type: "object" }, ...properties },
  required: requiredTop,
});

export const IPPOOL_SCHEMA: Schema = root({
  spec: {
    type: "object",
    properties: {
      range: str,
      allocations: {
        type: "object",
        additionalProperties: {
          type: "object",
          properties: { id: str, podref: str, ifname: str },
          required: ["id", "podref"],
        },
      },
    },
    required: ["allocations", "range"],
  },
});

export const ORIP_SCHEMA: Schema = root(
  {
    spec: {
      type: "object",
      properties: { containerid: str, podref: str, ifname: str },
      required: ["podref"],
    },
  },
  ["spec"],
);

export const NODESLICEPOOL_SCHEMA: Schema = root({
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

export const NAD_SCHEMA: Schema = root({
  spec: { type: "object", properties: { config: str } },
});

export const LEGACY_WHEREABOUTS: {
  readonly ippools: Schema;
  readonly overlappingrangeipreservations: Schema;
} = {
  ippools: root({
    spec: {
      type: "object",
      properties: {
        range: str,
        allocations: {
          type: "object",
          additionalProperties: { type: "object", properties: { id: str, podref: str }, required: ["id"] },
        },
      },
      required: ["allocations", "range"],
    },
  }),
  overlappingrangeipreservations: root(
    { spec: { type: "object", properties: { containerid: str, podref: str }, required: ["containerid"] } },
    ["spec"],
  ),
};
