// The plugin process boundary for a call the agent serves, IPAM or meta-plugin alike: the call's
// env and stdin in, and what the work writes kept for the answer (AgentAnswer's stdout, stderr).
import type { PluginIO } from "../cni/skel.ts";
import type { AgentCall } from "./protocol.ts";

export function callIO(call: AgentCall): {
  readonly io: PluginIO;
  readonly output: () => { readonly stdout: string; readonly stderr: string };
} {
  let stdout = "";
  let stderr = "";
  return {
    io: {
      env: call.env,
      readStdin: async () => call.stdin,
      stdout: (t) => {
        stdout += t;
      },
      stderr: (t) => {
        stderr += t;
      },
    },
    output: () => ({ stdout, stderr }),
  };
}
