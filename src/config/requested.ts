// Requested addresses as a request carries them: the `ips` capability (runtimeConfig.ips, which
// Multus fills from a network selection's `ips`) and, read by the plugin from the pod, the
// thereabouts.io/ips annotation. Both are CIDR or bare address strings; the prefix, when given,
// is not used: the range an address falls in decides the prefix of the result.
import { ConfigError } from "../errors/errors.ts";
import { quote } from "../errors/message.ts";
import { type IP, parseCidr, parseIP, unmapped } from "../ip/index.ts";
import { type Fields, nested } from "./decode.ts";

/** `label` names the value in messages, e.g. `runtimeConfig.ips[0]`. */
export function parseRequestedAddress(text: string, label: string): IP {
  const parsed = parseIP(text) ?? (text.includes("/") ? parseCidrAddress(text) : undefined);
  if (parsed === undefined) {
    throw new ConfigError(
      `invalid ${label} ${quote(text)}: expected an IP address, bare or with its prefix length (e.g. "10.1.2.3" or "10.1.2.3/24")`,
    );
  }
  return unmapped(parsed);
}

function parseCidrAddress(text: string): IP | undefined {
  const cidr = parseCidr(text);
  return cidr === undefined ? undefined : { family: cidr.family, value: cidr.address };
}

/** Reads a list of requested addresses; `label` names the list (`runtimeConfig.ips`). */
export function parseRequestedAddresses(texts: readonly string[], label: string): IP[] {
  return texts.map((text, i) => parseRequestedAddress(text, `${label}[${i}]`));
}

/**
 * runtimeConfig.ips of a request (top-level `runtimeConfig`, as the runtime fills it); empty when
 * there is none. Other capabilities in runtimeConfig are not ours and are not looked at.
 */
export function decodeRuntimeIps(top: Fields): IP[] {
  const runtimeConfig = top.object("runtimeConfig");
  if (runtimeConfig === undefined) return [];
  const ips = nested(top, "runtimeConfig", runtimeConfig).stringArray("ips") ?? [];
  return parseRequestedAddresses(ips, top.label("runtimeConfig.ips"));
}
