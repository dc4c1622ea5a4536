// Replacing a file on the host that others may be using at that moment: the runtime may exec the
// plugin, a plugin may read the kubeconfig or flat file. So nothing is ever written in place: the
// new content goes to a temporary file in the same directory (same filesystem), gets its mode and
// is synced to disk, then is renamed over the old name. A reader sees the old file or the new one,
// whole; a process running the old executable keeps its inode (writing into a running executable
// fails with ETXTBSY, and a delete-then-copy would leave a moment with no file at all). A file
// that already holds the content with the mode is left alone, inode and mtime unchanged.
import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  copyFileSync,
  fchmodSync,
  fsyncSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { readConfigFile } from "../files/config-file.ts";

export type Outcome = "written" | "unchanged";

/** The temporary files of this module, named after their target: `.<name>.thereabouts-<pid>-<hex>.tmp`. */
const TEMP = /^\.(.+)\.thereabouts-\d+-[0-9a-f]+\.tmp$/;

function tempPathFor(path: string): string {
  return join(
    dirname(path),
    `.${basename(path)}.thereabouts-${process.pid}-${randomBytes(4).toString("hex")}.tmp`,
  );
}

function lstatOrUndefined(path: string): Stats | undefined {
  return lstatSync(path, { throwIfNoEntry: false });
}

/** A regular file (not a symlink to one) with exactly these permission bits. */
function regularWithMode(stats: Stats | undefined, mode: number): stats is Stats {
  return stats?.isFile() === true && (stats.mode & 0o7777) === mode;
}

/** Syncs a directory, so the rename in it survives a crash; best effort (not every filesystem can). */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    fsyncSync(fd);
  } catch {
    // The file is in place either way; only its durability across a power cut is at stake.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Writes the temporary file with `fill` (which must create it exclusively), gives it `mode`,
 * syncs it and renames it over `path`. The temporary file is removed on any failure.
 */
function replace(path: string, mode: number, fill: (temp: string) => void): void {
  const temp = tempPathFor(path);
  try {
    fill(temp);
    const fd = openSync(temp, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      fchmodSync(fd, mode);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  syncDirectory(dirname(path));
}

/** Puts `content` at `path` with `mode`, unless the file there holds exactly that already. */
export function writeFileAtomically(path: string, content: string, mode: number): Outcome {
  if (regularWithMode(lstatOrUndefined(path), mode) && readOrUndefined(path) === content) return "unchanged";
  replace(path, mode, (temp) => {
    // O_EXCL: never through a file or symlink someone planted at the temporary name.
    const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      const bytes = Buffer.from(content);
      for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
    } finally {
      closeSync(fd);
    }
  });
  return "written";
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readConfigFile(path);
  } catch {
    return undefined;
  }
}

/** Puts a copy of `source` at `path` with `mode`, unless the file there is the same already. */
export function copyFileAtomically(source: string, path: string, mode: number): Outcome {
  const target = lstatOrUndefined(path);
  if (regularWithMode(target, mode) && sameContent(statSync(source), source, target, path))
    return "unchanged";
  replace(path, mode, (temp) => copyFileSync(source, temp, constants.COPYFILE_EXCL));
  return "written";
}

const CHUNK = 1024 * 1024;

/** Byte for byte, in chunks: an executable is ~100 MB, and two of it need not sit in memory. */
export function sameContent(aStats: Stats, a: string, bStats: Stats, b: string): boolean {
  if (aStats.dev === bStats.dev && aStats.ino === bStats.ino) return true;
  if (aStats.size !== bStats.size) return false;
  const fa = openSync(a, constants.O_RDONLY);
  try {
    const fb = openSync(b, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const ba = Buffer.allocUnsafe(CHUNK);
      const bb = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        const na = readFully(fa, ba);
        const nb = readFully(fb, bb);
        if (na !== nb || !ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
        if (na < CHUNK) return true;
      }
    } finally {
      closeSync(fb);
    }
  } finally {
    closeSync(fa);
  }
}

/** Fills `buffer` unless the file ends first; returns how much was read. */
function readFully(fd: number, buffer: Buffer): number {
  let length = 0;
  while (length < buffer.length) {
    const n = readSync(fd, buffer, length, buffer.length - length, null);
    if (n === 0) break;
    length += n;
  }
  return length;
}

/**
 * Removes the temporary files a killed installer left for these targets (an executable's is
 * ~100 MB), once they are older than `olderThanMs`: a younger one may be another installer's
 * copy in progress (two DaemonSet pods can overlap on a node during a rollout). Returns the paths
 * removed.
 */
export function removeStaleTemporaries(
  dir: string,
  targets: readonly string[],
  now: number,
  olderThanMs: number,
): string[] {
  const names = new Set(targets.map((target) => basename(target)));
  const removed: string[] = [];
  for (const entry of readdirSync(dir)) {
    const of = TEMP.exec(entry)?.[1];
    if (of === undefined || !names.has(of)) continue;
    const path = join(dir, entry);
    const stats = lstatOrUndefined(path);
    if (stats === undefined || !stats.isFile() || now - stats.mtimeMs < olderThanMs) continue;
    try {
      unlinkSync(path);
      removed.push(path);
    } catch {
      // Gone already, or not ours to remove: nothing to do.
    }
  }
  return removed;
}
