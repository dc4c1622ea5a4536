// How the shipped executable introduces itself: `thereabouts version` (and `--version`) and the node
// agent as it starts say the same two lines, the release read from package.json at build time; the
// controller's first log line carries the same release.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { startApi, startController } from "../controller/support.ts";
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

  it("is named in the controller's start log", async () => {
    const api = await startApi();
    try {
      const controller = await startController(api);
      try {
        const started = await controller.waitForLog((l) => l.msg === "controller started");
        assert.equal(started["version"], released);
      } finally {
        await controller.kill();
      }
    } finally {
      await api.stop();
    }
  });
});
