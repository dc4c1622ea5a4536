// The flat file (whereabouts.conf): a bare `ipam` object installed on each node, merged under the
// stdin config. Searched in Whereabouts' order (configuration_path, then the default paths listed
// in README's configuration reference, then the caller's extra paths); the first existing file
// wins. Unlike Go (since v0.6.2) a missing flat file is not an error (README, Differences item 7).
import { type CniError, ConfigError } from "../errors/errors.ts";
import { fileError, fileReason } from "../files/config-file.ts";
import { fields, jsonKind } from "./decode.ts";
import { decodeFailure } from "./errors.ts";
import { decodeIpam, type IpamInput } from "./ipam-input.ts";
import { isJsonObject, parseJson } from "./json-parse.ts";

const FLAT_FILE_NAME = "whereabouts.conf";

export const DEFAULT_FLAT_FILE_PATHS = [
  "/etc/kubernetes/cni/net.d/whereabouts.d/whereabouts.conf",
  "/etc/cni/net.d/whereabouts.d/whereabouts.conf",
  "/host/etc/cni/net.d/whereabouts.d/whereabouts.conf",
] as const;

const CONFIGURATION_PATH = "configuration_path";

/** Returns the text, or undefined when the file does not exist; throws on any other failure. */
export type ReadFile = (path: string) => string | undefined;

export interface FlatFile {
  readonly path: string;
  readonly ipam: IpamInput;
}

function isDirectoryError(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "EISDIR";
}

/**
 * Go's texts for the two ways an existing file can fail to read; the code follows fileError's
 * rule (7: the path names no usable file, 5: a regular file could not be read).
 */
function readError(path: string, error: unknown, key: string | undefined): CniError {
  const details = key === undefined ? undefined : `${key} names it`;
  if (isDirectoryError(error)) {
    return fileError(
      error,
      `LoadIPAMConfig Flatfile (${path}) - io.ReadAll error: read ${path}: is a directory`,
      details,
    );
  }
  return fileError(
    error,
    `error opening flat configuration file @ ${path} with: ${fileReason(error)}`,
    details,
  );
}

function readCandidate(readFile: ReadFile, path: string, key?: string): string | undefined {
  try {
    return readFile(path);
  } catch (error) {
    throw readError(path, error, key);
  }
}

/** `configuration_path` may name the file itself or the directory holding whereabouts.conf. */
function readConfigurationPath(readFile: ReadFile, path: string): { path: string; text: string } | undefined {
  try {
    const text = readFile(path);
    return text === undefined ? undefined : { path, text };
  } catch (error) {
    if (!isDirectoryError(error)) throw readError(path, error, CONFIGURATION_PATH);
    const inside = `${path.replace(/\/+$/, "")}/${FLAT_FILE_NAME}`;
    const text = readCandidate(readFile, inside, CONFIGURATION_PATH);
    return text === undefined ? undefined : { path: inside, text };
  }
}

/**
 * Finds and decodes the flat file: `configurationPath` (file or directory) first, then the default
 * paths, then `extraPaths`. Returns undefined when none exists.
 */
export function loadFlatFile(
  readFile: ReadFile,
  configurationPath: string | undefined,
  extraPaths: readonly string[] = [],
): FlatFile | undefined {
  let found =
    configurationPath === undefined ? undefined : readConfigurationPath(readFile, configurationPath);
  for (const path of [...DEFAULT_FLAT_FILE_PATHS, ...extraPaths]) {
    if (found !== undefined) break;
    const text = readCandidate(readFile, path);
    if (text !== undefined) found = { path, text };
  }
  if (found === undefined) return undefined;
  return { path: found.path, ipam: decodeFlatFile(found.path, found.text) };
}

/** Decodes flat-file text (a bare ipam object). Syntax errors are code 6, type errors code 7. */
function decodeFlatFile(path: string, text: string): IpamInput {
  let doc: ReturnType<typeof parseJson>;
  try {
    doc = parseJson(text);
  } catch (error) {
    decodeFailure(`LoadIPAMConfig Flatfile (${path}) - JSON Parsing Error: `, error);
  }
  if (!isJsonObject(doc)) {
    throw new ConfigError(`invalid flat file ${path}: expected a JSON object, got ${jsonKind(doc)}`);
  }
  // Values are not quoted: configuration_path may name any file on the node, and its content must
  // not reach a pod's events through our messages.
  return decodeIpam(fields(doc, (name) => `${name} (flat file ${path})`, false));
}
