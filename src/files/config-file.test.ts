import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CniError, ConfigError, StoreRefusedError, StoreSettingsError } from "../errors/errors.ts";
import {
  FileRefusedError,
  fileError,
  fileReason,
  MAX_CONFIG_FILE_BYTES,
  readConfigFile,
  readOptionalFile,
  settingsFileError,
} from "./config-file.ts";

function refusedWith(code: string, reason: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof FileRefusedError, String(error));
    assert.equal(error.code, code);
    assert.match(error.reason, reason);
    return true;
  };
}

describe("readConfigFile()", () => {
  let dir: string;
  let socket: Server;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "thereabouts-config-file-"));
    execFileSync("mkfifo", [join(dir, "fifo")]);
    mkdirSync(join(dir, "dir"));
    socket = createServer();
    await new Promise<void>((resolve) => socket.listen(join(dir, "sock"), resolve));
  });
  after(async () => {
    await new Promise((resolve) => socket.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads a regular file, through a symlink too (ConfigMap mounts are symlinks)", () => {
    writeFileSync(join(dir, "a.conf"), '{"range": "10.0.0.0/24"}');
    symlinkSync(join(dir, "a.conf"), join(dir, "link.conf"));
    assert.equal(readConfigFile(join(dir, "a.conf")), '{"range": "10.0.0.0/24"}');
    assert.equal(readConfigFile(join(dir, "link.conf")), '{"range": "10.0.0.0/24"}');
  });

  it("refuses a FIFO at once, without waiting for a writer", () => {
    const started = performance.now();
    assert.throws(
      () => readConfigFile(join(dir, "fifo")),
      refusedWith("ENOTREG", /^is a FIFO, not a regular file$/),
    );
    assert.ok(performance.now() - started < 500);
  });

  it("refuses devices, sockets and directories", () => {
    assert.throws(
      () => readConfigFile("/dev/zero"),
      refusedWith("ENOTREG", /^is a character device, not a regular file$/),
    );
    assert.throws(() => readConfigFile(join(dir, "sock")), refusedWith("ENOTREG", /^is a socket/));
    assert.throws(() => readConfigFile(join(dir, "dir")), refusedWith("EISDIR", /^is a directory$/));
  });

  it("reads up to the size limit and refuses a byte more", () => {
    writeFileSync(join(dir, "limit"), "x".repeat(MAX_CONFIG_FILE_BYTES));
    writeFileSync(join(dir, "over"), "x".repeat(MAX_CONFIG_FILE_BYTES + 1));
    assert.equal(readConfigFile(join(dir, "limit")).length, MAX_CONFIG_FILE_BYTES);
    assert.throws(
      () => readConfigFile(join(dir, "over")),
      refusedWith("EFBIG", /^is larger than 1048576 bytes/),
    );
  });

  it("reads a file that reports size 0 but has content (procfs), still bounded", () => {
    assert.match(readConfigFile("/proc/self/status"), /^Name:/);
  });

  it("refuses a missing file and a path with a NUL byte, without a thrown system error", () => {
    assert.throws(
      () => readConfigFile(join(dir, "missing")),
      refusedWith("ENOENT", /^no such file or directory$/),
    );
    assert.throws(() => readConfigFile("/etc/x\0y"), refusedWith("EINVAL", /NUL byte/));
  });

  it("names the path in the message, never the content", () => {
    writeFileSync(join(dir, "big-secret"), `s3cret ${"y".repeat(MAX_CONFIG_FILE_BYTES)}`);
    assert.throws(
      () => readConfigFile(join(dir, "big-secret")),
      (error: unknown) =>
        error instanceof Error &&
        error.message.startsWith(join(dir, "big-secret")) &&
        !/s3cret/.test(error.message),
    );
  });
});

describe("readOptionalFile()", () => {
  it("is undefined for a missing file or a missing directory on the way, and refuses the rest", () => {
    assert.equal(readOptionalFile("/nonexistent/whereabouts.conf"), undefined);
    assert.equal(readOptionalFile("/etc/hostname/x"), undefined);
    assert.throws(() => readOptionalFile("/dev/zero"), FileRefusedError);
  });
});

describe("fileError(), settingsFileError()", () => {
  it("is code 7 when the path names no usable file, 5 when a regular file cannot be read", () => {
    for (const code of ["ENOENT", "ENOTDIR", "EISDIR", "ENOTREG", "EFBIG", "EINVAL"]) {
      const error = fileError(new FileRefusedError(code, "why", "/p"), "msg", "details");
      assert.ok(error instanceof ConfigError, code);
      assert.deepEqual([error.code, error.message, error.details], [7, "msg", "details"]);
    }
    for (const code of ["EACCES", "EIO"]) {
      const error = fileError(Object.assign(new Error(`${code}: x`), { code }), "msg");
      assert.ok(error instanceof CniError && !(error instanceof ConfigError), code);
      assert.equal(error.code, 5);
    }
  });

  it("settingsFileError() follows the same rule with store error kinds: settings, or refused", () => {
    for (const code of ["ENOENT", "ENOTDIR", "EISDIR", "ENOTREG", "EFBIG", "EINVAL"]) {
      const cause = new FileRefusedError(code, "why", "/p");
      const error = settingsFileError(cause, "msg", { details: "details", facts: { settings: "/k" } });
      assert.ok(error instanceof StoreSettingsError, code);
      assert.deepEqual(
        [error.message, error.details, error.facts, error.cause],
        ["msg", "details", { settings: "/k" }, cause],
      );
    }
    for (const code of ["EACCES", "EIO"]) {
      const error = settingsFileError(Object.assign(new Error(`${code}: x`), { code }), "msg");
      assert.ok(error instanceof StoreRefusedError, code);
      assert.equal(error.details, undefined);
    }
  });

  it("fileReason() uses Go's words for the usual errno values", () => {
    assert.equal(
      fileReason(Object.assign(new Error("EACCES: permission denied, open '/x'"), { code: "EACCES" })),
      "permission denied",
    );
    assert.equal(
      fileReason(new FileRefusedError("ENOTREG", "is a FIFO, not a regular file", "/f")),
      "is a FIFO, not a regular file",
    );
  });
});
