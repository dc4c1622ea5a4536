// How the shipped executable introduces itself: `thereabouts version` (and `--version`) and the node
// agent as it starts say the same two lines, the release read from package.json at build time.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { startAgentProcess } from "../support/agent.ts";
import { BINARY, ROOT } from "../support/plugin.ts";

const released = (JSON.parse(readFileSync(`${ROOT}/package.json`, "utf8")) as { version: string }).version;
const ABOUT = `thereabouts ${released}\nCNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0\n`;

describe("the executable's about text", () => {
  it("is what `thereabouts version` and `--version` print", () => {
    const { CNI_COMMAND: _, ...env } = process.env;
    for (const arg of ["version", "--version"]) {
      const out = spawnSync(BINARY.file, [arg], { env, encoding: "utf8" });
      assert.equal(out.status, 0, out.stderr);
      assert.equal(out.stdout, ABOUT);
    }
  });

  it("opens the node agent's log", async () => {
    const agent = await startAgentProcess();
    try {
      assert.ok(
        agent.stderr().startsWith(`${ABOUT}thereabouts agent: serving ${agent.socket}`),
        agent.stderr(),
      );
    } finally {
      await agent.stop();
    }
  });
});
