// Every malformed config, CNI_ARGS and environment case through the shipped executable: a CNI
// error JSON with the expected code and message, exit status 1, and nothing written to the store.
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FLAT_PLACEHOLDER, MALFORMED } from "../fixtures/malformed-configs.ts";
import { run, type TempDir, tempDir } from "../support/plugin.ts";

let dir: TempDir;
before(() => {
  dir = tempDir();
});
after(() => dir.remove());

/** Points the config's local store at a fresh path (unless the case sets its own) and returns it. */
function isolate(stdin: string, id: number): { stdin: string; store: string } {
  const store = join(dir.path, `case-${id}.db`);
  const parsed = JSON.parse(stdin) as { ipam?: Record<string, unknown> };
  if (parsed.ipam !== null && typeof parsed.ipam === "object" && !("local" in parsed.ipam)) {
    parsed.ipam["local"] = { path: store };
  }
  return { stdin: JSON.stringify(parsed), store };
}

describe("malformed configurations are rejected before anything is written", () => {
  assert.ok(MALFORMED.length >= 40, "at least 40 cases");
  for (const [id, c] of MALFORMED.entries()) {
    it(`${c.name} → code ${c.code}`, async () => {
      let { stdin, store } = isolate(c.stdin, id);
      if (c.flatFile !== undefined) {
        const flat = join(dir.path, `flat-${id}.conf`);
        writeFileSync(flat, c.flatFile);
        stdin = stdin.replaceAll(FLAT_PLACEHOLDER, flat);
      }
      const out = await run({
        command: "ADD",
        config: stdin,
        containerId: `c${id}`,
        ifName: "eth0",
        netns: "/var/run/netns/x",
        cniArgs: c.cniArgs ?? "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p",
      });
      assert.equal(out.code, 1, `exit status (stdout: ${out.stdout})`);
      const error = JSON.parse(out.stdout) as { code: number; msg: string };
      assert.equal(error.code, c.code, error.msg);
      assert.match(error.msg, c.msg);
      assert.ok(!existsSync(store), "the store was not created");
      assert.doesNotMatch(out.stderr, /\n\s+at /, "no stack trace");
    });
  }
});

describe("malformed environments are rejected with the skeleton's codes", () => {
  const good = JSON.stringify({
    cniVersion: "1.0.0",
    name: "net",
    ipam: { type: "thereabouts", range: "192.0.2.0/24" },
  });
  const base = {
    CNI_COMMAND: "ADD",
    CNI_CONTAINERID: "c1",
    CNI_NETNS: "/x",
    CNI_IFNAME: "eth0",
    CNI_PATH: "/opt/cni/bin",
  };
  const cases: [string, Record<string, string>, string, number, RegExp][] = [
    [
      "missing CNI_CONTAINERID",
      { CNI_CONTAINERID: "" },
      good,
      4,
      /required env variables \[CNI_CONTAINERID\] missing/,
    ],
    [
      "missing CNI_NETNS and CNI_PATH",
      { CNI_NETNS: "", CNI_PATH: "" },
      good,
      4,
      /required env variables \[CNI_NETNS,CNI_PATH\] missing/,
    ],
    ["container id with a slash", { CNI_CONTAINERID: "a/b" }, good, 4, /invalid characters in containerID/],
    ["interface name too long", { CNI_IFNAME: "a-very-long-interface" }, good, 4, /interface name/],
    ["interface name with a colon", { CNI_IFNAME: "eth:0" }, good, 4, /interface name/],
    ["interface name '..'", { CNI_IFNAME: ".." }, good, 4, /interface name/],
    ["unknown command", { CNI_COMMAND: "FROB" }, good, 4, /unknown CNI_COMMAND: FROB/],
    ["stdin is not JSON", {}, "{nope", 6, /error unmarshall network config/],
    ["stdin is a JSON array", {}, "[]", 6, /error unmarshall network config/],
    [
      // Decoded once, by the skeleton's checks, before the IPAM config is loaded.
      "stdin nested deeper than the parser allows",
      {},
      JSON.stringify({
        cniVersion: "1.0.0",
        name: "n",
        deep: JSON.parse(`${"[".repeat(1001)}${"]".repeat(1001)}`),
      }),
      6,
      /^error unmarshall network config: exceeded max depth at line 1, column \d+$/,
    ],
    [
      "network name missing",
      {},
      JSON.stringify({ cniVersion: "1.0.0", ipam: {} }),
      7,
      /missing network name/,
    ],
    [
      "network name with a space",
      {},
      JSON.stringify({ cniVersion: "1.0.0", name: "a b" }),
      7,
      /invalid characters found in network name/,
    ],
    [
      "unsupported cniVersion",
      {},
      JSON.stringify({ cniVersion: "9.9.9", name: "n" }),
      1,
      /incompatible CNI versions/,
    ],
    [
      "CHECK on a 0.3.1 config",
      { CNI_COMMAND: "CHECK" },
      JSON.stringify({ cniVersion: "0.3.1", name: "n" }),
      1,
      /config version does not allow CHECK/,
    ],
    [
      "GC on a 1.0.0 config",
      { CNI_COMMAND: "GC" },
      JSON.stringify({ cniVersion: "1.0.0", name: "n" }),
      1,
      /config version does not allow GC/,
    ],
    [
      "GC without valid attachments",
      { CNI_COMMAND: "GC" },
      JSON.stringify({ cniVersion: "1.1.0", name: "n", ipam: { type: "thereabouts" } }),
      7,
      /attachments/,
    ],
    ["ADD without a pod name", {}, good, 4, /IPAM client initialization error: no pod name/],
  ];
  for (const [name, env, stdin, code, msg] of cases) {
    it(`${name} → code ${code}`, async () => {
      const store = join(dir.path, `env-${name.replaceAll(" ", "-")}.db`);
      const config =
        stdin === good
          ? JSON.stringify({
              ...JSON.parse(good),
              ipam: { ...JSON.parse(good).ipam, local: { path: store } },
            })
          : stdin;
      const out = await run({ command: "ADD", config, env: { ...base, CNI_ARGS: "", ...env } });
      assert.equal(out.code, 1, out.stdout);
      const error = JSON.parse(out.stdout) as { code: number; msg: string };
      assert.equal(error.code, code, error.msg);
      assert.match(error.msg, msg);
      assert.ok(!existsSync(store));
    });
  }
});
