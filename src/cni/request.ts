// One CNI invocation, read from the environment and stdin and checked exactly as the CNI
// library's skeleton does before it calls a plugin (environment, then the config): same checks, same
// order, same codes and texts, so runtimes and users see what they saw from Whereabouts.
import { jsonType, lookup } from "../config/decode.ts";
import { decodeFailure } from "../config/errors.ts";
import { isJsonObject, type Json, type JsonObject, parseJson } from "../config/json-parse.ts";
import { CNI_CODES, CniError } from "../errors/errors.ts";
import { validateContainerId, validateIfName, validateNetworkName } from "./names.ts";
import {
  type CniVersion,
  CURRENT_VERSION,
  incompatibleVersionError,
  isSupportedVersion,
  normalizeVersion,
  SUPPORTED_VERSIONS,
  versionAtLeast,
} from "./version.ts";

export { type Attachment, validAttachments } from "./attachments.ts";

export const COMMANDS = ["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"] as const;
export type Command = (typeof COMMANDS)[number];

/** What the environment says, before stdin is looked at. `command` may still be unknown. */
export interface EnvArgs {
  readonly command: string;
  readonly containerId: string;
  readonly netns: string;
  readonly ifName: string;
  /** CNI_ARGS unparsed (`K1=V1;K2=V2`). */
  readonly cniArgs: string;
  readonly path: string;
}

/** A fully checked invocation. Values absent from the environment are "". */
export interface Request extends EnvArgs {
  readonly command: Command;
  /**
   * stdin, decoded once for every later reader (the IPAM config loader, prevResult, the GC list):
   * a JSON object read as Go's encoding/json reads it ({} for VERSION, which never reads stdin).
   */
  readonly config: JsonObject;
  /** The config's version, "" read as 0.1.0; always supported. CURRENT_VERSION for VERSION. */
  readonly cniVersion: CniVersion;
  /** The config's `name` ("" for VERSION). */
  readonly networkName: string;
}

interface EnvRule {
  readonly name: string;
  readonly key: keyof EnvArgs;
  /** Commands that need the variable; CNI_COMMAND itself is needed even when it names none. */
  readonly requiredFor: "always" | readonly string[];
  /** Runs only when the command requires the variable (GC must not fail on a stray CNI_IFNAME). */
  readonly validate?: (value: string) => void;
}

// Order matters: it is the order of the names in the "missing" message, and a value is validated
// as soon as it is read, so a bad container id wins over a missing CNI_PATH (as in the library).
const ENV_RULES: readonly EnvRule[] = [
  { name: "CNI_COMMAND", key: "command", requiredFor: "always" },
  {
    name: "CNI_CONTAINERID",
    key: "containerId",
    requiredFor: ["ADD", "CHECK", "DEL"],
    validate: validateContainerId,
  },
  { name: "CNI_NETNS", key: "netns", requiredFor: ["ADD", "CHECK"] },
  { name: "CNI_IFNAME", key: "ifName", requiredFor: ["ADD", "CHECK", "DEL"], validate: validateIfName },
  { name: "CNI_ARGS", key: "cniArgs", requiredFor: [] },
  { name: "CNI_PATH", key: "path", requiredFor: ["ADD", "CHECK", "DEL", "GC", "STATUS"] },
];

/** Commands that exist only from a spec version on (CHECK since 0.4.0, GC and STATUS since 1.1.0). */
const COMMAND_FLOOR: Partial<Record<Command, CniVersion>> = { CHECK: "0.4.0", GC: "1.1.0", STATUS: "1.1.0" };

/**
 * Reads and checks the CNI_* variables. An empty variable counts as missing (as with Getenv).
 * Never reads stdin, so the caller can fail fast before blocking on it.
 * @throws CniError code 4 `required env variables [A,B] missing`, or the id/ifname errors of names.ts.
 */
