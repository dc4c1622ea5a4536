// Structured logs through the shipped executable: plugin processes with `log_format: json` (every
// line on stderr and in log_file one JSON object with time, level, msg and the pod, container,
// interface, pool and address it is about; a failed call's line too), the default text lines
// unchanged, an unknown log_format refused with code 7; the node agent with --log-format json (its
// own lines, and the call lines it relays following each call's log_format); the controller with
// --log-format text.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createPod, NS, startApi, startController } from "../controller/support.ts";
import { startAgentProcess } from "../support/agent.ts";
import { add, BINARY, del, netConf, type TempDir, tempDir } from "../support/plugin.ts";

/** Plugins working alone: no node agent at this socket. */
const ALONE = { THEREABOUTS_AGENT_SOCKET: "/nonexistent/agent.sock" };

interface Line {
  readonly time: string;
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** Every line of `text` parsed as one JSON object with time, level and msg (fails on any other line). */
function jsonLines(text: string, what: string): Line[] {
  assert.ok(text.endsWith("\n"), `${what} ends with a newline: ${JSON.stringify(text)}`);
  return text
    .slice(0, -1)
    .split("\n")
    .map((line) => {
      let parsed: Line;
      try {
        parsed = JSON.parse(line) as Line;
      } catch {
        assert.fail(`${what}: not a JSON line: ${line}`);
      }
      assert.equal(typeof parsed, "object");
      assert.ok(!Number.isNaN(Date.parse(parsed.time)), `${what}: time ${parsed.time}`);
      assert.match(parsed.level, /^(debug|verbose|error|info)$/, `${what}: level`);
      assert.equal(typeof parsed.msg, "string", `${what}: msg`);
      return parsed;
    });
}

describe("structured logs (log_format json, --log-format)", () => {
  let dir: TempDir;
  before(() => {
    dir = tempDir("thereabouts-logs-");
  });
  after(() => dir.remove());

  const ipam = (name: string, extra: Record<string, unknown> = {}) => ({
    type: "thereabouts",
    range: "192.0.2.0/30",
    datastore: "local",
    local: { path: join(dir.path, `${name}.db`) },
    log_file: join(dir.path, `${name}.log`),
    log_level: "debug",
    ...extra,
  });

  it("a plugin with log_format json writes JSON lines to stderr and log_file, with pod, container, interface, pool and address", async () => {
    const config = netConf(ipam("json", { log_format: "json" }), "1.0.0");
    const call = (pod: string) => ({ config, pod, containerId: `ctr-${pod}`, ifName: "net1", env: ALONE });
    const first = await add(call("a"));
    assert.equal(first.code, 0, first.stdout);
    assert.equal((await add(call("b"))).code, 0);
    const full = await add(call("c")); // a /30 hands out two addresses
    assert.equal(full.code, 1);
    assert.equal(JSON.parse(full.stdout).code, 100);
    const released = await del(call("a"));
    assert.equal(released.code, 0, released.stdout);

    const [allocated] = jsonLines(first.stderr, "ADD a stderr");
    assert.deepEqual(
      { ...allocated, time: undefined },
      {
        time: undefined,
        level: "debug",
        msg: "default/a net1: 192.0.2.1 from pool 192.0.2.0-30",
        pod: "default/a",
        container: "ctr-a",
        interface: "net1",
        pool: "192.0.2.0-30",
        address: "192.0.2.1",
      },
    );
    const failure = jsonLines(full.stderr, "failed ADD stderr").at(-1)!;
    assert.equal(failure.level, "error");
    assert.match(failure.msg, /^CNI ADD failed \(code 100\): Could not allocate IP in range/);
    assert.deepEqual(
      [failure["code"], failure["pod"], failure["container"], failure["interface"]],
      [100, "default/c", "ctr-c", "net1"],
    );
    const [freed] = jsonLines(released.stderr, "DEL stderr");
    assert.deepEqual(
      [freed?.msg, freed?.["address"], freed?.["pool"], freed?.["pod"], freed?.["container"]],
      ["released 192.0.2.1 of default/a", "192.0.2.1", "192.0.2.0-30", "default/a", "ctr-a"],
    );
    // The log file has every line the calls logged (the failure line is stderr's, as in text).
    const file = jsonLines(readFileSync(join(dir.path, "json.log"), "utf8"), "log_file");
    assert.deepEqual(
      file.map((l) => `${l.level} ${l["pod"]} ${l["address"] ?? ""}`),
      ["debug default/a 192.0.2.1", "debug default/b 192.0.2.2", "debug default/a 192.0.2.1"],
    );
  });

  it("text stays the default: Whereabouts' lines, unchanged", async () => {
    const config = netConf(ipam("text"), "1.0.0");
    const out = await add({ config, pod: "a", containerId: "ctr-a", ifName: "net1", env: ALONE });
    assert.equal(out.code, 0, out.stdout);
    assert.match(
      out.stderr,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[debug\] default\/a net1: 192\.0\.2\.1 from pool 192\.0\.2\.0-30\n$/,
    );
    assert.equal(readFileSync(join(dir.path, "text.log"), "utf8"), out.stderr);
  });

  it("an unknown log_format is refused with code 7 naming the key and the values, before anything is written", async () => {
    const config = netConf(ipam("bad", { log_format: "yaml" }), "1.0.0");
    const out = await add({ config, pod: "a", containerId: "ctr-a", ifName: "net1", env: ALONE });
    assert.equal(out.code, 1);
    assert.deepEqual(JSON.parse(out.stdout), {
      code: 7,
      msg: 'invalid log_format "yaml": expected one of text, json',
    });
    assert.match(
      out.stderr,
      /^CNI ADD failed \(code 7\)/,
      "the failure line is text: the format was not known",
    );
    assert.equal(existsSync(join(dir.path, "bad.db")), false, "no store opened");
    assert.equal(existsSync(join(dir.path, "bad.log")), false, "no log written");
  });

  it("the agent with --log-format json: its own lines JSON, and the lines of a json call it serves", async () => {
    const agent = await startAgentProcess(undefined, [
      "--log-format",
      "json",
      "--metrics-listen",
      "127.0.0.1:0",
    ]);
    let code: number | null = null;
    try {
      const config = netConf(ipam("agent", { log_format: "json" }), "1.0.0");
      const out = await add({ config, pod: "x", containerId: "ctr-x", ifName: "net1", env: agent.env });
      assert.equal(out.code, 0, out.stdout);
      const [line] = jsonLines(out.stderr, "ADD through the agent");
      assert.deepEqual(
        [line?.["pod"], line?.["address"], line?.["container"]],
        ["default/x", "192.0.2.1", "ctr-x"],
      );
      const text = netConf(ipam("agent-text"), "1.0.0");
      const plain = await add({
        config: text,
        pod: "y",
        containerId: "ctr-y",
        ifName: "net1",
        env: agent.env,
      });
      assert.match(plain.stderr, /^\S+Z \[debug\] default\/y net1: /, "a text call's lines stay text");
    } finally {
      code = await agent.stop();
    }
    assert.equal(code, 0);
    const own = jsonLines(agent.stderr(), "agent stderr");
    assert.equal(own.length, 2, agent.stderr());
    const [serving, stopping] = own as [Line, Line];
    assert.equal(serving.level, "info");
    assert.equal(serving["socket"], agent.socket);
    assert.match(String(serving["metrics"]), /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    assert.match(String(serving["version"]), /^\d+\.\d+\.\d+/);
    assert.equal(stopping["signal"], "SIGTERM");
  });

  it("agent and controller refuse an unknown --log-format before they start", () => {
    const socket = join(dir.path, "never", "agent.sock");
    for (const args of [
      ["agent", "--socket", socket, "--log-format", "yaml"],
      ["controller", "--listen", "127.0.0.1:0", "--log-format", "JSON"],
    ]) {
      const out = spawnSync(BINARY.file, args, { encoding: "utf8", timeout: 10_000 });
      assert.equal(out.status, 1, `${args[0]}: ${out.stderr}`);
      assert.match(out.stderr, /--log-format "(yaml|JSON)": expected text or json\n$/);
    }
    assert.equal(existsSync(socket), false, "the agent did not start");
  });

  it("the controller with --log-format text: one text line per entry, its facts as key=value", async () => {
    const api = await startApi();
    const controller = await startController(api, ["--log-format", "text"]);
    try {
      await createPod(api, "default", "p");
      const started = await controller.waitForLog((l) => / \[info\] controller started /.test(l.msg));
      assert.equal(started.level, "raw", "not JSON");
      assert.match(
        started.msg,
        new RegExp(
          `^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ \\[info\\] controller started version=\\S+ listening=${controller.url.replaceAll(".", "\\.")} .*namespace=${NS} `,
        ),
      );
      await controller.waitForLog((l) => / \[info\] became the leader /.test(l.msg));
      assert.ok(controller.logs.every((l) => l.level === "raw" && /^\S+Z \[(info|error)\] /.test(l.msg)));
    } finally {
      await controller.kill();
      await api.stop();
    }
  });
});
