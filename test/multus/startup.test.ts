// The meta-plugin is loaded only under its name: an IPAM call (src/main.ts up to the agent
// hand-off, the plugin entry) never loads src/multus, and the meta-plugin's entry is reached by a
// dynamic import only.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { startupGraph } from "../../bench/startup-modules.ts";
import { ROOT } from "../support/plugin.ts";

test("an IPAM call loads no module of src/multus", () => {
  for (const entry of ["src/main.ts", "src/cni/main.ts", "src/agent/forward.ts"]) {
    const { modules } = startupGraph(join(ROOT, entry));
    assert.ok(modules.includes(entry), `the graph of ${entry} was walked`);
    assert.deepEqual(
      modules.filter((m) => m.startsWith("src/multus/")),
      [],
      entry,
    );
  }
  assert.match(readFileSync(join(ROOT, "src", "main.ts"), "utf8"), /await import\("\.\/multus\/main\.ts"\)/);
});