export function readEnv(env: Readonly<Record<string, string | undefined>>): EnvArgs {
  const command = env["CNI_COMMAND"] ?? "";
  const out: Record<keyof EnvArgs, string> = {
    command: "",
    containerId: "",
    netns: "",
    ifName: "",
    cniArgs: "",
    path: "",
  };
  const missing: string[] = [];
  for (const rule of ENV_RULES) {
    const value = env[rule.name] ?? "";
    out[rule.key] = value;
    const required = rule.requiredFor === "always" || rule.requiredFor.includes(command);
    if (value === "") {
      if (required) missing.push(rule.name);
    } else if (required) {
      rule.validate?.(value);
    }
  }
  if (missing.length > 0) {
    throw new CniError(CNI_CODES.invalidEnvironment, `required env variables [${missing.join(",")}] missing`);
  }
  return out;
}

/**
 * Checks one invocation completely: environment, then (except for VERSION) stdin and its network
 * name, then the command, then the config's version against the plugin and the command.
 * @throws CniError with the library's code and text for the first check that fails.
 */
export function parseRequest(env: Readonly<Record<string, string | undefined>>, stdin: string): Request {
  const args = readEnv(env);
  if (args.command === "VERSION") {
    // VERSION answers regardless of stdin (the library does not even read it).
    return {
      ...args,
      command: "VERSION",
      config: {},
      cniVersion: CURRENT_VERSION,
      networkName: "",
    };
  }
  const config = decodeConfig(stdin);
  const name = stringField(config, "name", "error unmarshall network config");
  validateNetworkName(name);
  const command = args.command;
  if (!isCommand(command)) {
    throw new CniError(CNI_CODES.invalidEnvironment, `unknown CNI_COMMAND: ${command}`);
  }
  const version = normalizeVersion(stringField(config, "cniVersion", "decoding version from network config"));
  const cniVersion = gateVersion(command, version);
  return { ...args, command, config, cniVersion, networkName: name };
}

function isCommand(value: string): value is Command {
  return (COMMANDS as readonly string[]).includes(value);
}

const DECODE_CONTEXT = "error unmarshall network config: ";

/**
 * Decodes stdin with the parser the IPAM config loader reads: syntax errors say what and where,
 * never the text at it (it may be a password written without quotes), and duplicate keys and
 * nulls resolve as in Go.
 */
function decodeConfig(stdin: string): JsonObject {
  let value: Json;
  try {
    value = parseJson(stdin);
  } catch (error) {
    decodeFailure(DECODE_CONTEXT, error);
  }
  // Go decodes `null` into an empty struct without complaint; the missing name then reports it.
  if (value === null) return {};
  if (!isJsonObject(value)) {
    throw new CniError(
      CNI_CODES.decodeFailure,
      `${DECODE_CONTEXT}expected a JSON object, got ${jsonType(value)}`,
    );
  }
  return value;
}

/**
 * A string key of the config, found as Go fills a struct field (case-insensitively, a null never
 * hiding another spelling's value); absent or null reads as "", another type is a decode failure
 * (code 6).
 */
function stringField(config: JsonObject, key: string, context: string): string {
  const value = lookup(config, key);
  if (value === undefined) return "";
  if (typeof value !== "string") {
    throw new CniError(
      CNI_CODES.decodeFailure,
      `${context}: "${key}" must be a string, got ${jsonType(value)}`,
    );
  }
  return value;
}

/**
 * The library's gate: CHECK/GC/STATUS first need their minimum version (and a plugin version at
 * least as new as the config); then the version must be one the plugin supports, exactly.
 */
function gateVersion(command: Command, version: string): CniVersion {
  const floor = COMMAND_FLOOR[command];
  if (floor !== undefined) {
    if (!versionAtLeast(version, floor)) {
      throw new CniError(CNI_CODES.incompatibleVersion, `config version does not allow ${command}`);
    }
    if (!SUPPORTED_VERSIONS.some((supported) => versionAtLeast(supported, version))) {
      throw new CniError(CNI_CODES.incompatibleVersion, `plugin version does not allow ${command}`);
    }
  }
  if (!isSupportedVersion(version)) throw incompatibleVersionError(version);
  return version;
}
