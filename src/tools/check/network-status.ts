// The Multus network-status annotation of a pod, as far as `check` compares it with the store:
// which addresses each interface was given. Pure. The annotation is written by Multus (or the
// runtime) after the CNI ADD returned, as a JSON list of {name, interface, ips, default, …}.
import { type IP, parseCidr, parseIP } from "../../ip/index.ts";

export const NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status";

export interface NetworkStatusEntry {
  /** The network's name (`namespace/nad` or the default network's). */
  readonly name: string;
  /** The interface in the pod ("" when the annotation names none). */
  readonly interface: string;
  readonly ips: readonly IP[];
  /** The cluster's default network (not an attachment of ours, unless an interface says so). */
  readonly default: boolean;
}

type Dict = Readonly<Record<string, unknown>>;

function dict(value: unknown): Dict | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Dict) : undefined;
}

function address(text: unknown): IP | undefined {
  if (typeof text !== "string") return undefined;
  if (!text.includes("/")) return parseIP(text);
  const cidr = parseCidr(text);
  return cidr === undefined ? undefined : { family: cidr.family, value: cidr.address };
}

/**
 * The entries of the annotation's value; undefined when the pod has none or it is not a JSON list
 * (nothing can be compared then). Members that are not objects, and ips that are not addresses,
 * are skipped.
 */
export function parseNetworkStatus(text: string | undefined): readonly NetworkStatusEntry[] | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  const entries: NetworkStatusEntry[] = [];
  for (const item of value) {
    const d = dict(item);
    if (d === undefined) continue;
    const ips = Array.isArray(d["ips"]) ? d["ips"].map(address).filter((ip) => ip !== undefined) : [];
    entries.push({
      name: typeof d["name"] === "string" ? d["name"] : "",
      interface: typeof d["interface"] === "string" ? d["interface"] : "",
      ips,
      default: d["default"] === true,
    });
  }
  return entries;
}
