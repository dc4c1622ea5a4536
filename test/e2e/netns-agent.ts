// The node agent in the lab (MultusLab's agent mode): `bin/thereabouts agent` run inside a node's
// namespace, as on a real node's host side, on a socket in a root-only directory under the node's
// own directory. The node's plugin calls find it through THEREABOUTS_AGENT_SOCKET; the agent sets
// that variable for itself, so the delegates it runs hand their IPAM calls back to it.
//
// Which process served a meta-plugin call is read from the kernel, not from anything the agent or
// the plugin says about itself: when a process reaps a child, the child's page faults are added to
// the parent's "cminflt" (/proc/<pid>/stat). A call the agent serves runs its delegates as the
// agent's children; a call the plugin runs alone runs them as its own, and the IPAM calls those
// delegates hand back to the agent are served in-process, so the agent's count does not move.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { agentMetrics } from "../support/agent.ts";
import type { NsProcess } from "./netns-daemons.ts";
import type { Lab, Node } from "./netns-harness.ts";
import { pluginPath } from "./netns-machine.ts";

/** What the plugin prints when it cannot reach an agent whose socket is there (forward.ts). */
export const WORKING_ALONE = /; working without it$/m;

export interface NodeAgent {
  readonly node: Node;
  readonly socket: string;
  readonly process: NsProcess;
  /** Page faults of the child processes the agent has reaped so far: grows when it runs delegates. */
  reapedChildFaults(): number;
  /** IPAM calls (on /v1/cni) of this verb on the embedded store that the agent answered with success. */
  ipamCalls(command: "ADD" | "DEL"): Promise<number>;
  /** SIGKILL, as a crash: the socket file stays behind and the plugin's connections are refused. */
  kill(): Promise<void>;
  /** SIGTERM: the agent finishes the calls in flight, then removes its socket. */
  stop(): Promise<void>;
}

export async function startNodeAgent(lab: Lab, node: Node): Promise<NodeAgent> {
  const socket = join(node.dir, "agent", "agent.sock");
  const proc = await lab.startProcess(
    node.ns,
    `node agent on ${node.name}`,
    pluginPath("thereabouts"),
    ["agent", "--socket", socket],
    { ready: (output) => output.includes("thereabouts agent: serving") },
  );
  return {
    node,
    socket,
    process: proc,
    reapedChildFaults: () => reapedChildFaults(proc.pid),
    ipamCalls: async (command) => {
      const series = `thereabouts_agent_calls_total{command="${command}",store="local",result="ok"} `;
      const line = (await agentMetrics(socket)).split("\n").find((l) => l.startsWith(series));
      return line === undefined ? 0 : Number(line.slice(series.length));
    },
    async kill() {
      process.kill(proc.pid, "SIGKILL");
      await proc.stop(0);
    },
    stop: () => proc.stop(),
  };
}

/** cminflt of `pid`: fields after the command name, which may itself hold spaces and parentheses. */
function reapedChildFaults(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Field 11 of proc(5); fields[0] is field 3 (state).
  return Number(fields[11 - 3]);
}
