// Identifier rules the CNI library enforces before any plugin code runs (container id, interface
// name, network name).
// Runtimes apply the same rules, so an id a runtime accepts is never rejected here, and vice versa.
import { CNI_CODES, CniError } from "../errors/errors.ts";

/** Container ids and network names: an alphanumeric first character, then `[a-zA-Z0-9_.-]`. */
const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Linux IFNAMSIZ (16) minus the terminating NUL; counted in bytes, as the kernel does. */
const MAX_IFNAME_BYTES = 15;

// Go's unicode.IsSpace set. JS `\s` differs (it adds U+FEFF and lacks U+0085).
const IFNAME_FORBIDDEN = /[/:\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/**
 * Checks CNI_CONTAINERID.
 * @throws CniError code 3 `missing containerID` when empty, code 4 `invalid characters in
 * containerID` (details: the id) when it does not match the pattern.
 */
export function validateContainerId(id: string): void {
  if (id === "") throw new CniError(CNI_CODES.unknownContainer, "missing containerID");
  if (!NAME_PATTERN.test(id)) {
    throw new CniError(CNI_CODES.invalidEnvironment, "invalid characters in containerID", id);
  }
}

/**
 * Checks CNI_IFNAME against the kernel's rules; the message names the rule that failed.
 * @throws CniError code 4.
 */
export function validateIfName(name: string): void {
  const fail = (msg: string, details?: string) => new CniError(CNI_CODES.invalidEnvironment, msg, details);
  if (name === "") throw fail("interface name is empty");
  if (Buffer.byteLength(name, "utf8") > MAX_IFNAME_BYTES) {
    throw fail(
      "interface name is too long",
      `interface name should be less than ${MAX_IFNAME_BYTES + 1} characters`,
    );
  }
  if (name === "." || name === "..") throw fail("interface name is . or ..");
  if (IFNAME_FORBIDDEN.test(name)) throw fail("interface name contains / or : or whitespace characters");
}

/**
 * Checks the `name` of the network configuration.
 * @throws CniError code 7 `missing network name` when empty, `invalid characters found in network
 * name` (details: the name) when it does not match the pattern.
 */
export function validateNetworkName(name: string): void {
  if (name === "") throw new CniError(CNI_CODES.invalidConfig, "missing network name");
  if (!NAME_PATTERN.test(name)) {
    throw new CniError(CNI_CODES.invalidConfig, "invalid characters found in network name", name);
  }
}
