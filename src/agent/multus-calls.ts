// The meta-plugin's calls served by the agent (thick mode): the plugin run as `multus` hands over
// its invocation on MULTUS_PATH exactly as an IPAM call on CNI_PATH, and the agent runs the same
// flows (src/multus/flows.ts) in-process, answering with what the plugin would have printed. The
// meta-plugin's modules are loaded on the first such call: an agent serving only IPAM calls never
// loads them.
import type { PluginIO } from "../cni/skel.ts";
import type { MultusDeps } from "../multus/flows.ts";
import { withDeadlines } from "./call-deadline.ts";
import type { AgentAnswer, AgentCall } from "./protocol.ts";

export interface MultusCallOutcome {
  readonly answer: AgentAnswer;
  readonly timedOut: boolean;
}

/** Runs one forwarded meta-plugin call; never rejects. */
export async function serveMultusCall(call: AgentCall, deps: MultusDeps): Promise<MultusCallOutcome> {
  const [{ runPlugin }, { multusHandlers }, { formatCurrentResult }] = await Promise.all([
    import("../cni/skel.ts"),
    import("../multus/flows.ts"),
    import("../multus/cni-result.ts"),
  ]);
  let stdout = "";
  let stderr = "";
  const io: PluginIO = {
    env: call.env,
    readStdin: async () => call.stdin,
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  };
  let timedOut = false;
  const handlers = withDeadlines(multusHandlers(io, deps), {
    expired: () => {
      timedOut = true;
    },
  });
  const code = await runPlugin(io, handlers, formatCurrentResult);
  return { answer: { code, stdout, stderr }, timedOut };
}
