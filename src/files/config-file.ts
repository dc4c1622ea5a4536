// The one reader of files that a configuration names: the flat file (configuration_path and the
// default paths), a kubeconfig and the files it names, the etcd TLS files, `status --config`, the
// controller's kubeconfig, ServiceAccount and cron files. Whoever may write a network
// configuration chooses these paths, and they are read by a root process, possibly the node agent
// that serves every call on the node. So no path may stall the reader or flood its memory: only a
// regular file is read (opening a FIFO blocks, /dev/zero never ends), and at most
// MAX_CONFIG_FILE_BYTES of it. Reading a bounded regular file cannot stall, which bounds these
// reads in time as well.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats, statSync } from "node:fs";
import {
  CNI_CODES,
  CniError,
  ConfigError,
  describe,
  type StoreError,
  type StoreErrorOptions,
  StoreRefusedError,
  StoreSettingsError,
} from "../errors/errors.ts";

/** Far above any real flat file, kubeconfig or certificate bundle. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/**
 * A file that was not read. `code` is the errno name (ENOENT, EACCES, EISDIR…), or ENOTREG for a
 * FIFO, device or socket, EFBIG for a file over the limit, EINVAL for a path with a NUL byte.
 * `reason` says what is wrong with the file, the message adds the path; neither holds any of its
 * content.
 */
export class FileRefusedError extends Error {
  readonly code: string;
  readonly reason: string;
  constructor(code: string, reason: string, path: string) {
    super(`${path}: ${reason}`);
    this.name = "FileRefusedError";
    this.code = code;
    this.reason = reason;
  }
}

/** The file kinds that are refused, by what fstat says. */
function irregularKind(stats: Stats): string | undefined {
  if (stats.isFile()) return undefined;
  if (stats.isFIFO()) return "a FIFO";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isSocket()) return "a socket";
  return "not a regular file";
}

function requireRegular(stats: Stats, path: string): void {
  if (stats.isDirectory()) throw new FileRefusedError("EISDIR", "is a directory", path);
  const kind = irregularKind(stats);
  if (kind !== undefined) throw new FileRefusedError("ENOTREG", `is ${kind}, not a regular file`, path);
  if (stats.size > MAX_CONFIG_FILE_BYTES) throw tooBig(path);
}

function tooBig(path: string): FileRefusedError {
  return new FileRefusedError(
    "EFBIG",
    `is larger than ${MAX_CONFIG_FILE_BYTES} bytes, the limit for a configuration file`,
    path,
  );
}

/** Go's os texts for the usual errno values, which users search for; others as the runtime says. */
const REASONS: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  ENOTDIR: "not a directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EISDIR: "is a directory",
  ELOOP: "too many levels of symbolic links",
  ENAMETOOLONG: "file name too long",
};

function refused(error: unknown, path: string): FileRefusedError {
  if (error instanceof FileRefusedError) return error;
  const code = String((error as { code?: unknown } | null)?.code ?? "EIO");
  return new FileRefusedError(code, REASONS[code] ?? describe(error), path);
}

/**
 * Reads a whole regular file of at most MAX_CONFIG_FILE_BYTES as UTF-8. Throws FileRefusedError
 * for anything else: a missing file, a directory, FIFO, device or socket, a bigger file, an
 * unreadable one. The path is checked before it is opened (a device is never opened: opening some
 * has side effects) and the open file again, in case the path changed in between; the open is
 * non-blocking, so even a FIFO swapped in at the last moment cannot hold it.
 */
export function readConfigFile(path: string): string {
  const text = readIfThere(path);
  if (text === undefined) throw new FileRefusedError("ENOENT", REASONS["ENOENT"]!, path);
  return text;
}

/** readConfigFile, but a missing file is undefined (no error made: the agent reads many such paths). */
function readIfThere(path: string): string | undefined {
  if (path.includes("\0"))
    throw new FileRefusedError("EINVAL", "the path contains a NUL byte", JSON.stringify(path));
  let fd: number;
  try {
    // throwIfNoEntry: a thrown ENOENT costs milliseconds in the compiled binary, and the default
    // flat-file paths are missing on most nodes.
    const stats = statSync(path, { throwIfNoEntry: false });
    if (stats === undefined) return undefined;
    requireRegular(stats, path);
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    throw refused(error, path);
  }
  try {
    const stats = fstatSync(fd);
    requireRegular(stats, path);
    return readBounded(fd, stats.size, path).toString("utf8");
  } catch (error) {
    throw refused(error, path);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads to the end, but never more than the limit: a file may grow after fstat, and some (in
 * /proc, /sys) report size 0 and still have content.
 */
function readBounded(fd: number, size: number, path: string): Buffer {
  let buffer = Buffer.allocUnsafe(Math.min(size, MAX_CONFIG_FILE_BYTES) + 1);
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      if (length > MAX_CONFIG_FILE_BYTES) throw tooBig(path);
      const bigger = Buffer.allocUnsafe(Math.min(buffer.length * 2, MAX_CONFIG_FILE_BYTES + 1));
      buffer.copy(bigger, 0, 0, length);
      buffer = bigger;
    }
    const n = readSync(fd, buffer, length, buffer.length - length, null);
    if (n === 0) return buffer.subarray(0, length);
    length += n;
  }
}

/** Like readConfigFile, but a file that is not there (nor a directory on its way) is undefined. */
export function readOptionalFile(path: string): string | undefined {
  try {
    return readIfThere(path);
  } catch (error) {
    if (error instanceof FileRefusedError && (error.code === "ENOENT" || error.code === "ENOTDIR"))
      return undefined;
    throw error;
  }
}

/** What is wrong with a file that was not read, in Go's words where Go has them (no path). */
export function fileReason(error: unknown): string {
  return refused(error, "").reason;
}

/** Refusals that the configuration must fix: the path names no usable file. */
const CONFIG_FAULTS = new Set([
  "ENOENT",
  "ENOTDIR",
  "EISDIR",
  "ENOTREG",
  "EFBIG",
  "EINVAL",
  "ELOOP",
  "ENAMETOOLONG",
]);

/**
 * One rule for every file that was not read: either the path names no usable file (missing where
 * one is required, a directory, FIFO, device or socket, over the size limit), and the
 * configuration must change, or a regular file could not be read (permission, I/O error).
 */
function namesNoUsableFile(error: unknown): boolean {
  return CONFIG_FAULTS.has(refused(error, "").code);
}

/** The CniError for a file the network configuration names: code 7 or 5 by namesNoUsableFile. */
export function fileError(error: unknown, msg: string, details?: string): CniError {
  return namesNoUsableFile(error)
    ? new ConfigError(msg, details)
    : new CniError(CNI_CODES.ioFailure, msg, details, { cause: error });
}

/**
 * The same rule for a file a store's or a client's settings name (a kubeconfig and the files it
 * names, etcd's TLS files), which serve callers other than the plugin: StoreSettingsError, or
 * StoreRefusedError for a regular file that could not be read.
 */
export function settingsFileError(error: unknown, msg: string, options: StoreErrorOptions = {}): StoreError {
  const withCause = { ...options, cause: error };
  return namesNoUsableFile(error)
    ? new StoreSettingsError(msg, withCause)
    : new StoreRefusedError(msg, withCause);
}
