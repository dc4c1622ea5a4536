// CNI spec versions: the closed set this plugin speaks, and the ordering the version gates use
// (an empty cniVersion reads as 0.1.0). Parsing follows the Go library so that the same configs pass and fail.
import { CNI_CODES, CniError } from "../errors/errors.ts";
import { quote } from "../errors/message.ts";

/** Every spec version the plugin accepts in `cniVersion` and answers to VERSION with. */
export const SUPPORTED_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];

/** The newest version; reported as `cniVersion` of the VERSION answer. */
export const CURRENT_VERSION: CniVersion = "1.1.0";

/** A config without `cniVersion` is a 0.1.0 config (the library's reading; the spec text is vaguer). */
export function normalizeVersion(version: string): string {
  return version === "" ? "0.1.0" : version;
}

export function isSupportedVersion(version: string): version is CniVersion {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(version);
}

/**
 * The library's error for a version outside SUPPORTED_VERSIONS: code 1 `incompatible CNI versions`,
 * details `config is "<v>", plugin supports ["0.1.0" "0.2.0" ...]` (Go's %q rendering of the list).
 */
export function incompatibleVersionError(version: string): CniError {
  const list = SUPPORTED_VERSIONS.map((v) => JSON.stringify(v)).join(" ");
  return new CniError(
    CNI_CODES.incompatibleVersion,
    "incompatible CNI versions",
    `config is ${quote(version)}, plugin supports [${list}]`,
  );
}

const PART_NAMES = ["major", "minor", "micro"] as const;

/**
 * Parses `major[.minor[.micro]]` the way the Go library does: missing parts are 0, each part is a
 * decimal integer (an optional sign is tolerated, as strconv.Atoi does), "" is 0.1.0.
 * @throws CniError code 6 (decode failure) for anything else, as the library reports it.
 */
export function parseVersion(version: string): readonly [number, number, number] {
  if (version === "") return [0, 1, 0];
  const parts = version.split(".");
  if (parts.length > 3) {
    throw new CniError(CNI_CODES.decodeFailure, `invalid version ${quote(version)}: too many parts`);
  }
  const out: [number, number, number] = [0, 0, 0];
  parts.forEach((part, i) => {
    if (!/^[+-]?[0-9]+$/.test(part)) {
      const which = PART_NAMES[i]!;
      throw new CniError(
        CNI_CODES.decodeFailure,
        `failed to convert ${which} version part ${quote(part)}: invalid syntax`,
      );
    }
    out[i] = Number.parseInt(part, 10);
  });
  return out;
}

/**
 * Orders two versions numerically (so "0.10.0" > "0.4.0"): negative if a < b, 0 if equal, positive
 * if a > b. @throws CniError code 6 if either is not a version (see parseVersion).
 */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  for (let i = 0; i < 3; i++) {
    const d = pa[i]! - pb[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** `version >= min`. @throws CniError code 6 if either is not a version. */
export function versionAtLeast(version: string, min: string): boolean {
  return compareVersions(version, min) >= 0;
}
