// The Kubernetes store's NodeSlicePools (store.ts: NodeSliceStore): read one, and claim a free
// slice for a node with a JSON patch whose tests say the element still holds that slice and no
// node. Nothing else of the object is written: the controller (ours or Go's) owns the rest, and a
// patch that only names the node is exactly what Go's controller would have written for it.
import { JSON_PATCH, type KubeClient, type KubeReply } from "../../kube/client.ts";
import { decodeNodeSlicePool, NODE_SLICE_POOLS, type NodeSlicePool } from "../../pool/node-slices.ts";
import type { NodeSliceStore } from "../store.ts";

/** How the store sends one request within a call's time (its own #send). */
export type Send = (
  request: Parameters<KubeClient["send"]>[0],
  deadline: number,
  action: string,
) => Promise<KubeReply>;

export class KubernetesNodeSlices implements NodeSliceStore {
  readonly #send: Send;
  readonly #path: (name: string) => string;
  /** The NodeSlicePools' collection in the store's namespace (what the node agent watches). */
  readonly collection: string;
  readonly #deadline: (options: Parameters<NodeSliceStore["getNodeSlicePool"]>[1]) => number;

  constructor(
    send: Send,
    path: (resource: string, name?: string) => string,
    deadline: (options: Parameters<NodeSliceStore["getNodeSlicePool"]>[1]) => number,
  ) {
    this.#send = send;
    this.#path = (name) => path(NODE_SLICE_POOLS, name);
    this.collection = path(NODE_SLICE_POOLS);
    this.#deadline = deadline;
  }

  async getNodeSlicePool(
    name: string,
    options?: Parameters<NodeSliceStore["getNodeSlicePool"]>[1],
  ): Promise<NodeSlicePool | undefined> {
    const reply = await this.#send(
      { method: "GET", path: this.#path(name), expect: [404] },
      this.#deadline(options),
      `read NodeSlicePool ${name} from`,
    );
    return reply.status === 404 ? undefined : decodeNodeSlicePool(reply.body);
  }

  async claimNodeSlice(
    name: string,
    index: number,
    sliceRange: string,
    nodeName: string,
    options?: Parameters<NodeSliceStore["claimNodeSlice"]>[4],
  ): Promise<boolean> {
    return (await this.claim(name, index, sliceRange, nodeName, options)) !== undefined;
  }

  /** claimNodeSlice, answering the NodeSlicePool as the claim left it (undefined: not claimed). */
  async claim(
    name: string,
    index: number,
    sliceRange: string,
    nodeName: string,
    options?: Parameters<NodeSliceStore["claimNodeSlice"]>[4],
  ): Promise<NodeSlicePool | undefined> {
    const at = `/status/allocations/${index}`;
    const reply = await this.#send(
      {
        method: "PATCH",
        path: this.#path(name),
        contentType: JSON_PATCH,
        body: [
          { op: "test", path: `${at}/sliceRange`, value: sliceRange },
          { op: "test", path: `${at}/nodeName`, value: "" },
          { op: "replace", path: `${at}/nodeName`, value: nodeName },
        ],
        expect: [404, 409, 422],
      },
      this.#deadline(options),
      `claim slice ${sliceRange} of NodeSlicePool ${name} at`,
    );
    // 422: a test failed (taken meanwhile, or re-sliced); 404: the pool is gone. A lost answer
    // to a patch that landed reads as not claimed: the caller reads the pool again and finds the
    // slice its node's.
    return reply.status < 300 ? decodeNodeSlicePool(reply.body) : undefined;
  }
}
