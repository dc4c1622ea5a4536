// How the program introduces itself, said one way everywhere: a plugin run without CNI_COMMAND,
// `thereabouts version`, and the daemons as they start. The release comes from package.json, the
// CNI versions from the list the plugin answers VERSION with.
import packageJson from "../package.json" with { type: "json" };
import { SUPPORTED_VERSIONS } from "./cni/version.ts";

/**
 * The release, package.json's `version`: the Bun build inlines the file (a version bump makes
 * `--if-stale` rebuild), Node reads it with the sources.
 */
export const VERSION: string = packageJson.version;

/** `thereabouts <version>` and the CNI versions supported, two lines (the CNI skeleton's about text). */
export function aboutText(): string {
  return `thereabouts ${VERSION}\nCNI protocol versions supported: ${SUPPORTED_VERSIONS.join(", ")}\n`;
}
