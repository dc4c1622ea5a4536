// CNI_ARGS, as the CNI library parses it for Whereabouts: `;`-separated K=V pairs, each with
// exactly one `=`; keys are case-sensitive; unknown keys fail unless IgnoreUnknown=1|true.
// Failures are "invalid environment" (code 4) with libcni's texts behind Go's prefix, except that
// a message never shows a value: CNI_ARGS may carry anything a runtime passes, so a pair is shown
// by its key ("FOO=…"), or by its position when it has no key.
import { CNI_CODES, CniError } from "../errors/errors.ts";
import { clip, quote } from "../errors/message.ts";

export interface CniArgs {
  readonly podName: string;
  readonly podNamespace: string;
  /** `K8S_POD_UID` ("" when not passed): checked against the pod when an ADD reads it. */
  readonly podUid: string;
  /** `IP=`: CIDRs (as written, trimmed) to return as extra static addresses. */
  readonly ips: readonly string[];
  /** `GATEWAY=`: gateways (as written) set on every static address whose subnet contains them. */
  readonly gateways: readonly string[];
}

const STRING_KEYS = {
  K8S_POD_NAME: "podName",
  K8S_POD_NAMESPACE: "podNamespace",
  K8S_POD_UID: "podUid",
  IP: "ip",
  GATEWAY: "gateway",
} as const;
type StringKey = keyof typeof STRING_KEYS;

/** Keys runtimes pass that IPAM has no use for: known (no IgnoreUnknown needed), read nowhere. */
const IGNORED_KEYS: readonly string[] = ["K8S_POD_INFRA_CONTAINER_ID"];

export function argsError(msg: string): CniError {
  return new CniError(CNI_CODES.invalidEnvironment, msg);
}

function loadArgsError(why: string): CniError {
  return argsError(`LoadArgs - CNI Args Parsing Error: ${why}`);
}

/** A pair as messages show it: its key (Go's %q quoting, which JSON's agrees with here), never its value. */
function shown(pair: string, index: number): string {
  const eq = pair.indexOf("=");
  return eq < 0 ? `#${index + 1}` : quote(`${clip(pair.slice(0, eq))}=…`);
}

function invalidPair(pair: string, index: number): CniError {
  const why = pair === "" ? "empty" : pair.includes("=") ? 'more than one "="' : 'no "="';
  return loadArgsError(`ARGS: invalid pair ${shown(pair, index)} (${why})`);
}

/** libcni's UnmarshallableBool. */
function parseBool(pair: string, value: string): boolean {
  const lower = value.toLowerCase();
  if (lower === "1" || lower === "true") return true;
  if (lower === "0" || lower === "false") return false;
  throw loadArgsError(
    `ARGS: error parsing value of pair ${quote(clip(pair))}: (boolean unmarshal error: invalid input ${clip(lower)})`,
  );
}

function splitList(value: string): string[] {
  return value === "" ? [] : value.split(",").map((item) => item.trim());
}

/** Parses CNI_ARGS ("" when unset). Throws CniError code 4. */
export function parseCniArgs(text: string): CniArgs {
  const values: Partial<Record<(typeof STRING_KEYS)[StringKey], string>> = {};
  const unknown: string[] = [];
  let ignoreUnknown = false;
  if (text !== "") {
    for (const [index, pair] of text.split(";").entries()) {
      const kv = pair.split("=");
      if (kv.length !== 2) throw invalidPair(pair, index);
      const [key, value] = kv as [string, string];
      if (key === "IgnoreUnknown") ignoreUnknown = parseBool(pair, value);
      else if (Object.hasOwn(STRING_KEYS, key)) values[STRING_KEYS[key as StringKey]] = value;
      else if (!IGNORED_KEYS.includes(key)) unknown.push(shown(pair, index));
    }
  }
  if (unknown.length > 0 && !ignoreUnknown) {
    throw loadArgsError(`ARGS: unknown args [${clip(unknown.join(" "))}]`);
  }
  return {
    podName: values.podName ?? "",
    podNamespace: values.podNamespace ?? "",
    podUid: values.podUid ?? "",
    ips: splitList(values.ip ?? ""),
    gateways: splitList(values.gateway ?? ""),
  };
}
