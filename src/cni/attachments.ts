// GC input: the attachments the runtime still considers valid (`cni.dev/valid-attachments`). Anything
// of this network not in the list may be released, so a list we cannot read must stop GC.
import { jsonType, lookup, mentions } from "../config/decode.ts";
import { isJsonObject, type Json, type JsonObject } from "../config/json-parse.ts";
import { CNI_CODES, CniError } from "../errors/errors.ts";

/** One (container, interface) pair that is still in use. */
export interface Attachment {
  readonly containerId: string;
  readonly ifName: string;
}

/** The key of the current spec text; libcni also sends the older name with the same value. */
const VALID_ATTACHMENTS_KEY = "cni.dev/valid-attachments";
const LEGACY_ATTACHMENTS_KEY = "cni.dev/attachments";

/**
 * The valid attachments of a GC request: `cni.dev/valid-attachments`, else `cni.dev/attachments`,
 * each entry `{containerID, ifname}`, keys found as the Go decoder finds them (case-insensitively,
 * a null never hiding another spelling's value). A key given only as `null` is an empty list
 * (libcni marshals "no attachments" that way).
 * @throws CniError code 7 when neither key is present (refusing beats releasing every address of
 * the network), or when the list or an entry is malformed.
 */
export function validAttachments(config: JsonObject): readonly Attachment[] {
  const key = [VALID_ATTACHMENTS_KEY, LEGACY_ATTACHMENTS_KEY].find((k) => mentions(config, k));
  if (key === undefined) {
    throw new CniError(
      CNI_CODES.invalidConfig,
      `GC request has no list of valid attachments: missing "${VALID_ATTACHMENTS_KEY}"`,
    );
  }
  const list = lookup(config, key);
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    throw malformed(key, `expected a list of {containerID, ifname}, got ${jsonType(list)}`);
  }
  return list.map((entry: Json, i) => {
    if (!isJsonObject(entry)) {
      throw malformed(key, `entry ${i} must be an object {containerID, ifname}, got ${jsonType(entry)}`);
    }
    const containerId = lookup(entry, "containerID");
    const ifName = lookup(entry, "ifname");
    if (typeof containerId !== "string" || containerId === "") {
      throw malformed(key, `entry ${i} needs a non-empty string "containerID"`);
    }
    if (typeof ifName !== "string") {
      throw malformed(key, `entry ${i} needs a string "ifname"`);
    }
    return { containerId, ifName };
  });
}

function malformed(key: string, why: string): CniError {
  return new CniError(CNI_CODES.invalidConfig, `invalid "${key}": ${why}`);
}
