// Where delegates come from: a NetworkAttachmentDefinition (spec.config, or — when empty — the
// file in confDir whose configuration has the NAD's name), a CNI configuration file named by its
// `name` in confDir, or a path (a file, or the first configuration file of a directory). Texts are
// Multus'.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { isJsonObject, JsonSyntaxError, parseJson } from "../config/json-parse.ts";
import { readConfigFile } from "../files/config-file.ts";
import { type DelegateConf, parseDelegate } from "./delegate.ts";
import { MultusInputError } from "./errors.ts";

const CONFIG_EXTENSIONS = [".conf", ".json", ".conflist"];

/** The NAD annotation that asks for a device from a device plugin or DRA (SR-IOV and the like). */
export const RESOURCE_NAME_ANNOTATION = "k8s.v1.cni.cncf.io/resourceName";

/** The delegate of a NAD object (as the API returned it). */
export function delegateFromNad(nad: unknown, nadName: string, confDir: string): DelegateConf {
  const object = nad as
    | { metadata?: { annotations?: Record<string, unknown> }; spec?: { config?: unknown } }
    | undefined;
  // Device allocation (kubelet's checkpoint, DRA claims, device-info files) is not built: a NAD
  // that needs a device would get an interface without one, so it is refused instead.
  if (object?.metadata?.annotations?.[RESOURCE_NAME_ANNOTATION] !== undefined) {
    throw new MultusInputError(
      `GetCNIConfig: NAD ${nadName} has the ${RESOURCE_NAME_ANNOTATION} annotation: device plugin and DRA devices are not supported by this meta-plugin; remove the annotation or use Multus for this network`,
    );
  }
  const spec = object?.spec;
  const text = typeof spec?.config === "string" ? spec.config : "";
  if (text.trim() === "") {
    try {
      return configByName(nadName, confDir);
    } catch (error) {
      if (error instanceof MultusInputError)
        throw new MultusInputError(`GetCNIConfig: err in GetCNIConfigFromFile: ${error.message}`);
      throw error;
    }
  }
  let value: ReturnType<typeof parseJson>;
  try {
    value = parseJson(text);
  } catch (error) {
    const why = error instanceof JsonSyntaxError ? `${error.message} at ${error.position}` : String(error);
    throw new MultusInputError(
      `GetCNIConfig: err in GetCNIConfigFromSpec: failed to unmarshal Spec.Config: ${why}`,
    );
  }
  if (!isJsonObject(value)) {
    throw new MultusInputError(
      "GetCNIConfig: err in GetCNIConfigFromSpec: failed to unmarshal Spec.Config: not a JSON object",
    );
  }
  // A configuration without a name takes the NAD's (libcni keys its caches by it).
  const name = value["name"];
  return parseDelegate(typeof name === "string" && name !== "" ? value : { ...value, name: nadName });
}

function configFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    names = [];
  }
  return names.filter((n) => CONFIG_EXTENSIONS.some((ext) => n.endsWith(ext))).sort();
}

function readConfig(file: string): DelegateConf {
  let value: ReturnType<typeof parseJson>;
  try {
    value = parseJson(readConfigFile(file));
  } catch (error) {
    throw new MultusInputError(
      `error parsing configuration file ${file}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (!file.endsWith(".conflist") && isJsonObject(value) && typeof value["type"] !== "string") {
    throw new MultusInputError(
      `Error loading CNI config file ${file}: no 'type'; perhaps this is a .conflist?`,
    );
  }
  return parseDelegate(value);
}

/** The configuration in `dir` whose `name` is `name` (files sorted, the first match wins). */
export function configByName(name: string, dir: string): DelegateConf {
  const files = configFiles(dir);
  if (files.length === 0) throw new MultusInputError(`No networks found in ${dir}`);
  for (const file of files) {
    const conf = readConfig(join(dir, file));
    if (conf.confName === name) return conf;
  }
  throw new MultusInputError(`no network available in the name ${name} in cni dir ${dir}`);
}

/** A path: a configuration file, or a directory's first configuration file. */
export function configByPath(path: string): DelegateConf {
  const stat = statSync(path);
  if (!stat.isDirectory()) return readConfig(path);
  const [first] = configFiles(path);
  if (first === undefined) throw new MultusInputError(`No networks found in ${path}`);
  return readConfig(join(path, first));
}
