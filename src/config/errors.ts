// Config-loading failures that callers tell apart: the controllers skip networks that are not
// ours (Go's typed MissingIPAMConfigError / InvalidPluginError) instead of reporting them.
import { CNI_CODES, CniError, ConfigError } from "../errors/errors.ts";
import { clip } from "../errors/message.ts";
import { JsonSyntaxError } from "./json-parse.ts";

/** The network config has no `ipam` object. */
export class MissingIpamError extends ConfigError {
  constructor() {
    super("IPAM config missing 'ipam' key");
    this.name = "MissingIpamError";
  }
}

/** The network's IPAM type is not whereabouts/thereabouts. */
export class ForeignIpamError extends ConfigError {
  readonly ipamType: string;
  constructor(ipamType: string, msg?: string) {
    super(
      msg ?? `only interested in networks whose IPAM type is 'whereabouts'. This one was: ${clip(ipamType)}`,
    );
    this.name = "ForeignIpamError";
    this.ipamType = ipamType;
  }
}

/** Wraps a JSON syntax error as a CNI decode failure (code 6) with Go's message prefix and where it is. */
export function decodeFailure(prefix: string, error: unknown): never {
  if (error instanceof JsonSyntaxError) {
    throw new CniError(CNI_CODES.decodeFailure, `${prefix}${error.message} at ${error.position}`);
  }
  throw error;
}
