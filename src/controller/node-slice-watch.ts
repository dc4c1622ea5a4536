// The leader's keeping of node slices (docs/controller.md, Node slices): it watches the
// NetworkAttachmentDefinitions of every namespace, the nodes, the NodeSlicePools of its namespace
// and (through the ClusterView) the IPPools, and after any change makes the plan
// (node-slice-plan.ts) and writes it, one plan at a time. Writes carry the resourceVersion the
// plan was made on; one that loses a race (a node agent claiming a slice) is planned again from
// the watch event that follows, and any failure is retried after a pause.

import { ForeignIpamError, MissingIpamError } from "../config/errors.ts";
import { loadIpamConfigFromNetwork } from "../config/load.ts";
import { describe } from "../errors/errors.ts";
import { readOptionalFile } from "../files/config-file.ts";
import { type Cidr, parseCidrSloppy } from "../ip/index.ts";
import { JSON_PATCH } from "../kube/client.ts";
import { nodeSlicePoolName } from "../pool/naming.ts";
import {
  decodeNodeSlicePool,
  encodeNodeSlicePool,
  NAD_API_VERSION,
  NODE_SLICE_POOLS,
  type NodeSlicePool,
  nodeSlicePoolNameFor,
  slicedAs,
  sliceProblem,
} from "../pool/node-slices.ts";
import { deleteOptions } from "../store/kubernetes/kubernetes-store.ts";
import { API_VERSION, IPPOOLS } from "../store/kubernetes/objects.ts";
import { errorFields } from "./advice.ts";
import type { ClusterView } from "./cluster-view.ts";
import { HeldAddresses } from "./held-addresses.ts";
import { Informer, type InformerHandlers } from "./informer.ts";
import type { Kube } from "./kube.ts";
import { planNodeSlices, type SlicedNetwork, type SliceWrite, unnamedSlicePools } from "./node-slice-plan.ts";

/** A cluster without Multus's NAD CRD (or an old NodeSlicePool-less CRD set) is asked again this often. */
const RECHECK_MS = 60_000;
/** Changes arriving together make one plan. */
const SETTLE_MS = 100;
/** After a failed write or plan. */
const RETRY_MS = 1_000;

/**
 * Stands in for the nodes' whereabouts.conf, which the controller does not mount: a NAD that
 * names no datastore takes Kubernetes and its kubeconfig from there on the nodes, and node slices
 * need the Kubernetes datastore. A flat file the controller is given (--flat-file) is read first.
 */
const NODES_FLAT_FILE = "(the nodes' whereabouts.conf)";
const NODES_FLAT_FILE_TEXT = JSON.stringify({
  datastore: "kubernetes",
  kubernetes: { kubeconfig: "/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig" },
});
const readNodeConfig = (path: string) =>
  path === NODES_FLAT_FILE ? NODES_FLAT_FILE_TEXT : readOptionalFile(path);

/** What a NAD says about node slices. */
export type NadSlicing =
  | { readonly kind: "sliced"; readonly network: SlicedNetwork }
  /** Not ours, or ours without node slices. */
  | { readonly kind: "none" }
  | { readonly kind: "invalid"; readonly ref: string; readonly error: string };

interface NadObject {
  readonly metadata?: { readonly namespace?: string; readonly name?: string; readonly uid?: string };
  readonly spec?: { readonly config?: unknown };
}

