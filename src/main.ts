// The one executable: a CNI plugin whenever CNI_COMMAND is set (as the runtime or Multus runs it,
// under the name thereabouts or whereabouts), otherwise a command-line tool.
const command = process.env["CNI_COMMAND"];
let code: number;
if (command !== undefined && command !== "") {
  const { runPluginProcess } = await import("./cni/main.ts");
  code = await runPluginProcess();
} else {
  const { runCli } = await import("./cli/cli.ts");
  code = await runCli(process.argv.slice(2));
}
// Exit at once: the runtime waits for the process, and nothing is left to flush (writes are sync).
process.exit(code);
