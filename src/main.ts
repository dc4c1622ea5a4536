// The one executable: a CNI plugin whenever CNI_COMMAND is set (as the runtime or Multus runs it,
// under the name thereabouts or whereabouts), otherwise a command-line tool. Installed as
// `kubectl-thereabouts` it is kubectl's plugin and always the command-line tool: kubectl passes
// the user's whole environment on, and a stray CNI_COMMAND there must not make it read stdin as a
// network configuration. The binary is built with precompiled bytecode and code splitting
// (scripts/build.ts): only the agent hand-off is loaded up front, so a plugin whose node agent
// answers never loads the rest.
import { forwardToAgent } from "./agent/forward.ts";
import { MULTUS_PATH } from "./agent/protocol.ts";

/** The name kubectl looks for on PATH to run `kubectl thereabouts …`. */
const KUBECTL_PLUGIN = "kubectl-thereabouts";
/** Installed under this name the executable is the Multus-compatible meta-plugin (src/multus). */
const MULTUS = "multus";

async function main(): Promise<number> {
  // argv0 is the name the process was started under (a link's own, where execPath names the file
  // it resolves to). No node:path here: a plugin call loads as little as it can.
  const name = process.argv0.slice(process.argv0.lastIndexOf("/") + 1);
  const kubectlPlugin = name === KUBECTL_PLUGIN;
  const command = process.env["CNI_COMMAND"];
  // The meta-plugin's calls go to the node agent too (thick mode), on their own path; alone, the
  // meta-plugin's modules are loaded only under its name: an IPAM call never loads them.
  if (name === MULTUS && command !== undefined && command !== "") {
    const forwarded = await forwardToAgent(MULTUS_PATH);
    if (forwarded.code !== undefined) return forwarded.code;
    const { runMultusProcess } = await import("./multus/main.ts");
    return runMultusProcess(forwarded.stdin);
  }
  if (command !== undefined && command !== "" && !kubectlPlugin) {
    const forwarded = await forwardToAgent();
    if (forwarded.code !== undefined) return forwarded.code;
    const { runPluginProcess } = await import("./cni/main.ts");
    return runPluginProcess(forwarded.stdin);
  }
  const { runCli } = await import("./cli/cli.ts");
  return runCli(process.argv.slice(2), { kubectlPlugin });
}

// Exit at once: the runtime waits for the process, and nothing is left to flush (writes are sync).
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`thereabouts: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
