// Typed failures, in two families. CniErrors carry a CNI code: they are raised where the CNI
// protocol is already the frame (the configuration, CNI_ARGS, the allocation decision). StoreErrors
// say what a store or an API client saw happen — a kind and the facts — and nothing about who
// asked: the Kubernetes client serves the plugin and the controller alike. Each caller's edge reads
// them its own way: the plugin's maps kinds to CNI codes and adds plugin advice
// (src/cni/error-codes.ts), the controller logs them with its own advice (src/controller/advice.ts).

/** CNI error codes (the spec's well-known codes 1–11 and 50; 100+ are ours). */
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
  constructor(msg: string, details?: string, options?: { cause?: unknown }) {
    super(CNI_CODES.invalidConfig, msg, details, options);
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

/** What happened, whoever asked. */
export type StoreErrorKind =
  /** Not reached in time, or too contended: asking again later may work. */
  | "unavailable"
  /** Refused for a reason asking again will not fix: credentials, permissions, certificates, a request it does not take. */
  | "refused"
  /** What is stored cannot be understood (a corrupt pool, an unknown schema). */
  | "storedData"
  /** The settings for reaching it cannot be used (a kubeconfig without a context, a path naming a directory). */
  | "settings";

/** What a failure is about, where callers have advice of their own to give. */
export type StoreErrorTopic =
  /** The file of connection settings (a kubeconfig) cannot be used at all. */
  | "settingsFile"
  /** The settings' user authenticates with a program the client does not run (exec, auth-provider). */
  | "credentialHelper"
  /** The server refused the credentials (HTTP 401). */
  | "credentials"
  /** The server refused the request to the credentials' user (HTTP 403). */
  | "permissions"
  /** What the request named does not exist: the namespace, or the resource type (HTTP 404). */
  | "missing";

export interface StoreErrorFacts {
  /** Where it was asked: the server's URL, or etcd's endpoints. */
  readonly server?: string;
  /** The HTTP status of the answer, when there was one. */
  readonly status?: number;
  /** The path of the request the answer was to. */
  readonly resource?: string;
  /** The file the connection's settings came from (a kubeconfig). */
  readonly settings?: string;
  /** The namespace of the connection's settings (Kubernetes). */
  readonly namespace?: string;
  readonly topic?: StoreErrorTopic;
}

export interface StoreErrorOptions {
  /** More facts, in words that hold for every caller (never advice for one of them). */
  readonly details?: string;
  readonly facts?: StoreErrorFacts;
  readonly cause?: unknown;
}

/** A failure of a store or an API client: its kind, its message, the facts. */
export abstract class StoreError extends Error {
  abstract readonly kind: StoreErrorKind;
  readonly details: string | undefined;
  readonly facts: StoreErrorFacts;
  constructor(msg: string, options: StoreErrorOptions = {}) {
    super(msg, options.cause === undefined ? undefined : { cause: options.cause });
    this.details = options.details;
    this.facts = options.facts ?? {};
  }
}

/** The store cannot be reached in time or keeps conflicting: the caller should retry later. */
export class StoreUnavailableError extends StoreError {
  readonly kind = "unavailable";
  constructor(msg: string, options?: StoreErrorOptions) {
    super(msg, options);
    this.name = "StoreUnavailableError";
  }
}

/**
 * The store refuses the request for a reason that retrying will not fix (credentials,
 * permissions, a refused client certificate, a request it cannot take), so whoever reads the error
 * sees a fault to repair rather than a passing outage.
 */
export class StoreRefusedError extends StoreError {
  readonly kind = "refused";
  constructor(msg: string, options?: StoreErrorOptions) {
    super(msg, options);
    this.name = "StoreRefusedError";
  }
}

/** Stored data cannot be understood (a corrupt pool, an unknown schema). */
export class StoredDataError extends StoreError {
  readonly kind = "storedData";
  constructor(msg: string, options?: StoreErrorOptions) {
    super(msg, options);
    this.name = "StoredDataError";
  }
}

/** The settings for reaching a store or an API cannot be used; they must change. */
export class StoreSettingsError extends StoreError {
  readonly kind = "settings";
  constructor(msg: string, options?: StoreErrorOptions) {
    super(msg, options);
    this.name = "StoreSettingsError";
  }
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
