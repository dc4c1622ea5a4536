// Replacing files on a real filesystem: the modes asked for whatever the umask, the old inode left
// to whoever holds it, an identical file left alone, a symlink replaced rather than followed, no
// temporary file left behind.
import assert from "node:assert/strict";
import {
  chmodSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { copyFileAtomically, removeStaleTemporaries, writeFileAtomically } from "./replace-file.ts";

describe("replacing a file atomically", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "thereabouts-replace-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const mode = (path: string) => lstatSync(path).mode & 0o7777;

  it("writes with the mode asked for, and leaves an identical file untouched", () => {
    const path = join(dir, "kubeconfig");
    const oldUmask = process.umask(0o077);
    try {
      assert.equal(writeFileAtomically(path, "one", 0o644), "written");
    } finally {
      process.umask(oldUmask);
    }
    assert.equal(mode(path), 0o644);
    assert.equal(readFileSync(path, "utf8"), "one");
    const first = statSync(path);
    assert.equal(writeFileAtomically(path, "one", 0o644), "unchanged");
    const again = statSync(path);
    assert.equal(again.ino, first.ino);
    assert.equal(again.mtimeMs, first.mtimeMs);

    assert.equal(writeFileAtomically(path, "one", 0o600), "written", "a different mode is rewritten");
    assert.equal(mode(path), 0o600);
    assert.notEqual(statSync(path).ino, first.ino, "replaced, not changed in place");
    const held = statSync(path).ino;
    assert.equal(writeFileAtomically(path, "two", 0o600), "written");
    assert.equal(readFileSync(path, "utf8"), "two");
    assert.notEqual(statSync(path).ino, held);
    assert.deepEqual(readdirSync(dir), ["kubeconfig"], "no temporary file left");
  });

  it("replaces a symlink with a regular file, leaving the file it pointed at alone", () => {
    const elsewhere = join(dir, "elsewhere");
    writeFileSync(elsewhere, "theirs");
    const path = join(dir, "linked");
    symlinkSync(elsewhere, path);
    assert.equal(writeFileAtomically(path, "theirs", 0o644), "written", "a symlink is never up to date");
    assert.ok(lstatSync(path).isFile());
    assert.equal(readFileSync(elsewhere, "utf8"), "theirs");
  });

  it("copies an executable with mode 0755, and leaves the same content alone", () => {
    const source = join(dir, "source");
    writeFileSync(source, Buffer.alloc(3 * 1024 * 1024 + 17, 7));
    chmodSync(source, 0o700);
    const target = join(dir, "plugin");
    writeFileSync(target, "#!/bin/sh\necho old\n");
    const oldInode = statSync(target).ino;
    assert.equal(copyFileAtomically(source, target, 0o755), "written");
    assert.equal(mode(target), 0o755);
    assert.notEqual(statSync(target).ino, oldInode);
    assert.ok(readFileSync(target).equals(readFileSync(source)));
    const copied = statSync(target);
    assert.equal(copyFileAtomically(source, target, 0o755), "unchanged");
    assert.equal(statSync(target).ino, copied.ino);
    assert.equal(statSync(target).mtimeMs, copied.mtimeMs);

    // Same size, one byte different in the last chunk: copied again.
    const changed = readFileSync(source);
    changed[changed.length - 1] = 8;
    writeFileSync(source, changed);
    assert.equal(copyFileAtomically(source, target, 0o755), "written");
    assert.ok(readFileSync(target).equals(changed));
  });

  it("stale temporaries of the targets are removed, fresh ones and others' files are not", () => {
    const sub = mkdtempSync(join(dir, "bin-"));
    const stale = join(sub, ".thereabouts.thereabouts-123-abcdef01.tmp");
    const fresh = join(sub, ".whereabouts.thereabouts-124-abcdef02.tmp");
    const foreign = join(sub, ".macvlan.thereabouts-125-abcdef03.tmp");
    const other = join(sub, "bridge");
    for (const path of [stale, fresh, foreign, other]) writeFileSync(path, "x");
    const now = Date.now();
    const old = new Date(now - 3_600_000);
    for (const path of [stale, foreign, other]) utimesSync(path, old, old);
    const removed = removeStaleTemporaries(
      sub,
      [join(sub, "thereabouts"), join(sub, "whereabouts")],
      now,
      600_000,
    );
    assert.deepEqual(removed, [stale]);
    assert.deepEqual(
      readdirSync(sub).sort(),
      [foreign, fresh, other].map((p) => p.slice(sub.length + 1)).sort(),
    );
  });
});
