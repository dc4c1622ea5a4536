// The one executable: a CNI plugin whenever CNI_COMMAND is set (as the runtime or Multus runs it,
// under the name thereabouts or whereabouts), otherwise a command-line tool. The binary is built
// as CommonJS with precompiled bytecode (scripts/build.ts), which halves start-up; that format
// has no top-level await, hence the async wrapper.
import { runPluginProcess } from "./cni/main.ts";

async function main(): Promise<number> {
  const command = process.env["CNI_COMMAND"];
  if (command !== undefined && command !== "") return runPluginProcess();
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
