// Typed failures. The core raises these kinds; the CNI edge maps each to its error JSON
// ({code, msg, details}) so no failure reaches the runtime as a crash or a stack trace.

/** CNI error codes (cni-spec.md §5.3); 100+ are ours. */
export const CNI_CODES = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  unavailable: 50,
  rangeExhausted: 100,
  internal: 999,
} as const;

export class CniError extends Error {
  readonly code: number;
  readonly details: string | undefined;
  constructor(code: number, msg: string, details?: string, options?: { cause?: unknown }) {
    super(msg, options);
    this.name = "CniError";
    this.code = code;
    this.details = details;
  }
}

/** The network configuration (stdin, flat file, CNI_ARGS content) is invalid: code 7. */
export class ConfigError extends CniError {
  constructor(msg: string, details?: string) {
    super(CNI_CODES.invalidConfig, msg, details);
    this.name = "ConfigError";
  }
}

/** No free address is left in a range (the text is Go's AssignmentError, which users search for). */
export class ExhaustedError extends CniError {
  constructor(msg: string) {
    super(CNI_CODES.rangeExhausted, msg);
    this.name = "ExhaustedError";
  }
}

/** The datastore cannot be reached or keeps conflicting: the runtime should retry later. */
export class StoreUnavailableError extends CniError {
  constructor(msg: string, options?: { cause?: unknown }) {
    super(CNI_CODES.tryAgainLater, msg, undefined, options);
    this.name = "StoreUnavailableError";
  }
}

/**
 * The datastore refuses the request for a reason that retrying will not fix (credentials,
 * permissions, a refused client certificate, a request it cannot take): code 5, not 11, so the
 * runtime and the operator see a fault to repair rather than a passing outage.
 */
export class StoreRefusedError extends CniError {
  constructor(msg: string, options?: { cause?: unknown }) {
    super(CNI_CODES.ioFailure, msg, undefined, options);
    this.name = "StoreRefusedError";
  }
}

/** Stored data cannot be understood (a corrupt pool, an unknown schema). */
export class StoredDataError extends CniError {
  constructor(msg: string) {
    super(CNI_CODES.ioFailure, msg);
    this.name = "StoredDataError";
  }
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
