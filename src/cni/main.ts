// Process entry for CNI calls done in this process (src/main.ts first offers them to a node agent).
import { pluginHandlers } from "./plugin.ts";
import { processIO } from "./process-io.ts";
import { runPlugin } from "./skel.ts";
import { startWatchdog } from "./watchdog.ts";

/** `stdin` when it was already read (the agent did not answer). */
export async function runPluginProcess(stdin?: string): Promise<number> {
  const own = processIO();
  const io = stdin === undefined ? own : { ...own, readStdin: async () => stdin };
  const disarm = startWatchdog(own.env["CNI_COMMAND"] ?? "", io, (code) => process.exit(code));
  try {
    return await runPlugin(io, pluginHandlers(io));
  } finally {
    disarm();
  }
}