/** Decodes a NAD's configuration as the plugin does (a plugin list included, with the flat file). */
export function nadSlicing(object: unknown, flatFilePaths: readonly string[]): NadSlicing {
  const nad = object as NadObject;
  const nadInfo = {
    namespace: nad.metadata?.namespace ?? "",
    name: nad.metadata?.name ?? "",
    uid: nad.metadata?.uid ?? "",
  };
  const text = nad.spec?.config;
  if (typeof text !== "string" || text.trim() === "") return { kind: "none" };
  try {
    const config = loadIpamConfigFromNetwork({
      stdin: text,
      cniArgs: "",
      readFile: readNodeConfig,
      extraFlatFilePaths: [...flatFilePaths, NODES_FLAT_FILE],
    });
    const slices = config.nodeSlices;
    const rule = config.ranges[0];
    if (slices === undefined || rule === undefined) return { kind: "none" };
    // The configuration's own checks do not bound how many slices there are (a /64 by /120).
    const problem = sliceProblem(rule.range, slices.prefix);
    if (problem !== undefined)
      return {
        kind: "invalid",
        ref: `${nadInfo.namespace}/${nadInfo.name}`,
        error: `invalid node_slice_size: ${problem}`,
      };
    return {
      kind: "sliced",
      network: {
        nad: nadInfo,
        pool: nodeSlicePoolNameFor(config.networkName, config.name),
        networkName: config.networkName,
        range: rule.range,
        size: slices.prefix,
        sizeText: slices.text,
        overlapping: config.enableOverlappingRanges,
      },
    };
  } catch (error) {
    if (error instanceof ForeignIpamError || error instanceof MissingIpamError) return { kind: "none" };
    return { kind: "invalid", ref: `${nadInfo.namespace}/${nadInfo.name}`, error: describe(error) };
  }
}

const keyOf = (o: unknown) => {
  const meta = (o as { metadata?: { namespace?: string; name?: string } }).metadata;
  return `${meta?.namespace ?? ""}/${meta?.name ?? ""}`;
};

export interface NodeSliceWatchOptions {
  readonly namespace: string;
  readonly flatFilePaths: readonly string[];
  /** How long the slices a re-slice replaced stay out of the offer (ControllerOptions). */
  readonly resliceGraceMs: number;
  readonly log: InformerHandlers<unknown>["log"];
}

export class NodeSliceWatch {
  readonly nads: Informer<NadSlicing>;
  readonly nodes: Informer<string>;
  readonly pools: Informer<NodeSlicePool>;
  readonly #kube: Kube;
  readonly #cluster: ClusterView;
  readonly #options: NodeSliceWatchOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  /** The problems last logged (logged again only when they change). */
  #reported = new Set<string>();
  /**
   * Slice pools this leader's writes stopped naming, deleted once empty (node-slice-plan.ts), and
   * those it found unnamed when it started leading (unnamedSlicePools: an earlier leader's).
   */
  readonly #retired = new Set<string>();
  /** Whether the IPPools were looked through for slice pools no NodeSlicePool names (once). */
  #seeded = false;
  /**
   * NodeSlicePools re-sliced without overlapping-range reservations: the slices the re-slice
   * replaced and until when an ADD that read them may still write (its deadline). In memory only:
   * a new leader does not know them (docs/node-slices.md says what that leaves).
   */
  readonly #replaced = new Map<string, { readonly until: number; readonly slices: readonly Cidr[] }>();

  constructor(kube: Kube, cluster: ClusterView, options: NodeSliceWatchOptions) {
    this.#kube = kube;
    this.#cluster = cluster;
    this.#options = options;
    const log = options.log;
    const changed: InformerHandlers<never> = {
      upsert: () => this.schedule(),
      remove: () => this.schedule(),
      log,
    };
    const optional = { recheckMs: RECHECK_MS };
    this.nads = new Informer(
      kube,
      {
        path: `/apis/${NAD_API_VERSION}/network-attachment-definitions`,
        what: "network-attachment-definitions",
        key: keyOf,
        decode: (o) => nadSlicing(o, options.flatFilePaths),
        optional,
      },
      changed,
    );
    this.nodes = new Informer(
      kube,
      {
        path: "/api/v1/nodes",
        what: "nodes",
        key: keyOf,
        decode: (o) => (o as { metadata?: { name?: string } }).metadata?.name ?? "",
      },
      changed,
    );
    this.pools = new Informer(
      kube,
      {
        path: this.#collection(),
        what: NODE_SLICE_POOLS,
        key: keyOf,
        decode: decodeNodeSlicePool,
        optional,
      },
      changed,
    );
  }

