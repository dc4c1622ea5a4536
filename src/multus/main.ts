// Process entry of the meta-plugin (the executable run under the name `multus`) when no node agent
// served the call (src/main.ts offers it to the agent first).
import { processIO } from "../cni/process-io.ts";
import { runPlugin } from "../cni/skel.ts";
import { formatCurrentResult } from "./cni-result.ts";
import { multusHandlers } from "./flows.ts";

/** `stdin` when it was already read (the agent did not answer). */
export async function runMultusProcess(stdin?: string): Promise<number> {
  const own = processIO();
  const io = stdin === undefined ? own : { ...own, readStdin: async () => stdin };
  return runPlugin(io, multusHandlers(io), formatCurrentResult);
}
