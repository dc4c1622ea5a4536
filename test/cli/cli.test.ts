// The command-line face of the shipped executable (no CNI_COMMAND): help, version, unknown
// commands, every help text within 80 columns, and `status` against a real local store, with and
// without a node agent.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startAgentProcess } from "../support/agent.ts";
import { add, BINARY, localNetConf, type TempDir, tempDir } from "../support/plugin.ts";

function cli(args: string[], env: Record<string, string> = {}, file = BINARY.file) {
  const { CNI_COMMAND: _, ...rest } = process.env;
  const r = spawnSync(file, args, { env: { ...rest, ...env }, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("thereabouts command line", () => {
  let dir: TempDir;
  before(() => {
    dir = tempDir();
  });
  after(() => dir.remove());

  it("help, version, agent --help; an unknown command exits 2 with the usage", () => {
    const help = cli(["help"]);
    assert.equal(help.code, 0);
    for (const command of ["demo", "status", "agent", "controller"])
      assert.match(help.stdout, new RegExp(`\\n  ${command}`));
    assert.match(
      cli(["version"]).stdout,
      /^thereabouts \d+\.\d+\.\d+\nCNI protocol versions supported: 0\.1\.0/,
    );
    assert.match(cli(["agent", "--help"]).stdout, /--socket PATH/);
    const unknown = cli(["frobnicate"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
  });

  it("every help text fits an 80-column terminal and exits 0: the usage, each command's --help, also as kubectl's", () => {
    // The commands as the usage lists them (two spaces, then the name), so a new one is covered.
    const usage = cli(["help"]).stdout;
    const commands = usage
      .slice(usage.indexOf("\nCommands:\n"))
      .split("\n")
      .flatMap((line) => /^ {2}([a-z][a-z-]*)(?: |$)/.exec(line)?.[1] ?? []);
    assert.ok(commands.length >= 10, `commands read from the usage: ${commands.join(" ")}`);
    const kubectlPlugin = join(dir.path, "kubectl-thereabouts");
    symlinkSync(BINARY.file, kubectlPlugin);
    assert.match(cli(["--help"], {}, kubectlPlugin).stdout, /\nUsage: kubectl thereabouts <command>/);
    const tooWide: string[] = [];
    const widerThan80 = (what: string, text: string) => {
      for (const line of text.split("\n")) if ([...line].length > 80) tooWide.push(`${what}: ${line}`);
    };
    for (const file of [BINARY.file, kubectlPlugin]) {
      // A usage error prints the usage on stderr.
      const unknown = cli(["no-such-command"], {}, file);
      assert.match(unknown.stderr, /\nCommands:\n/);
      widerThan80(`${file} no-such-command`, unknown.stderr);
      for (const args of [["--help"], ...commands.map((c) => [c, "--help"])]) {
        const r = cli(args, {}, file);
        assert.doesNotMatch(r.stderr, /unknown command/, `${args[0]} is a command`);
        assert.equal(r.code, 0, `${args.join(" ")} prints its usage and exits 0: ${r.stderr}`);
        if (args[0] !== "version") assert.match(r.stdout, /Usage: /, `${args.join(" ")} prints a usage`);
        widerThan80(`${file} ${args.join(" ")}`, r.stdout);
        widerThan80(`${file} ${args.join(" ")} (stderr)`, r.stderr);
      }
    }
    assert.deepEqual(tooWide, []);
  });

  it("status shows the datastore, each pool's usage and whether a node agent serves", async () => {
    const path = join(dir.path, "store.db");
    const config = localNetConf(path, "198.18.30.0/28");
    const file = join(dir.path, "net.conf");
    writeFileSync(file, config);
    const none = join(dir.path, "no-agent.sock");
    for (const pod of ["a", "b", "c"]) {
      const o = await add({
        config,
        pod,
        containerId: `ctr-${pod}`,
        env: { THEREABOUTS_AGENT_SOCKET: none },
      });
      assert.equal(o.code, 0, o.stdout);
    }
    const alone = cli(["status", "--config", file], { THEREABOUTS_AGENT_SOCKET: none });
    assert.equal(alone.code, 0, alone.stderr);
    assert.equal(
      alone.stdout,
      `network testnet: datastore local reachable\n  pool 198.18.30.0-28 (198.18.30.0/28): 3 used of 14 usable addresses\nnode agent: none at ${none} (plugins work alone)\n`,
    );
    const agent = await startAgentProcess();
    try {
      const served = cli(["status", "--config", file], agent.env);
      assert.match(served.stdout, new RegExp(`node agent: serving at ${agent.socket}\\n$`));
    } finally {
      await agent.stop();
    }
    const missing = cli(["status"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /--config FILE is required/);
  });
});