  #collection(): string {
    return `/apis/${API_VERSION}/namespaces/${encodeURIComponent(this.#options.namespace)}/${NODE_SLICE_POOLS}`;
  }

  start(): void {
    void this.nads.run();
    void this.nodes.run();
    void this.pools.run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.nads.stop();
    this.nodes.stop();
    this.pools.stop();
    await this.#running;
  }

  /** Plans again soon (after any change of what the plan reads, IPPools included). */
  schedule(delayMs = SETTLE_MS): void {
    if (this.#stopped) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#run().finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.schedule();
        }
      });
    }, delayMs);
  }

  get #synced(): boolean {
    return this.nads.synced && this.nodes.synced && this.pools.synced && this.#cluster.pools.synced;
  }

  async #run(): Promise<void> {
    if (!this.#synced) return; // each informer's first list schedules a plan when it arrives
    const networks: SlicedNetwork[] = [];
    const invalid: { ref: string; error: string }[] = [];
    for (const nad of this.nads.values()) {
      if (nad.kind === "sliced") networks.push(nad.network);
      else if (nad.kind === "invalid") invalid.push({ ref: nad.ref, error: nad.error });
    }
    const cached = this.#cluster.pools;
    if (!this.#seeded) {
      // What earlier leaders (or Go's controller) retired and did not delete.
      this.#seeded = true;
      for (const name of unnamedSlicePools(this.pools.values(), cached.values())) this.#retired.add(name);
    }
    const stored = new Map([...this.pools.values()].map((p) => [p.name, p]));
    // Slice pools of a NodeSlicePool about to be sliced again hold addresses the new slices may
    // contain: only those of pools kept as they are sliced are skipped.
    const kept = [...stored.values()].filter((p) => {
      const sliced = networks.filter((n) => n.pool === p.name);
      return sliced.length > 0 && sliced.every((n) => slicedAs(p, n.range, n.size));
    });
    const held = new HeldAddresses(
      () => cached.values(),
      // A named network's slice pools are those of its NodeSlicePool (named by network_name).
      (networkName) =>
        liveSlicePools(networkName === "" ? kept : kept.filter((p) => p.name === networkName), networkName),
    );
    const plan = planNodeSlices({
      namespace: this.#options.namespace,
      networks: networks.sort((a, b) => keyOfNad(a).localeCompare(keyOfNad(b))),
      complete: invalid.length === 0,
      nodes: [...this.nodes.values()].sort(),
      stored,
      occupied: (name) => {
        if (!cached.synced) return true;
        const pool = cached.get(name);
        return pool !== undefined && pool.allocations.size > 0;
      },
      retired: this.#retired,
      ippool: (name) => {
        if (!cached.synced) return "unknown";
        const pool = cached.get(name);
        if (pool === undefined) return undefined;
        return { resourceVersion: pool.version ?? "", empty: pool.allocations.size === 0 };
      },
      heldIn: (network, slice) => held.in(network.networkName, slice),
      replaced: (name) => {
        const r = this.#replaced.get(name);
        if (r !== undefined && r.until <= Date.now()) this.#replaced.delete(name);
        return r !== undefined && r.until > Date.now() ? r.slices : [];
      },
    });
    for (const name of plan.forget) this.#retired.delete(name);
    const problems = [
      ...invalid.map((i) => ({
        message: "a NetworkAttachmentDefinition's configuration is invalid: its node slices are not kept",
        fields: { nad: i.ref, error: i.error },
      })),
      ...plan.problems,
    ];
    const now = new Set<string>();
    for (const p of problems) {
      const key = JSON.stringify(p);
      now.add(key);
      if (!this.#reported.has(key)) this.#options.log("error", p.message, p.fields);
    }
    this.#reported = now;
    let failed = false;
    for (const write of plan.writes) {
      try {
        await this.#write(write);
      } catch (error) {
        failed = true;
        this.#options.log("error", "could not write a NodeSlicePool", {
          ...(write.kind === "delete-ippool"
            ? { ippool: write.name }
            : { nodeSlicePool: write.kind === "delete" ? write.name : write.pool.name }),
          write: write.kind,
          ...errorFields(error),
        });
      }
    }
    if (failed) setTimeout(() => this.schedule(), RETRY_MS).unref();
  }

  async #write(write: SliceWrite): Promise<void> {
    const path = this.#collection();
    switch (write.kind) {
      case "create": {
        const r = await this.#kube.send(
          { method: "POST", path, body: encodeNodeSlicePool(write.pool, API_VERSION), expect: [409] },
          "create a NodeSlicePool at",
        );
        // 409: created meanwhile (a node agent's bounded wait does not create; another leader did).
        if (r.status !== 409) this.#logWrite(write.pool, "created");
        return;
      }
      case "update": {
        const object = encodeNodeSlicePool(write.pool, API_VERSION) as unknown as {
          metadata: { ownerReferences: unknown };
          spec: unknown;
          status: unknown;
        };
        const r = await this.#kube.send(
          {
            method: "PATCH",
            path: `${path}/${encodeURIComponent(write.pool.name)}`,
            contentType: JSON_PATCH,
            body: [
              { op: "test", path: "/metadata/resourceVersion", value: write.pool.resourceVersion },
              // `add` sets a member whether or not it exists (a pool written without owners).
              { op: "add", path: "/metadata/ownerReferences", value: object.metadata.ownerReferences },
              { op: "add", path: "/spec", value: object.spec },
              { op: "add", path: "/status", value: object.status },
            ],
            expect: [404, 409, 422],
          },
          "update a NodeSlicePool at",
        );
        // Lost a race: the watch brings the newer object, and a new plan with it.
        if (r.status === 200) {
          this.#logWrite(write.pool, write.why);
          this.#retire(write.retires);
          if (write.replaces !== undefined) this.#fence(write.pool.name, write.replaces);
        }
        return;
      }
      case "delete": {
        const r = await this.#kube.send(
          {
            method: "DELETE",
            path: `${path}/${encodeURIComponent(write.name)}`,
            body: deleteOptions({ resourceVersion: write.resourceVersion }),
            expect: [404, 409],
          },
          "delete a NodeSlicePool at",
        );
        if (r.status === 200) {
          this.#options.log("info", "NodeSlicePool deleted: no NAD configures it", {
            nodeSlicePool: write.name,
          });
          this.#retire(write.retires);
        }
        return;
      }
      case "delete-ippool": {
        const r = await this.#kube.send(
          {
            method: "DELETE",
            path: `/apis/${API_VERSION}/namespaces/${encodeURIComponent(this.#options.namespace)}/${IPPOOLS}/${encodeURIComponent(write.name)}`,
            body: deleteOptions({ resourceVersion: write.resourceVersion }),
            expect: [404, 409],
          },
          "delete a retired slice pool at",
        );
        // 409: an entry was written meanwhile; the IPPool watch brings it and the next plan waits.
        if (r.status === 200)
          this.#options.log("info", "slice pool deleted: no NodeSlicePool names it and it holds no address", {
            ippool: write.name,
          });
        if (r.status !== 409) this.#retired.delete(write.name);
      }
    }
  }

  #fence(pool: string, slices: readonly Cidr[]): void {
    const grace = this.#options.resliceGraceMs;
    this.#replaced.set(pool, { until: Date.now() + grace, slices });
    // Then the slices are offered by what the IPPools hold alone.
    setTimeout(() => this.schedule(), grace + SETTLE_MS).unref();
  }

  #retire(names: readonly string[]): void {
    for (const name of names) this.#retired.add(name);
    // The IPPools to delete may already be empty: no IPPool event would plan again.
    if (names.length > 0) this.schedule();
  }

  #logWrite(pool: NodeSlicePool, why: string): void {
    const assigned = pool.allocations.filter((a) => a.nodeName !== "").length;
    this.#options.log("info", `NodeSlicePool ${why === "nodes" ? "updated" : why}`, {
      nodeSlicePool: pool.name,
      slices: pool.allocations.length,
      assigned,
    });
  }
}

/** The slice pools of the assigned slices of `pools`, as named with `networkName` → the slice. */
function liveSlicePools(pools: Iterable<NodeSlicePool>, networkName: string): Map<string, string> {
  const live = new Map<string, string>();
  for (const pool of pools)
    for (const a of pool.allocations) {
      const slice = a.nodeName === "" ? undefined : parseCidrSloppy(a.sliceRange);
      if (slice !== undefined) live.set(nodeSlicePoolName(slice, a.nodeName, networkName), a.sliceRange);
    }
  return live;
}

function keyOfNad(n: SlicedNetwork): string {
  return `${n.nad.namespace}/${n.nad.name}`;
}
