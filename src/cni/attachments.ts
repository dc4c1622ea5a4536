// GC input: the attachments the runtime still considers valid (cni-spec.md §3.3, §4 GC). Anything
// of this network not in the list may be released, so a list we cannot read must stop GC.
import { CNI_CODES, CniError } from "../errors/errors.ts";
import { jsonField, jsonTypeOf } from "./json-field.ts";

/** One (container, interface) pair that is still in use. */
export interface Attachment {
  readonly containerId: string;
  readonly ifName: string;
}

/** The key of the current spec text; libcni also sends the older name with the same value. */
export const VALID_ATTACHMENTS_KEY = "cni.dev/valid-attachments";
export const LEGACY_ATTACHMENTS_KEY = "cni.dev/attachments";

/**
 * The valid attachments of a GC request: `cni.dev/valid-attachments`, else `cni.dev/attachments`,
 * each entry `{containerID, ifname}` (keys matched case-insensitively, as the Go decoder does).
 * `null` is an empty list (libcni marshals "no attachments" that way).
 * @throws CniError code 7 when neither key is present (refusing beats releasing every address of
 * the network), or when the list or an entry is malformed.
 */
export function validAttachments(config: Readonly<Record<string, unknown>>): readonly Attachment[] {
  let key = VALID_ATTACHMENTS_KEY;
  let list = jsonField(config, key);
  if (list === undefined) {
    key = LEGACY_ATTACHMENTS_KEY;
    list = jsonField(config, key);
  }
  if (list === undefined) {
    throw new CniError(
      CNI_CODES.invalidConfig,
      `GC request has no list of valid attachments: missing "${VALID_ATTACHMENTS_KEY}"`,
    );
  }
  if (list === null) return [];
  if (!Array.isArray(list)) {
    throw malformed(key, `expected a list of {containerID, ifname}, got ${jsonTypeOf(list)}`);
  }
  return list.map((entry: unknown, i) => {
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
      throw malformed(key, `entry ${i} must be an object {containerID, ifname}, got ${jsonTypeOf(entry)}`);
    }
    const record = entry as Record<string, unknown>;
    const containerId = jsonField(record, "containerID");
    const ifName = jsonField(record, "ifname");
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
