import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
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
    const log = createLogger("debug", { stderr: (l) => lines.push(l), file }, AT);
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
    createLogger("debug", { stderr: (l) => lines.push(l), file: link }, AT).debug("hello");
    assert.equal(readFileSync(target, "utf8"), "untouched\n");
    assert.equal(lines.length, 1, "stderr still has the line");
  });

  it("never blocks on a FIFO at the log path, and skips levels below the configured one", () => {
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const lines: string[] = [];
    const log = createLogger("verbose", { stderr: (l) => lines.push(l), file: fifo }, AT);
    const started = performance.now();
    log.debug("skipped");
    log.verbose("kept");
    assert.ok(performance.now() - started < 500);
    assert.deepEqual(lines, ["2024-05-01T10:00:00Z [verbose] kept\n"]);
  });
});
