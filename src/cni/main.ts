// Process entry for CNI calls.
import { pluginHandlers } from "./plugin.ts";
import { processIO } from "./process-io.ts";
import { runPlugin } from "./skel.ts";

export const VERSION = "0.1.0";

export function runPluginProcess(): Promise<number> {
  const io = processIO();
  return runPlugin(io, pluginHandlers(io), `thereabouts ${VERSION}`);
}
