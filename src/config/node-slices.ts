// node_slice_size (Go v0.9's Fast IPAM): the network's range is cut into slices of that size, and
// each node allocates from the slices its NodeSlicePool assigns to it (docs/node-slices.md).
// Checked after the merge, as every key (the flat file may set it). Go accepts sizes it then
// slices into nothing or panics on; here every configuration that could not work is refused
// with code 7 naming the key.
import { ConfigError } from "../errors/errors.ts";
import { quote } from "../errors/message.ts";
import { bitsOf } from "../ip/index.ts";
import { parseSliceSize, sliceProblem } from "../pool/node-slices.ts";
import type { Datastore } from "../store/settings.ts";
import type { IpRange } from "./types.ts";

export interface NodeSliceSettings {
  /** Prefix length of every slice. */
  readonly prefix: number;
  /** node_slice_size as configured ("/26" or "26"): what a NodeSlicePool's spec.sliceSize holds. */
  readonly text: string;
  /** configuration_path, where the plugin looks for `nodename` (its node's name). */
  readonly configurationPath?: string;
}

export interface NodeSliceInput {
  readonly nodeSliceSize?: string | undefined;
  readonly configurationPath?: string | undefined;
  /** The network's `name` and network_name: the NodeSlicePool is named by one of them. */
  readonly name: string;
  readonly networkName: string;
  readonly ranges: readonly IpRange[];
  readonly datastore: Datastore;
  readonly stickyAddresses: boolean;
}

/**
 * The node-slice settings, or undefined without node_slice_size. Throws ConfigError for a size that
 * is not a prefix length, one the range cannot be divided by (pool/node-slices.ts: sliceProblem),
 * a slice without usable addresses, more than
 * one range, a datastore other than kubernetes (the NodeSlicePool lives there), no name to give
 * the NodeSlicePool, and sticky addresses (a StatefulSet pod rescheduled to another node could not
 * keep an address of the old node's slice).
 */
export function parseNodeSlices(input: NodeSliceInput): NodeSliceSettings | undefined {
  const text = input.nodeSliceSize;
  if (text === undefined) return undefined;
  const key = `node_slice_size ${quote(text)}`;
  const [rule, ...more] = input.ranges;
  const prefix = parseSliceSize(text);
  if (prefix === undefined)
    throw new ConfigError(`invalid ${key}: expected a prefix length such as "/26" or "26"`);
  if (rule === undefined) return undefined; // no range: nothing is allocated, nothing to slice
  if (more.length > 0)
    throw new ConfigError(
      `invalid ${key}: node slices cut one range, and this network configures ${input.ranges.length}`,
      "remove node_slice_size, or keep only one range (a separate network per range can slice each)",
    );
  const problem = sliceProblem(rule.range, prefix);
  if (problem !== undefined) throw new ConfigError(`invalid ${key}: ${problem}`);
  const bits = bitsOf(rule.range.family);
  if (prefix > bits - 2)
    throw new ConfigError(
      `invalid ${key}: a slice of /${prefix} has no usable address (its first and last are never handed out): use a prefix length of at most /${bits - 2}`,
    );
  if (input.datastore !== "kubernetes")
    throw new ConfigError(
      `invalid ${key}: node slices need datastore kubernetes (the NodeSlicePool lives there), not ${input.datastore}`,
    );
  if (input.networkName === "" && input.name === "")
    throw new ConfigError(
      `invalid ${key}: the NodeSlicePool is named by network_name or the network's name, and both are empty`,
    );
  if (input.stickyAddresses)
    throw new ConfigError(
      `invalid ${key} with sticky_addresses: a pod rescheduled to another node allocates from that node's slices, so it could not keep its address`,
      "remove sticky_addresses or node_slice_size",
    );
  return {
    prefix,
    text,
    ...(input.configurationPath === undefined ? {} : { configurationPath: input.configurationPath }),
  };
}
