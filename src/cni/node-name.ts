// Which node a node-slice network's call runs on: its slices, and so its pools, are the node's.
// Found as Go v0.9 finds it, so both plugins on a node use the same slices: $NODENAME (trimmed),
// else `<configuration_path>/nodename` (the installer writes it from the DaemonSet's
// spec.nodeName), else /etc/hostname; of a file the first 1024 bytes, trimmed. A node agent
// serving the call knows its node (--node-name or its own NODENAME) and gives it instead of the
// environment, which a plugin hands over only in part.

import type { ReadFile } from "../config/flat-file.ts";
import { CNI_CODES, CniError } from "../errors/errors.ts";
import { quote } from "../errors/message.ts";

/** Go reads this much of a node-name file. */
const NODE_NAME_BYTES = 1024;
export const HOSTNAME_FILE = "/etc/hostname";

/** A Kubernetes node name: a DNS subdomain (what a pool name can be made of). */
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function firstBytes(text: string): string {
  const bytes = Buffer.from(text, "utf8");
  return (bytes.length > NODE_NAME_BYTES ? bytes.subarray(0, NODE_NAME_BYTES).toString("utf8") : text).trim();
}

/** The file's name text, or undefined when it cannot be read or holds nothing (Go moves on). */
function fromFile(readFile: ReadFile, path: string): string | undefined {
  try {
    const text = readFile(path);
    const name = text === undefined ? "" : firstBytes(text);
    return name === "" ? undefined : name;
  } catch {
    return undefined;
  }
}

/**
 * The node's name. Throws CniError code 4 when none is found, or the one found is not a node name
 * (it would make pool names the API refuses); the message says where it came from, not the file.
 */
export function nodeNameOf(
  given: string | undefined,
  configurationPath: string | undefined,
  readFile: ReadFile,
): string {
  const trimmed = given?.trim() ?? "";
  const nodenameFile = configurationPath === undefined ? undefined : `${configurationPath}/nodename`;
  const [name, source] =
    trimmed !== ""
      ? [trimmed, "NODENAME"]
      : ((): [string | undefined, string] => {
          const fromNodename = nodenameFile === undefined ? undefined : fromFile(readFile, nodenameFile);
          if (fromNodename !== undefined) return [fromNodename, nodenameFile!];
          return [fromFile(readFile, HOSTNAME_FILE), HOSTNAME_FILE];
        })();
  const tried = ["NODENAME", ...(nodenameFile === undefined ? [] : [nodenameFile]), HOSTNAME_FILE].join(", ");
  if (name === undefined)
    throw new CniError(
      CNI_CODES.invalidEnvironment,
      `cannot tell which node this is (tried ${tried}): node slices are per node`,
      "set NODENAME, or let the installer write nodename into configuration_path",
    );
  if (!NODE_NAME.test(name))
    throw new CniError(
      CNI_CODES.invalidEnvironment,
      `the node name from ${source} is not a Kubernetes node name (lower-case letters, digits, '-' and '.')${source === "NODENAME" ? `: ${quote(name)}` : ""}`,
      "set NODENAME to the node's spec.nodeName",
    );
  return name;
}
