import assert from "node:assert/strict";
import { test } from "node:test";
import { FLAT_PLACEHOLDER, MALFORMED } from "../../test/fixtures/malformed-configs.ts";
import { loadIpamConfig } from "./load.ts";
import { assertCniError, sources } from "./test-support.ts";

const FLAT_PATH = "/run/test/whereabouts.d/whereabouts.conf";
const SUPPORTED = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

test("MALFORMED lists at least 45 distinct cases the CNI skeleton would accept", () => {
  assert.ok(MALFORMED.length >= 45, `${MALFORMED.length} cases`);
  assert.equal(new Set(MALFORMED.map((c) => c.name)).size, MALFORMED.length, "names are distinct");
  assert.equal(
    new Set(MALFORMED.map((c) => `${c.stdin}\0${c.cniArgs}\0${c.flatFile}`)).size,
    MALFORMED.length,
  );
  for (const c of MALFORMED) {
    const doc = JSON.parse(c.stdin) as { name?: unknown; cniVersion?: unknown };
    assert.match(String(doc.name), /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, c.name);
    assert.ok(SUPPORTED.includes(String(doc.cniVersion)), c.name);
    assert.equal(c.flatFile !== undefined, c.stdin.includes(FLAT_PLACEHOLDER), c.name);
  }
});

test("loadIpamConfig() rejects every MALFORMED case with its code and message", async (t) => {
  for (const c of MALFORMED) {
    await t.test(c.name, () => {
      const stdin = c.stdin.replaceAll(FLAT_PLACEHOLDER, FLAT_PATH);
      const files: Record<string, string> = c.flatFile === undefined ? {} : { [FLAT_PATH]: c.flatFile };
      assertCniError(
        () => loadIpamConfig(sources(stdin, { files, cniArgs: c.cniArgs ?? "" })),
        c.code,
        c.msg,
      );
    });
  }
});
