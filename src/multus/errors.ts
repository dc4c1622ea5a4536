// Multus' error texts. Users search for them (and runbooks match on them), so the words and the
// prefixes are Multus' own; what Multus leaves as an untyped Go error (which the CNI library
// reports as code 999) gets a code here that says whose fault it is: a bad annotation, a missing
// NetworkAttachmentDefinition or a bad Multus configuration is the configuration's (7), a
// delegate's failure keeps the delegate's own code.
import { CNI_CODES, CniError } from "../errors/errors.ts";

/** The pod a call is about, as CNI_ARGS names it ("" where absent). */
export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** `Multus: [<ns>/<name>/<uid>]: ` once the pod is known, `Multus: ` before. */
export function multusPrefix(pod: PodRef | undefined): string {
  return pod === undefined ? "Multus: " : `Multus: [${pod.namespace}/${pod.name}/${pod.uid}]: `;
}

/** A failure of the call as Multus words it, with the code of whose fault it is. */
export function multusError(
  pod: PodRef | undefined,
  msg: string,
  code: number = CNI_CODES.invalidConfig,
): CniError {
  return new CniError(code, `${multusPrefix(pod)}${msg}`);
}

/** A failure found while reading Multus' own input (config, annotation, NAD): Multus' text, code 7. */
export class MultusInputError extends CniError {
  constructor(msg: string) {
    super(CNI_CODES.invalidConfig, msg);
    this.name = "MultusInputError";
  }
}
