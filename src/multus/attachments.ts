// The attachments of one call: every delegate in Multus' order (the master first — clusterNetwork,
// a static delegate or the default-network annotation's NAD —, then defaultNetworks, then the
// networks annotation), each with its interface name and its default-route handling.
import { parseIP } from "../ip/index.ts";
import type { DelegateConf } from "./delegate.ts";
import type { NetworkSelection } from "./selection.ts";

export interface Attachment {
  readonly delegate: DelegateConf;
  /** `<ns>/<nad>` for a NAD, the configuration's name otherwise (network-status, events). */
  readonly displayName: string;
  readonly master: boolean;
  readonly ifName: string;
  /** The requests of the selection element (undefined for delegates no element asked for). */
  readonly selection: NetworkSelection | undefined;
  /** Default routes of this family are removed from this interface after its ADD. */
  readonly filterV4Gateway: boolean;
  readonly filterV6Gateway: boolean;
}

export interface PlannedDelegate {
  readonly delegate: DelegateConf;
  readonly displayName: string;
  readonly selection?: NetworkSelection | undefined;
}

/**
 * Interface names as Multus gives them: an explicit request wins (even for the master), the
 * master gets the runtime's CNI_IFNAME, every other delegate `net<position>` — positions count
 * the whole list, and a request does not renumber the others (`[master, a@foo, b]` → eth0, foo, net2).
 * Default-route flags: only when some element requests `default-route`, every delegate not
 * requesting a gateway of a family has that family's default routes removed.
 */
export function planAttachments(delegates: readonly PlannedDelegate[], ifName: string): Attachment[] {
  const requested = delegates.some((d) => d.selection?.defaultRoute !== undefined);
  return delegates.map((d, idx) => {
    const families = new Set((d.selection?.defaultRoute ?? []).map((gw) => parseIP(gw)?.family));
    const explicit = d.selection?.interfaceRequest;
    return Object.freeze({
      delegate: d.delegate,
      displayName: d.displayName,
      master: idx === 0,
      ifName: explicit !== undefined && explicit !== "" ? explicit : idx === 0 ? ifName : `net${idx}`,
      selection: d.selection,
      filterV4Gateway: requested && !families.has(4),
      filterV6Gateway: requested && !families.has(6),
    });
  });
}
