// Reads back what is configured in a namespace (a pod's, or a node's) as plain data: its interfaces
// with kind, MAC, MTU, state and addresses, and its main-table routes. attachmentIn() shapes one
// interface the way a network-status annotation entry describes an attachment, so a test can put
// the annotation next to what the pod really has.
import { ipIn } from "./netns-shell.ts";

export type Family = "inet" | "inet6";

export interface NamespaceAddress {
  readonly family: Family;
  /** Bare address, no prefix. */
  readonly address: string;
  readonly prefixLength: number;
  /** "global", "link" (IPv6 link-local) or "host". */
  readonly scope: string;
}

export interface NamespaceInterface {
  readonly name: string;
  readonly index: number;
  /** The link kind ("macvlan", "veth", "bridge", "ipvlan"…); undefined for loopback and plain devices. */
  readonly kind: string | undefined;
  readonly mac: string;
  readonly mtu: number;
  /** Administratively up (the UP flag). */
  readonly up: boolean;
  /** The bridge (or other master) this interface is a port of. */
  readonly master: string | undefined;
  readonly addresses: readonly NamespaceAddress[];
}

export interface NamespaceRoute {
  readonly family: Family;
  /** CIDR; a default route is 0.0.0.0/0 or ::/0, a host route /32 or /128. */
  readonly dst: string;
  readonly gateway: string | undefined;
  readonly dev: string;
  /** "kernel" for the routes the kernel adds with an address; undefined for static ones. */
  readonly protocol: string | undefined;
}

export interface NamespaceNetwork {
  readonly interfaces: readonly NamespaceInterface[];
  readonly routes: readonly NamespaceRoute[];
}

interface IpLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  address?: string;
  master?: string;
  linkinfo?: { info_kind?: string };
  addr_info?: { family: Family; local: string; prefixlen: number; scope: string }[];
}

interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
}

function normalDst(dst: string, family: Family): string {
  if (dst === "default") return family === "inet" ? "0.0.0.0/0" : "::/0";
  if (dst.includes("/")) return dst;
  return `${dst}/${family === "inet" ? 32 : 128}`;
}

async function routes(ns: string, family: Family): Promise<NamespaceRoute[]> {
  const out = await ipIn(ns, "-j", family === "inet" ? "-4" : "-6", "route", "show", "table", "main");
  return (JSON.parse(out || "[]") as IpRoute[])
    .filter((r) => r.dev !== undefined) // multipath routes (nexthops) are not made by these tests
    .map((r) => ({
      family,
      dst: normalDst(r.dst, family),
      gateway: r.gateway,
      dev: r.dev!,
      protocol: r.protocol,
    }));
}

/** Everything configured in namespace `ns`, read with `ip -j`. */
export async function readNamespace(ns: string): Promise<NamespaceNetwork> {
  const [links, v4, v6] = await Promise.all([
    ipIn(ns, "-j", "-d", "addr", "show"),
    routes(ns, "inet"),
    routes(ns, "inet6"),
  ]);
  const interfaces = (JSON.parse(links) as IpLink[]).map((l) => ({
    name: l.ifname,
    index: l.ifindex,
    kind: l.linkinfo?.info_kind,
    mac: l.address ?? "",
    mtu: l.mtu,
    up: l.flags.includes("UP"),
    master: l.master,
    addresses: (l.addr_info ?? []).map((a) => ({
      family: a.family,
      address: a.local,
      prefixLength: a.prefixlen,
      scope: a.scope,
    })),
  }));
  return { interfaces, routes: [...v4, ...v6] };
}

export function interfaceIn(net: NamespaceNetwork, name: string): NamespaceInterface | undefined {
  return net.interfaces.find((i) => i.name === name);
}

/** One attachment as a network-status entry describes it, read from the namespace. */
export interface AttachmentView {
  readonly interface: string;
  /** Global-scope addresses, bare (link-local ones are the kernel's, not the IPAM's). */
  readonly ips: string[];
  readonly mac: string;
  readonly mtu: number;
  /** Next hops of the default routes through this interface. */
  readonly gateway: string[];
}

export function attachmentIn(net: NamespaceNetwork, ifName: string): AttachmentView | undefined {
  const link = interfaceIn(net, ifName);
  if (link === undefined) return undefined;
  return {
    interface: link.name,
    ips: link.addresses.filter((a) => a.scope === "global").map((a) => a.address),
    mac: link.mac,
    mtu: link.mtu,
    gateway: net.routes
      .filter((r) => r.dev === ifName && r.gateway !== undefined && r.dst.endsWith("/0"))
      .map((r) => r.gateway!),
  };
}
