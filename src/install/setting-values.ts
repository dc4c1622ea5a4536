// Decoders of single values, shared by the installer's settings (settings.ts) and its Multus
// options (multus-settings.ts): each refusal names the variable or flag and what a good value
// looks like.
import { isAbsolute, posix } from "node:path";
import { quote } from "../errors/message.ts";

/** An absolute path without a trailing slash (Go's default CNI_BIN_DIR has one). */
export function absolutePath(what: string, value: string): string {
  if (value.includes("\0")) throw new Error(`${what} contains a NUL byte`);
  if (!isAbsolute(value)) throw new Error(`${what} ${quote(value)} must be an absolute path`);
  const normal = posix.normalize(value);
  return normal.length > 1 ? normal.replace(/\/+$/, "") : normal;
}

/** A file name in a host directory: no path, nothing hidden, nothing a shell or runtime trips on. */
export const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$/;

/** RFC 1123 label: what Kubernetes accepts as a namespace name. */
export const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** What a namespace refusal says a good value looks like. */
export const NAMESPACE_RULE = 'lowercase letters, digits and "-", at most 63';
