// Process entry for CNI calls done in this process (src/main.ts first offers them to a node agent).
import { pluginHandlers } from "./plugin.ts";
import { processIO } from "./process-io.ts";
import { runPlugin } from "./skel.ts";

export const VERSION = "0.1.0";

/** `stdin` when it was already read (the agent did not answer). */
export function runPluginProcess(stdin?: string): Promise<number> {
  const own = processIO();
  const io = stdin === undefined ? own : { ...own, readStdin: async () => stdin };
  return runPlugin(io, pluginHandlers(io), `thereabouts ${VERSION}`);
}
