// The one executable: a CNI plugin whenever CNI_COMMAND is set (as the runtime or Multus runs it,
// under the name thereabouts or whereabouts), otherwise a command-line tool. The binary is built
// with precompiled bytecode and code splitting (scripts/build.ts): only the agent hand-off is
// loaded up front, so a plugin whose node agent answers never loads the rest.
import { forwardToAgent } from "./agent/forward.ts";

async function main(): Promise<number> {
  const command = process.env["CNI_COMMAND"];
  if (command !== undefined && command !== "") {
    const forwarded = await forwardToAgent();
    if (forwarded.code !== undefined) return forwarded.code;
    const { runPluginProcess } = await import("./cni/main.ts");
    return runPluginProcess(forwarded.stdin);
  }
  const { runCli } = await import("./cli/cli.ts");
  return runCli(process.argv.slice(2));
}

// Exit at once: the runtime waits for the process, and nothing is left to flush (writes are sync).
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`thereabouts: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
