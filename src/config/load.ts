// Loading the IPAM config of one request: stdin JSON + CNI_ARGS + the optional flat file become
// one readonly IpamConfig, or a CniError. Steps follow Go's LoadIPAMConfig in order (decode,
// CNI_ARGS, flat file, merge, ranges, datastore, gateway, static addresses) so the first error
// reported is the one Go would report.
import { ConfigError } from "../errors/errors.ts";
import { listed } from "../errors/message.ts";
import { checkAddressCount, parseGateway, staticAddresses } from "./addresses.ts";
import { parseCniArgs } from "./cni-args.ts";
import { selectDatastore } from "./datastore.ts";
import { describeJson, fields, lookup } from "./decode.ts";
import { decodeFailure, ForeignIpamError, MissingIpamError } from "./errors.ts";
import { loadFlatFile, type ReadFile } from "./flat-file.ts";
import { decodeIpam } from "./ipam-input.ts";
import { isJsonObject, type Json, type JsonObject, parseJson } from "./json-parse.ts";
import { mergeIpam } from "./merge.ts";
import { parseNodeSlices } from "./node-slices.ts";
import { checkPath, checkPaths } from "./paths.ts";
import { normaliseRanges } from "./range.ts";
import { decodeRuntimeIps } from "./requested.ts";
import { parseDns, parseRoutes } from "./routes-dns.ts";
import { parseLogFormat, parseLogLevel } from "./settings.ts";
import { parseStickySettings } from "./sticky.ts";
import type { IpamConfig } from "./types.ts";

/** What a config is loaded from besides the network configuration itself. */
export interface ConfigContext {
  /** CNI_ARGS ("" when unset). */
  readonly cniArgs: string;
  /** Returns undefined when the file does not exist; throws on other errors (EISDIR, EACCES...). */
  readonly readFile: ReadFile;
  /** Searched after the default flat-file paths (the controller passes its own). */
  readonly extraFlatFilePaths?: readonly string[];
}

export interface ConfigSources extends ConfigContext {
  /** The whole CNI request config (JSON text) as received on stdin. */
  readonly stdin: string;
}

function parseDocument(text: string): JsonObject {
  let doc: Json;
  try {
    doc = parseJson(text);
  } catch (error) {
    decodeFailure("LoadIPAMConfig - JSON Parsing Error: ", error);
  }
  if (!isJsonObject(doc)) {
    throw new ConfigError(`invalid network configuration: expected a JSON object, got ${describeJson(doc)}`);
  }
  return doc;
}

/** The ipam `type`s this plugin serves, under either of its names. */
const OUR_IPAM_TYPES: readonly string[] = ["whereabouts", "thereabouts"];

function isOurs(ipamType: string): boolean {
  return OUR_IPAM_TYPES.includes(ipamType);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * Loads the IPAM config of a CNI request already decoded (by the parser below, as the plugin
 * decodes stdin once for every check). Throws as loadIpamConfig, decode failures aside.
 */
export function loadIpamDocument(doc: JsonObject, sources: ConfigContext): IpamConfig {
  const top = fields(doc, (name) => name);
  const name = top.string("name") ?? "";
  const cniVersion = top.string("cniVersion") ?? "";
  const ipamObject = top.object("ipam");
  if (ipamObject === undefined) throw new MissingIpamError();
  const ipamFields = fields(ipamObject, (key) => `ipam.${key}`);
  // The type is checked before anything else so a network using another IPAM plugin is reported
  // as such (and skipped by the controllers), whatever its other keys hold.
  const rawType = ipamFields.string("type") ?? "";
  if (!isOurs(rawType)) throw new ForeignIpamError(rawType);
  const stdin = decodeIpam(ipamFields);

  const args = parseCniArgs(sources.cniArgs);
  checkPath("configuration_path", stdin.configurationPath);
  const flat = loadFlatFile(sources.readFile, stdin.configurationPath, sources.extraFlatFilePaths);
  const ipam = mergeIpam(stdin, flat?.ipam);
  checkPaths(ipam);
  const ranges = normaliseRanges(ipam);
  const store = selectDatastore(ipam);
  const gateway = parseGateway(ipam.gateway);
  // Which range each requested address goes to is ADD's question (requestedPerRange): a DEL
  // must not fail because the ranges changed since its ADD.
  const requested = decodeRuntimeIps(top);
  const addresses = staticAddresses(ipam.addresses, args, requested);
  checkAddressCount(cniVersion, ranges, addresses);
  const routes = parseRoutes(ipam.routes);
  const dns = parseDns(ipam.dns);
  const logLevel = parseLogLevel(ipam.logLevel);
  const logFormat = parseLogFormat(ipam.logFormat);
  const sticky = parseStickySettings(ipam);
  const networkName = ipam.networkName ?? "";
  const nodeSlices = parseNodeSlices({
    nodeSliceSize: ipam.nodeSliceSize,
    configurationPath: ipam.configurationPath,
    name,
    networkName,
    ranges,
    datastore: store.datastore,
    stickyAddresses: sticky.stickyAddresses,
  });

  const config: IpamConfig = {
    name,
    ranges,
    ...(gateway === undefined ? {} : { gateway }),
    networkName,
    enableOverlappingRanges: ipam.enableOverlappingRanges ?? true,
    addresses,
    routes,
    dns,
    ...store,
    logFile: ipam.logFile ?? "",
    logLevel,
    logFormat,
    ...sticky,
    ...(nodeSlices === undefined ? {} : { nodeSlices }),
    requested,
    pod: {
      name: args.podName,
      ref: `${args.podNamespace}/${args.podName}`,
    },
  };
  return deepFreeze(config);
}

/**
 * Loads the IPAM config of a CNI request (a single plugin config). Throws CniError: code 6 for
 * malformed JSON, 4 for malformed CNI_ARGS, 5 for a flat file that cannot be read, 7 for
 * everything else (MissingIpamError and ForeignIpamError when the network is not ours).
 */
export function loadIpamConfig(sources: ConfigSources): IpamConfig {
  return loadIpamDocument(parseDocument(sources.stdin), sources);
}

/**
 * Like loadIpamConfig, but also accepts a plugin list (`{plugins: [...]}`, e.g. a NAD's config):
 * the first plugin whose ipam.type is whereabouts or thereabouts is used, with the list's `name`
 * and `cniVersion`. Throws ForeignIpamError when no plugin qualifies.
 */
export function loadIpamConfigFromNetwork(sources: ConfigSources): IpamConfig {
  const doc = parseDocument(sources.stdin);
  const top = fields(doc, (name) => name);
  const plugins = top.objectArray("plugins");
  if (plugins === undefined) return loadIpamDocument(doc, sources);
  const types = plugins.map((plugin) => {
    const ipam = lookup(plugin, "ipam");
    const type = isJsonObject(ipam) ? lookup(ipam, "type") : undefined;
    return typeof type === "string" ? type : "";
  });
  const index = types.findIndex(isOurs);
  if (index < 0) {
    throw new ForeignIpamError(
      types.join(","),
      `only interested in networks whose IPAM type is 'whereabouts'. This one was: a plugin list with IPAM types [${listed(types)}]`,
    );
  }
  const single: JsonObject = {
    name: top.string("name") ?? "",
    cniVersion: top.string("cniVersion") ?? "",
    ipam: lookup(plugins[index]!, "ipam")!,
  };
  return loadIpamDocument(single, sources);
}
