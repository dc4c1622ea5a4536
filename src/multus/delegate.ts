// A delegate: one CNI configuration Multus runs for the pod — a single plugin (top-level `type`)
// or a list (`plugins`, each with a `type`). It comes from Multus' own `delegates`, from a
// NetworkAttachmentDefinition's spec.config or from a file in confDir; it is checked once here
// and kept as decoded, frozen JSON, from which the exact bytes each plugin gets are written.
import { jsonType, lookup } from "../config/decode.ts";
import { isJsonObject, type Json, type JsonObject } from "../config/json-parse.ts";
import { MultusInputError } from "./errors.ts";

export interface DelegateConf {
  /** The configuration as given (a conflist keeps its `plugins`). */
  readonly config: JsonObject;
  readonly isConfList: boolean;
  /** The configuration's `name`: what error texts name and what a result cache is keyed by. */
  readonly confName: string;
  readonly cniVersion: string;
  /** The plugin type (the first plugin's for a list), for messages. */
  readonly type: string;
}

/** Go's unmarshal text for a field of the wrong JSON type, in the struct Multus decodes into. */
function wrongType(struct: string, key: string, value: Json, goType: string): string {
  return `json: cannot unmarshal ${jsonType(value)} into Go struct field ${struct}.${key} of type ${goType}`;
}

function stringKey(obj: JsonObject, key: string, struct: string, context: string): string {
  const value = lookup(obj, key);
  if (value === undefined) return "";
  if (typeof value !== "string")
    throw new MultusInputError(`${context}${wrongType(struct, key, value, "string")}`);
  return value;
}

/**
 * Checks a delegate configuration as Multus loads it: a JSON object; `type` makes it a single
 * plugin, otherwise it must have `plugins` whose entries each have a `type`.
 * @throws MultusInputError with Multus' `LoadDelegateNetConf: …` texts.
 */
export function parseDelegate(value: Json): DelegateConf {
  const context = "LoadDelegateNetConf: error unmarshalling delegate config: ";
  if (!isJsonObject(value)) {
    throw new MultusInputError(
      `${context}json: cannot unmarshal ${jsonType(value)} into Go value of type types.NetConf`,
    );
  }
  const confName = stringKey(value, "name", "NetConf", context);
  const cniVersion = stringKey(value, "cniVersion", "NetConf", context);
  const type = stringKey(value, "type", "NetConf", context);
  if (type !== "")
    return Object.freeze({ config: deepFreeze(value), isConfList: false, confName, cniVersion, type });
  const listError = (why: string) =>
    new MultusInputError(`LoadDelegateNetConf: failed with: LoadDelegateNetConfList: ${why}`);
  const plugins = lookup(value, "plugins");
  if (!Array.isArray(plugins) || plugins.length === 0)
    throw listError("delegate must have the 'type' or 'plugin' field");
  let first = "";
  for (const plugin of plugins) {
    const pluginType = isJsonObject(plugin) ? lookup(plugin, "type") : undefined;
    if (typeof pluginType !== "string" || pluginType === "")
      throw listError("a plugin delegate must have the 'type' field");
    if (first === "") first = pluginType;
  }
  return Object.freeze({ config: deepFreeze(value), isConfList: true, confName, cniVersion, type: first });
}

/**
 * The delegate with a selection element's `cni-args` merged into `args.cni` (of every plugin of a
 * list): the annotation's keys overwrite the configuration's.
 */
export function withCniArgs(delegate: DelegateConf, cniArgs: JsonObject | undefined): DelegateConf {
  if (cniArgs === undefined) return delegate;
  const merge = (conf: JsonObject): JsonObject => {
    const args = isJsonObject(conf["args"] ?? null) ? (conf["args"] as JsonObject) : {};
    const cni = isJsonObject(args["cni"] ?? null) ? (args["cni"] as JsonObject) : {};
    return { ...conf, args: { ...args, cni: { ...cni, ...cniArgs } } };
  };
  const config = delegate.isConfList
    ? { ...delegate.config, plugins: (delegate.config["plugins"] as readonly JsonObject[]).map(merge) }
    : merge(delegate.config);
  return Object.freeze({ ...delegate, config: deepFreeze(config) });
}

/** A conflist without `cniVersion` runs at Multus' version (libcni needs one to gate the verbs). */
export function withListVersion(delegate: DelegateConf, multusVersion: string): DelegateConf {
  if (!delegate.isConfList || delegate.cniVersion !== "") return delegate;
  return Object.freeze({
    ...delegate,
    cniVersion: multusVersion,
    config: deepFreeze({ ...delegate.config, cniVersion: multusVersion }),
  });
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
