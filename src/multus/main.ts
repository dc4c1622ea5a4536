// Process entry of the meta-plugin (the executable run under the name `multus`).
import { processIO } from "../cni/process-io.ts";
import { runPlugin } from "../cni/skel.ts";
import { formatCurrentResult } from "./cni-result.ts";
import { multusHandlers } from "./flows.ts";

export async function runMultusProcess(): Promise<number> {
  const io = processIO();
  return runPlugin(io, multusHandlers(io), formatCurrentResult);
}
