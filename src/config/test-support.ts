// Helpers for the config tests: an in-memory file system and config builders.
import assert from "node:assert/strict";
import { CniError } from "../errors/errors.ts";
import { formatCidr, formatIP } from "../ip/index.ts";
import type { ReadFile } from "./flat-file.ts";
import { type ConfigSources, loadIpamConfig } from "./load.ts";
import type { IpRange } from "./types.ts";

export interface FakeFs {
  /** path → content */
  readonly files?: Readonly<Record<string, string>>;
  /** paths that are directories */
  readonly dirs?: readonly string[];
  /** paths that exist but cannot be read */
  readonly denied?: readonly string[];
}

function fsError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

export function fakeReadFile(fs: FakeFs): ReadFile & { readonly reads: string[] } {
  const reads: string[] = [];
  const read = (path: string) => {
    reads.push(path);
    if (fs.dirs?.includes(path)) throw fsError("EISDIR", "EISDIR: illegal operation on a directory, read");
    if (fs.denied?.includes(path)) throw fsError("EACCES", `EACCES: permission denied, open '${path}'`);
    return fs.files?.[path];
  };
  return Object.assign(read, { reads });
}

/** A request config around `ipam` (an object is stringified; a string is used as the whole stdin). */
export function netConf(ipam: Record<string, unknown>, top: Record<string, unknown> = {}): string {
  return JSON.stringify({
    cniVersion: "0.3.1",
    name: "net1",
    ...top,
    ipam: { type: "whereabouts", ...ipam },
  });
}

export function sources(
  stdin: string,
  options: FakeFs & { cniArgs?: string; extra?: string[] } = {},
): ConfigSources {
  return {
    stdin,
    cniArgs: options.cniArgs ?? "",
    readFile: fakeReadFile(options),
    ...(options.extra === undefined ? {} : { extraFlatFilePaths: options.extra }),
  };
}

export function load(ipam: Record<string, unknown>, options: FakeFs & { cniArgs?: string } = {}) {
  return loadIpamConfig(sources(netConf(ipam), options));
}

/** A range rule in text form, for readable assertions. */
export function rangeText(r: IpRange) {
  const ip = (value: bigint | undefined) =>
    value === undefined ? undefined : formatIP({ family: r.range.family, value });
  return { range: formatCidr(r.range), start: ip(r.start), end: ip(r.end), exclude: r.excludeText };
}

/** Asserts that `fn` throws a CniError with `code` and a message matching `msg`. */
export function assertCniError(fn: () => unknown, code: number, msg: RegExp | string): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof CniError, `expected a CniError, got ${String(caught)}`);
  if (typeof msg === "string") assert.equal(caught.message, msg);
  else assert.match(caught.message, msg);
  assert.equal(caught.code, code, `code of "${caught.message}"`);
}
