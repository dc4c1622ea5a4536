import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { daemonLog } from "./line.ts";
import { createLogger, oneLine } from "./logger.ts";

const AT = () => new Date("2024-05-01T10:00:00.123Z");

describe("oneLine()", () => {
  it("escapes line breaks, terminal escapes and other controls", () => {
    assert.equal(oneLine("a\nb\rc\td"), "a\\nb\\rc\\td");
    assert.equal(oneLine("x\u001b[31my\u0000z\u007f\u0085\u2028"), "x\\x1b[31my\\x00z\\x7f\\x85\\u2028");
    assert.equal(oneLine("plain text, ünïcode 😀"), "plain text, ünïcode 😀");
  });

  it("bounds a line at 4 KiB", () => {
    assert.equal(oneLine("x".repeat(100_000)).length, 4096);
  });
});

describe("createLogger()", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "thereabouts-logger-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("writes one line per message to stderr and the log file (created 0600), whatever the message holds", () => {
    const lines: string[] = [];
    const file = join(dir, "plugin.log");
    const log = createLogger("debug", { stderr: (l) => lines.push(l), file }, { now: AT });
    log.debug("pod default/evil\n2024-05-01T10:00:00Z [error] forged");
    log.error("second");
    assert.deepEqual(lines, [
      "2024-05-01T10:00:00Z [debug] pod default/evil\\n2024-05-01T10:00:00Z [error] forged\n",
      "2024-05-01T10:00:00Z [error] second\n",
    ]);
    assert.equal(readFileSync(file, "utf8"), lines.join(""));
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it("does not follow a symlink at the log path, and the call goes on", () => {
    const target = join(dir, "target");
    writeFileSync(target, "untouched\n");
    const link = join(dir, "link.log");
    symlinkSync(target, link);
    const lines: string[] = [];
    createLogger("debug", { stderr: (l) => lines.push(l), file: link }, { now: AT }).debug("hello");
    assert.equal(readFileSync(target, "utf8"), "untouched\n");
    assert.equal(lines.length, 1, "stderr still has the line");
  });

  it("never blocks on a FIFO at the log path, and skips levels below the configured one", () => {
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const lines: string[] = [];
    const log = createLogger("verbose", { stderr: (l) => lines.push(l), file: fifo }, { now: AT });
    const started = performance.now();
    log.debug("skipped");
    log.verbose("kept");
    assert.ok(performance.now() - started < 500);
    assert.deepEqual(lines, ["2024-05-01T10:00:00Z [verbose] kept\n"]);
  });
});

describe("createLogger() with log_format json", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "thereabouts-logger-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("writes one JSON object per line with time, level, msg, the call's fields and the line's own", () => {
    const lines: string[] = [];
    const file = join(dir, "json.log");
    const log = createLogger(
      "debug",
      { stderr: (l) => lines.push(l), file },
      { format: "json", fields: { pod: "ns/a", container: "c1", interface: "eth0" }, now: AT },
    );
    log.debug("ns/a eth0: 10.0.0.5 from pool p", { pool: "p", address: "10.0.0.5" });
    log.error("plain");
    assert.equal(readFileSync(file, "utf8"), lines.join(""));
    assert.deepEqual(
      lines.map((l) => JSON.parse(l)),
      [
        {
          time: "2024-05-01T10:00:00.123Z",
          level: "debug",
          msg: "ns/a eth0: 10.0.0.5 from pool p",
          pod: "ns/a",
          container: "c1",
          interface: "eth0",
          pool: "p",
          address: "10.0.0.5",
        },
        {
          time: "2024-05-01T10:00:00.123Z",
          level: "error",
          msg: "plain",
          pod: "ns/a",
          container: "c1",
          interface: "eth0",
        },
      ],
    );
  });

  it("keeps every entry one line of valid JSON whatever the values hold, and never lets a field replace time, level or msg", () => {
    const lines: string[] = [];
    const evil = 'x"\n}\u2028\u0085\u001b[31m{"level":"panic"';
    const log = createLogger(
      "debug",
      { stderr: (l) => lines.push(l) },
      { format: "json", fields: { pod: evil, level: "forged", msg: "forged" }, now: AT },
    );
    log.verbose(`msg ${evil}\n2024-05-01T10:00:00Z [error] forged`, { time: "forged" });
    assert.equal(lines.length, 1);
    const [line] = lines as [string];
    assert.equal(line.indexOf("\n"), line.length - 1, "one line");
    assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u2028\u2029](?!$)/, "no raw control character");
    const record = JSON.parse(line);
    assert.deepEqual(
      [record.time, record.level, record.pod],
      ["2024-05-01T10:00:00.123Z", "verbose", evil],
      "values survive as values",
    );
    assert.ok(record.msg.startsWith("msg x"));
  });

  it("bounds each string value at 4 KiB and skips levels below the configured one", () => {
    const lines: string[] = [];
    const log = createLogger("verbose", { stderr: (l) => lines.push(l) }, { format: "json", now: AT });
    log.debug("skipped");
    log.error("y".repeat(100_000), { pool: "p".repeat(100_000) });
    assert.equal(lines.length, 1);
    const record = JSON.parse(lines[0]!);
    assert.equal(record.msg.length, 4096);
    assert.equal(record.pool.length, 4096);
  });
});

describe("daemonLog()", () => {
  it("text: Whereabouts' line with the fields as key=value, quoted when they are not one word", () => {
    const lines: string[] = [];
    const log = daemonLog("text", (l) => lines.push(l), AT);
    log("info", "released", {
      pod: "ns/a",
      addresses: ["10.0.0.5"],
      why: "not found",
      n: 2,
      none: undefined,
    });
    assert.deepEqual(lines, [
      '2024-05-01T10:00:00Z [info] released pod=ns/a addresses=["10.0.0.5"] why="not found" n=2\n',
    ]);
  });

  it("json: one object per line", () => {
    const lines: string[] = [];
    daemonLog("json", (l) => lines.push(l), AT)("error", "boom", { error: "a\nb" });
    assert.deepEqual(JSON.parse(lines[0]!), {
      time: "2024-05-01T10:00:00.123Z",
      level: "error",
      msg: "boom",
      error: "a\nb",
    });
  });
});
