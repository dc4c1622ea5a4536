// The subset of etcd's v3 JSON API (the gRPC gateway every etcd ≥ 3.4 serves on its client URLs)
// that the etcd store uses: range, txn, authenticate. Keys and values travel as base64; int64
// fields as decimal strings; fields at their zero value (false, 0, "") are omitted in responses.

export interface KeyValue {
  readonly key: string;
  readonly create_revision?: string;
  readonly mod_revision?: string;
  readonly version?: string;
  readonly value?: string;
}

export interface ResponseHeader {
  readonly revision?: string;
}

export interface RangeRequest {
  readonly key: string;
  readonly range_end?: string;
  readonly limit?: number;
  readonly revision?: string;
  readonly count_only?: boolean;
}

export interface RangeResponse {
  readonly header?: ResponseHeader;
  readonly kvs?: readonly KeyValue[];
  readonly more?: boolean;
  readonly count?: string;
}

export type Compare =
  | { readonly key: string; readonly result: "EQUAL"; readonly target: "MOD"; readonly mod_revision: string }
  | {
      readonly key: string;
      readonly result: "EQUAL";
      readonly target: "CREATE";
      readonly create_revision: "0";
    }
  | { readonly key: string; readonly result: "EQUAL"; readonly target: "VALUE"; readonly value: string }
  | {
      readonly key: string;
      readonly result: "GREATER";
      readonly target: "CREATE";
      readonly create_revision: "0";
    }
  | {
      readonly key: string;
      /** Compares every key of [key, range_end) (etcd ≥ 3.3); holds for a range without keys. */
      readonly range_end: string;
      readonly result: "EQUAL";
      readonly target: "CREATE";
      readonly create_revision: "0";
    };

export type RequestOp =
  | { readonly request_range: RangeRequest }
  | { readonly request_put: { readonly key: string; readonly value: string } }
  | { readonly request_delete_range: { readonly key: string } }
  /** A transaction nested in a branch (etcd ≥ 3.3): its compares decide only its own branches. */
  | { readonly request_txn: TxnRequest };

export interface TxnRequest {
  readonly compare: readonly Compare[];
  readonly success: readonly RequestOp[];
  readonly failure: readonly RequestOp[];
}

export interface ResponseOp {
  readonly response_range?: RangeResponse;
  readonly response_txn?: TxnResponse;
}

export interface TxnResponse {
  readonly header?: ResponseHeader;
  readonly succeeded?: boolean;
  readonly responses?: readonly ResponseOp[];
}

export interface AuthenticateResponse {
  readonly token?: string;
}

/** The error body of a failed gateway call (`code` is the gRPC status code). */
export interface GatewayError {
  readonly error?: string;
  readonly message?: string;
  readonly code?: number;
}

export const GRPC = {
  deadlineExceeded: 4,
  permissionDenied: 7,
  resourceExhausted: 8,
  failedPrecondition: 9,
  unavailable: 14,
  unauthenticated: 16,
} as const;

export function encode(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

export function decode(base64: string | undefined): string {
  return base64 === undefined ? "" : Buffer.from(base64, "base64").toString("utf8");
}

/** The range end covering every key that starts with `prefix` (its last byte plus one), base64. */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, "utf8");
  let i = bytes.length - 1;
  while (i >= 0 && bytes[i] === 0xff) i--;
  // A prefix of only 0xff bytes has no successor: "\0" means "to the end of the keyspace".
  if (i < 0) return Buffer.from([0]).toString("base64");
  bytes[i] = bytes[i]! + 1;
  return bytes.subarray(0, i + 1).toString("base64");
}

export function compareMod(key: string, modRevision: string): Compare {
  return { key: encode(key), result: "EQUAL", target: "MOD", mod_revision: modRevision };
}

export function compareAbsent(key: string): Compare {
  return { key: encode(key), result: "EQUAL", target: "CREATE", create_revision: "0" };
}

export function comparePresent(key: string): Compare {
  return { key: encode(key), result: "GREATER", target: "CREATE", create_revision: "0" };
}

/** Holds when no key starts with `prefix`. */
export function compareNoneUnder(prefix: string): Compare {
  return {
    key: encode(prefix),
    range_end: prefixEnd(prefix),
    result: "EQUAL",
    target: "CREATE",
    create_revision: "0",
  };
}

export function compareValue(key: string, value: string): Compare {
  return { key: encode(key), result: "EQUAL", target: "VALUE", value: encode(value) };
}

export function getOp(key: string): RequestOp {
  return { request_range: { key: encode(key) } };
}

/** Reads every key that starts with `prefix`. */
export function rangeOp(prefix: string): RequestOp {
  return { request_range: { key: encode(prefix), range_end: prefixEnd(prefix) } };
}

export function txnOp(
  compare: readonly Compare[],
  success: readonly RequestOp[],
  failure: readonly RequestOp[] = [],
): RequestOp {
  return { request_txn: { compare, success, failure } };
}

export function putOp(key: string, value: string): RequestOp {
  return { request_put: { key: encode(key), value: encode(value) } };
}

export function deleteOp(key: string): RequestOp {
  return { request_delete_range: { key: encode(key) } };
}
