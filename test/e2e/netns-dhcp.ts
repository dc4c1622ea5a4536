// DHCP on a cluster lab's LAN: dnsmasq (Debian dnsmasq-base) as the server in a namespace of its
// own, and the CNI dhcp plugin's daemon (`/usr/lib/cni/dhcp daemon`) on a node, as a DaemonSet runs
// it there. The plugin finds its daemon through `ipam.daemonSocketPath` (default
// /run/cni/dhcp.sock, which the lab never uses); the daemon acquires and renews leases from inside
// the pod's namespace (it opens CNI_NETNS, which is why it runs in the machine's mount namespace)
// and sends DHCPRELEASE on DEL.
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import type { NsProcess } from "./netns-daemons.ts";
import type { Lab, Node } from "./netns-harness.ts";
import { SYSTEM_CNI_DIR } from "./netns-machine.ts";
import { ipIn, onPath } from "./netns-shell.ts";

export interface DhcpServerOptions {
  /** The server's own address on the LAN, CIDR (its prefix is the subnet leased from). */
  readonly address: string;
  readonly rangeStart: string;
  readonly rangeEnd: string;
  /** dnsmasq's lease time; 2m is its minimum. */
  readonly leaseTime?: string;
}

/** One line of dnsmasq's lease file. */
export interface DhcpLease {
  readonly expiry: number;
  readonly mac: string;
  readonly address: string;
  readonly hostname: string | undefined;
  /** The client identifier as text: the CNI dhcp daemon sends `<containerId>/<network name>/<ifname>`. */
  readonly clientId: string | undefined;
}

/** `01:02:…` (type byte 0, then the identifier's bytes) → the identifier as text. */
function clientIdText(hex: string): string | undefined {
  if (hex === "*") return undefined;
  const bytes = Buffer.from(hex.replaceAll(":", ""), "hex");
  return (bytes[0] === 0 ? bytes.subarray(1) : bytes).toString("latin1");
}

/** Parses dnsmasq's lease file: `<expiry> <mac> <ip> <hostname|*> <client-id|*>` per line. */
export function parseLeases(text: string): DhcpLease[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("duid "))
    .map((line) => {
      const [expiry, mac, address, hostname, clientId] = line.trim().split(/\s+/);
      return {
        expiry: Number(expiry),
        mac: mac!,
        address: address!,
        hostname: hostname === "*" ? undefined : hostname,
        clientId: clientId === undefined ? undefined : clientIdText(clientId),
      };
    });
}

export interface DhcpServer {
  readonly ns: string;
  /** The server's address, bare. */
  readonly address: string;
  readonly leaseFile: string;
  readonly process: NsProcess;
  /** The leases dnsmasq has written to its lease file now. */
  leases(): DhcpLease[];
  /** dnsmasq's log (it logs each DHCP message with --log-dhcp). */
  log(): string;
}

/** Starts dnsmasq as a DHCP-only server (no DNS) on the lab's LAN, in namespace `ta-host-<tag>-dhcp`. */
export async function startDhcpServer(lab: Lab, options: DhcpServerOptions): Promise<DhcpServer> {
  const dnsmasq = onPath("dnsmasq");
  if (dnsmasq === undefined) throw new Error("dnsmasq is not installed (apt-get install dnsmasq-base)");
  const ifName = "lan0";
  const ns = await lab.addServerNamespace("dhcp", ifName);
  await ipIn(ns, "addr", "add", options.address, "dev", ifName);
  const leaseFile = join(lab.dir, "dnsmasq.leases");
  const proc = await lab.startProcess(
    ns,
    "dnsmasq",
    dnsmasq,
    [
      "--keep-in-foreground",
      "--conf-file=/dev/null", // nothing from /etc/dnsmasq.conf
      "--port=0", // DHCP only
      `--interface=${ifName}`,
      "--bind-interfaces",
      // The range's netmask comes from the interface's address.
      `--dhcp-range=${options.rangeStart},${options.rangeEnd},${options.leaseTime ?? "2m"}`,
      "--dhcp-authoritative",
      // dnsmasq pings an address before offering it and waits for silence (about 3 s): nothing else
      // on this fresh LAN can hold one, so the check would only slow every ADD down.
      "--no-ping",
      `--dhcp-leasefile=${leaseFile}`,
      `--pid-file=${join(lab.dir, "dnsmasq.pid")}`,
      "--user=root", // the lab directory is root's alone
      "--log-dhcp",
      "--log-facility=-",
    ],
    { ready: (output) => output.includes("DHCP, sockets bound exclusively to interface") },
  );
  return {
    ns,
    address: options.address.split("/")[0]!,
    leaseFile,
    process: proc,
    leases: () => (existsSync(leaseFile) ? parseLeases(readFileSync(leaseFile, "utf8")) : []),
    log: () => proc.output(),
  };
}

export interface DhcpDaemon {
  readonly node: Node;
  readonly socket: string;
  readonly process: NsProcess;
  /** The `ipam` section for networks on this node: type dhcp, pointed at this daemon. */
  ipam(): object;
}

function accepts(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = connect(socket);
    conn.once("connect", () => {
      conn.destroy();
      resolve(true);
    });
    conn.once("error", () => resolve(false));
  });
}

/** Starts the CNI dhcp daemon in `node`'s namespace, its socket in the node's directory. */
export async function startDhcpDaemon(lab: Lab, node: Node): Promise<DhcpDaemon> {
  const socket = join(node.dir, "dhcp.sock");
  const proc = await lab.startProcess(
    node.ns,
    `dhcp daemon on ${node.name}`,
    join(SYSTEM_CNI_DIR, "dhcp"),
    ["daemon", "-socketpath", socket],
    { ready: () => existsSync(socket) && accepts(socket) },
  );
  return {
    node,
    socket,
    process: proc,
    ipam: () => ({ type: "dhcp", daemonSocketPath: socket }),
  };
}
