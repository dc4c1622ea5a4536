// Node agents simulated in one process, for the scale benchmark's thousands of nodes: per node, the
// store handles an agent keeps (WarmStores: its Kubernetes client and caching store) and the
// handlers an agent runs a forwarded call with (pluginHandlers + runPlugin, the node's name given
// as the agent gives it). No socket and no plugin process: what is measured is the agent's work
// and the API's, real HTTP to the double.
import { callIO } from "../src/agent/call-io.ts";
import { WarmStores } from "../src/agent/warm-stores.ts";
import type { PluginOutcome } from "../src/cli/exec-plugin.ts";
import { pluginHandlers } from "../src/cni/plugin.ts";
import { runPlugin } from "../src/cni/skel.ts";
import { readOptionalFile } from "../src/files/config-file.ts";
import { podArgs } from "../test/support/plugin.ts";
import { nodeName, SCALE_NS } from "./scale-cluster.ts";

export interface SimulatedNode {
  readonly name: string;
  /** n of node-<n>. */
  readonly index: number;
  call(command: "ADD" | "DEL", config: string, pod: string, ifName: string): Promise<PluginOutcome>;
  close(): Promise<void>;
}

function simulatedNode(index: number): SimulatedNode {
  const name = nodeName(index);
  const stores = new WarmStores();
  return {
    name,
    index,
    async call(command, config, pod, ifName) {
      const started = performance.now();
      const { io, output } = callIO({
        env: {
          CNI_COMMAND: command,
          CNI_CONTAINERID: `c-${pod}`,
          CNI_NETNS: `/var/run/netns/${pod}`,
          CNI_IFNAME: ifName.slice(0, 15),
          CNI_ARGS: podArgs(pod, SCALE_NS),
          CNI_PATH: "/opt/cni/bin",
        },
        stdin: config,
      });
      const code = await runPlugin(
        io,
        pluginHandlers(io, stores.access, { readFile: readOptionalFile, nodeName: name }),
      );
      return { code, signal: null, ...output(), ms: performance.now() - started };
    },
    close: () => stores.closeAll(),
  };
}

export function simulatedNodes(count: number): SimulatedNode[] {
  return Array.from({ length: count }, (_, n) => simulatedNode(n));
}
