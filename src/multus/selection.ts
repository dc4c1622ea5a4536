// The pod's network selection annotations: `k8s.v1.cni.cncf.io/networks` (a comma list of
// `[ns/]name[@ifname]`, or a JSON list of network selection elements) and
// `v1.multus-cni.io/default-network`. Parsed as Multus parses them, with Multus' texts: users and
// runbooks know them. The same NAD may be listed several times (each gets its own interface).
import { jsonType, lookup } from "../config/decode.ts";
import {
  isJsonObject,
  type Json,
  type JsonObject,
  JsonSyntaxError,
  parseJson,
} from "../config/json-parse.ts";
import { clip } from "../errors/message.ts";
import { formatIP, parseCidr, parseIP } from "../ip/index.ts";
import { MultusInputError } from "./errors.ts";

export const NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks";
export const DEFAULT_NETWORK_ANNOTATION = "v1.multus-cni.io/default-network";

/** One requested attachment. Absent requests are undefined. */
export interface NetworkSelection {
  readonly name: string;
  readonly namespace: string;
  readonly interfaceRequest?: string;
  readonly ips?: readonly string[];
  readonly mac?: string;
  readonly infinibandGuid?: string;
  /** Gateways this attachment gets the default route through (an empty list is a request too). */
  readonly defaultRoute?: readonly string[];
  readonly portMappings?: readonly JsonObject[];
  readonly bandwidth?: JsonObject;
  readonly cniArgs?: JsonObject;
  readonly deviceId?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const IFNAME_MAX = 15;

function annotationError(msg: string): MultusInputError {
  return new MultusInputError(`parsePodNetworkAnnotation: ${msg}`);
}

/**
 * The selections of an annotation value; `defaultNamespace` fills an empty namespace (the pod's
 * for the networks annotation, multusNamespace for the default-network one). "" selects nothing.
 * @throws MultusInputError with Multus' text.
 */
export function parseSelections(value: string, defaultNamespace: string): NetworkSelection[] {
  if (value === "") return [];
  const selections = /[[{"]/.test(value)
    ? parseJsonForm(value)
    : value.split(",").map((item) => parseItem(item.trim()));
  return selections.map((s) => {
    const out = { ...s, namespace: s.namespace === "" ? defaultNamespace : s.namespace };
    checkRequests(out);
    return Object.freeze(out);
  });
}

/** `[ns/]name[@ifname]`. */
function parseItem(item: string): NetworkSelection {
  const slash = item.split("/");
  if (slash.length > 2)
    throw annotationError("parsePodNetworkObjectName: Invalid network object (failed at '/')");
  const namespace = slash.length === 2 ? slash[0]!.trim() : "";
  const at = slash[slash.length - 1]!.split("@");
  if (at.length > 2)
    throw annotationError("parsePodNetworkObjectName: Invalid network object (failed at '@')");
  const name = at[0]!.trim();
  const ifname = at.length === 2 ? at[1]!.trim() : "";
  // Multus lets an empty name through to a lookup of the whole collection; it names nothing.
  for (const part of name === "" ? [namespace, name] : [namespace, name].filter((p) => p !== "")) {
    if (!DNS_LABEL.test(part)) {
      throw annotationError(
        "parsePodNetworkObjectName: Failed to parse: one or more items did not match comma-delimited format (must consist of lower case alphanumeric characters). " +
          `Must start and end with an alphanumeric character), mismatch @ '${clip(part)}'`,
      );
    }
  }
  if (ifname !== "" && (ifname.length > IFNAME_MAX || /[\s/]/.test(ifname))) {
    throw annotationError(
      `parsePodNetworkObjectName: Failed to parse interface name: must be less than 15 chars and not contain '/' or spaces. interface name '${clip(ifname)}'`,
    );
  }
  return ifname === "" ? { name, namespace } : { name, namespace, interfaceRequest: ifname };
}

const JSON_CONTEXT = "failed to parse pod Network Attachment Selection Annotation JSON format: ";
const STRUCT = "NetworkSelectionElement";

function jsonError(why: string): MultusInputError {
  return annotationError(`${JSON_CONTEXT}${why}`);
}

function unmarshal(value: Json, key: string, goType: string): MultusInputError {
  return jsonError(
    `json: cannot unmarshal ${jsonType(value)} into Go struct field ${STRUCT}.${key} of type ${goType}`,
  );
}

function parseJsonForm(text: string): NetworkSelection[] {
  let value: Json;
  try {
    value = parseJson(text);
  } catch (error) {
    if (error instanceof JsonSyntaxError) throw jsonError(`${error.message} at ${error.position}`);
    throw error;
  }
  if (!Array.isArray(value)) {
    throw jsonError(
      `json: cannot unmarshal ${jsonType(value)} into Go value of type []*types.NetworkSelectionElement`,
    );
  }
  return value.map((element): NetworkSelection => {
    if (element === null) return { name: "", namespace: "" };
    if (!isJsonObject(element)) {
      throw jsonError(
        `json: cannot unmarshal ${jsonType(element)} into Go value of type types.NetworkSelectionElement`,
      );
    }
    return decodeElement(element);
  });
}

function decodeElement(element: JsonObject): NetworkSelection {
  const string = (key: string): string | undefined => {
    const v = lookup(element, key);
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw unmarshal(v, key, "string");
    return v;
  };
  const strings = (key: string): string[] | undefined => {
    const v = lookup(element, key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw unmarshal(v, key, "[]string");
    return v.map((item: Json) => {
      if (typeof item !== "string") throw unmarshal(item, key, "string");
      return item;
    });
  };
  const object = (key: string, goType: string): JsonObject | undefined => {
    const v = lookup(element, key);
    if (v === undefined) return undefined;
    if (!isJsonObject(v)) throw unmarshal(v, key, goType);
    return v;
  };
  const portMappings = lookup(element, "portMappings");
  if (portMappings !== undefined && (!Array.isArray(portMappings) || !portMappings.every(isJsonObject))) {
    throw unmarshal(portMappings, "portMappings", "[]*types.PortMapEntry");
  }
  const defaultRoute = strings("default-route")?.map((gw) => {
    const parsed = parseIP(gw);
    if (parsed === undefined) throw jsonError(`invalid IP address: ${clip(gw)}`);
    return formatIP(parsed);
  });
  const requested = string("interface");
  const deprecated = string("interfaceRequest");
  const out: Record<string, unknown> = { name: string("name") ?? "", namespace: string("namespace") ?? "" };
  const optional: Record<string, unknown> = {
    interfaceRequest: requested !== undefined && requested !== "" ? requested : deprecated,
    ips: strings("ips"),
    mac: string("mac"),
    infinibandGuid: string("infiniband-guid"),
    defaultRoute,
    portMappings: portMappings as readonly JsonObject[] | undefined,
    bandwidth: object("bandwidth", "types.BandwidthEntry"),
    cniArgs: object("cni-args", "map[string]interface {}"),
    deviceId: string("deviceID"),
  };
  for (const [key, value] of Object.entries(optional)) {
    // Go's omitempty: an empty string is no request; an empty default-route list is one.
    if (value !== undefined && value !== "") out[key] = value;
  }
  return out as unknown as NetworkSelection;
}

/** The checks Multus makes on the requests of every element: MAC, GUID, IPs. */
function checkRequests(s: NetworkSelection): void {
  if (s.mac !== undefined && !isMac(s.mac))
    throw annotationError(`failed to mac: address ${clip(s.mac)}: invalid MAC address`);
  if (s.infinibandGuid !== undefined && !isMac(s.infinibandGuid)) {
    throw annotationError(`failed to parse GUID: address ${clip(s.infinibandGuid)}: invalid MAC address`);
  }
  for (const ip of s.ips ?? []) {
    if (ip.includes("/")) {
      if (parseCidr(ip) === undefined) {
        throw new MultusInputError(
          `failed to parse CIDR ${JSON.stringify(clip(ip))}: invalid CIDR address: ${clip(ip)}`,
        );
      }
    } else if (parseIP(ip) === undefined) {
      throw new MultusInputError(`failed to parse IP address ${JSON.stringify(clip(ip))}`);
    }
  }
}

/**
 * Go's net.ParseMAC: 6-, 8- or 20-byte addresses written as pairs separated by `:` or `-`, or as
 * groups of four hex digits separated by `.`.
 */
export function isMac(text: string): boolean {
  const lengths = [6, 8, 20];
  const pairs = text.split(/[:-]/);
  if (text.length >= 14 && (text[2] === ":" || text[2] === "-")) {
    const sep = text[2]!;
    return lengths.includes(pairs.length) && text.split(sep).every((p) => /^[0-9a-fA-F]{2}$/.test(p));
  }
  if (text.length >= 14 && text[4] === ".") {
    const groups = text.split(".");
    return lengths.includes(groups.length * 2) && groups.every((g) => /^[0-9a-fA-F]{4}$/.test(g));
  }
  return false;
}

/** `v1.multus-cni.io/default-network`: one selection at most. */
export function parseDefaultNetwork(value: string, multusNamespace: string): NetworkSelection | undefined {
  const selections = parseSelections(value, multusNamespace);
  if (selections.length > 1) {
    throw new MultusInputError(
      `tryLoadK8sPodDefaultNetwork: more than one default network is specified: ${clip(value)}`,
    );
  }
  return selections[0];
}

/**
 * Namespace isolation: a pod may only select NADs of its own namespace or of a global one.
 * @throws MultusInputError with Multus' text.
 */
export function checkIsolation(
  selections: readonly NetworkSelection[],
  podNamespace: string,
  globalNamespaces: readonly string[],
): void {
  for (const s of selections) {
    if (s.namespace !== podNamespace && !globalNamespaces.includes(s.namespace)) {
      throw new MultusInputError(
        `GetNetworkDelegates: namespace isolation enabled, annotation violates permission, pod is in namespace ${podNamespace} but refers to target namespace ${s.namespace}`,
      );
    }
  }
}

/** The requested default-route gateways: more than one per family is ECMP, which Multus refuses. */
export function checkDefaultRoutes(requests: readonly (readonly string[] | undefined)[]): void {
  let v4 = 0;
  let v6 = 0;
  for (const gw of requests.flat()) {
    if (gw === undefined) continue;
    if (parseIP(gw)?.family === 4) v4++;
    else v6++;
  }
  if (v4 > 1 || v6 > 1) throw new MultusInputError("multus does not support ECMP for default-route");
}
