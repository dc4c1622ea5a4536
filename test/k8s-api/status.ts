// metav1.Status bodies exactly as kube-apiserver writes them (k8s.io/apimachinery/pkg/api/errors),
// including Go's JSON field order and omitempty rules. An `ApiError` carries one to the HTTP edge.
import { type FieldError, fieldErrorString } from "./validation.ts";

export interface StatusCause {
  readonly reason?: string;
  readonly message?: string;
  readonly field?: string;
}

export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly uid?: string;
  readonly causes?: readonly StatusCause[];
  readonly retryAfterSeconds?: number;
}

export interface Status {
  readonly status: "Failure" | "Success";
  readonly code?: number;
  readonly message?: string;
  /** Omitted for StatusReasonUnknown (""), as Go's omitempty does. */
  readonly reason?: string;
  readonly details?: StatusDetails;
  readonly continueToken?: string;
}

/** A group + plural resource, printed as `ippools.whereabouts.cni.cncf.io` or `pods`. */
export interface GroupResource {
  readonly group: string;
  readonly resource: string;
}

/** A group + kind, printed as `IPPool.whereabouts.cni.cncf.io` or `Pod`. */
export interface GroupKind {
  readonly group: string;
  readonly kind: string;
}

export const grString = (gr: GroupResource): string =>
  gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
export const gkString = (gk: GroupKind): string => (gk.group ? `${gk.kind}.${gk.group}` : gk.kind);

export const OPTIMISTIC_LOCK_MSG =
  "the object has been modified; please apply your changes to the latest version and try again";

/** Go's %q for the strings that occur in API messages. */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** Serialises a Status with the field order and omissions of metav1.Status. */
export function statusJson(s: Status): string {
  const out: Record<string, unknown> = { kind: "Status", apiVersion: "v1", metadata: {} };
  if (s.continueToken) out["metadata"] = { continue: s.continueToken };
  out["status"] = s.status;
  if (s.message) out["message"] = s.message;
  if (s.reason) out["reason"] = s.reason;
  if (s.details) {
    const d = s.details;
    const details: Record<string, unknown> = {};
    if (d.name) details["name"] = d.name;
    if (d.group) details["group"] = d.group;
    if (d.kind) details["kind"] = d.kind;
    if (d.uid) details["uid"] = d.uid;
    if (d.causes && d.causes.length > 0) {
      details["causes"] = d.causes.map((c) => {
        const cause: Record<string, string> = {};
        if (c.reason) cause["reason"] = c.reason;
        if (c.message) cause["message"] = c.message;
        if (c.field) cause["field"] = c.field;
        return cause;
      });
    }
    if (d.retryAfterSeconds) details["retryAfterSeconds"] = d.retryAfterSeconds;
    out["details"] = details;
  }
  if (s.code) out["code"] = s.code;
  return JSON.stringify(out);
}

export class ApiError extends Error {
  readonly status: Status;
  readonly httpCode: number;
  readonly headers: Readonly<Record<string, string>>;
  /** A non-Status body (plain text), for the few filters that write one. */
  readonly rawBody: string | undefined;

  constructor(status: Status, headers: Record<string, string> = {}, rawBody?: string) {
    super(status.message ?? status.reason ?? "error");
    this.status = status;
    this.httpCode = status.code ?? 500;
    this.headers = headers;
    this.rawBody = rawBody;
  }
}

const failure = (code: number, reason: string, message: string, details?: StatusDetails): ApiError =>
  new ApiError({ status: "Failure", code, reason, message, ...(details ? { details } : {}) });

export function notFound(gr: GroupResource, name: string): ApiError {
  return failure(404, "NotFound", `${grString(gr)} ${goQuote(name)} not found`, {
    name,
    group: gr.group,
    kind: gr.resource,
  });
}

/** The apiserver's answer for a path it does not serve. */
export function pathNotFound(): ApiError {
  return failure(404, "NotFound", "the server could not find the requested resource", {});
}

export function alreadyExists(gr: GroupResource, name: string, beingDeleted = false): ApiError {
  const message = `${grString(gr)} ${goQuote(name)} already exists`;
  return failure(409, "AlreadyExists", beingDeleted ? `object is being deleted: ${message}` : message, {
    name,
    group: gr.group,
    kind: gr.resource,
  });
}

export function conflict(gr: GroupResource, name: string, cause: string): ApiError {
  return failure(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${grString(gr)} ${goQuote(name)}: ${cause}`,
    {
      name,
      group: gr.group,
      kind: gr.resource,
    },
  );
}

/** A storage precondition failure as the etcd3 store reports it (storage.NewInvalidObjError). */
export function storageInvalidObj(gr: GroupResource, name: string, key: string, detail: string): ApiError {
  return conflict(
    gr,
    name,
    `StorageError: invalid object, Code: 4, Key: ${key}, ResourceVersion: 0, AdditionalErrorMsg: ${detail}`,
  );
}

export function invalid(gk: GroupKind, name: string, errors: readonly FieldError[]): ApiError {
  const causes = errors.map((e) => ({ reason: e.type, message: fieldErrorString(e, false), field: e.field }));
  const seen = [...new Set(errors.map((e) => fieldErrorString(e, true)))];
  const aggregate = seen.length === 0 ? "" : seen.length === 1 ? seen[0] : `[${seen.join(", ")}]`;
  const message = aggregate
    ? `${gkString(gk)} ${goQuote(name)} is invalid: ${aggregate}`
    : `${gkString(gk)} ${goQuote(name)} is invalid`;
  return failure(422, "Invalid", message, { name, group: gk.group, kind: gk.kind, causes });
}

export function badRequest(message: string): ApiError {
  return failure(400, "BadRequest", message);
}

export function unauthorized(message = "Unauthorized"): ApiError {
  return failure(401, "Unauthorized", message);
}

export function forbidden(gr: GroupResource | undefined, name: string, reason: string): ApiError {
  const message =
    gr === undefined
      ? `forbidden: ${reason}`
      : name === ""
        ? `${grString(gr)} is forbidden: ${reason}`
        : `${grString(gr)} ${goQuote(name)} is forbidden: ${reason}`;
  return failure(403, "Forbidden", message, { name, group: gr?.group ?? "", kind: gr?.resource ?? "" });
}

export function methodNotAllowed(): ApiError {
  return failure(
    405,
    "MethodNotAllowed",
    "the server does not allow this method on the requested resource",
    {},
  );
}

export function notAcceptable(accepted: readonly string[]): ApiError {
  return failure(406, "NotAcceptable", `only the following media types are accepted: ${accepted.join(", ")}`);
}

export function unsupportedMediaType(accepted: readonly string[]): ApiError {
  return failure(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`,
  );
}

export function requestEntityTooLarge(message: string): ApiError {
  return failure(413, "RequestEntityTooLarge", `Request entity too large: ${message}`);
}

export function resourceExpired(message: string, continueToken?: string): ApiError {
  return new ApiError({
    status: "Failure",
    code: 410,
    reason: "Expired",
    message,
    ...(continueToken ? { continueToken } : {}),
  });
}

export function internalError(message: string): ApiError {
  return failure(500, "InternalError", `Internal error occurred: ${message}`, { causes: [{ message }] });
}

/** A plain Go error that reached the handler (ErrorToAPIStatus default: code 500, no reason). */
export function unknownError(message: string, code = 500): ApiError {
  return new ApiError({ status: "Failure", code, message });
}

export function serviceUnavailable(message: string): ApiError {
  return failure(503, "ServiceUnavailable", message);
}

export function timeoutError(message: string, retryAfterSeconds: number, causes?: StatusCause[]): ApiError {
  return failure(504, "Timeout", `Timeout: ${message}`, {
    ...(causes ? { causes } : {}),
    ...(retryAfterSeconds ? { retryAfterSeconds } : {}),
  });
}

/** The request-timeout filter's answer (k8s.io/apiserver/pkg/server/filters/timeout.go). */
export function requestTimeout(): ApiError {
  return failure(
    504,
    "Timeout",
    "Timeout: request did not complete within requested timeout - context deadline exceeded",
    {},
  );
}

export function tooManyRequestsStatus(message: string, retryAfterSeconds: number): ApiError {
  return new ApiError(
    {
      status: "Failure",
      code: 429,
      reason: "TooManyRequests",
      message,
      details: { retryAfterSeconds },
    },
    { "Retry-After": String(retryAfterSeconds) },
  );
}

/**
 * What API Priority and Fairness (and max-in-flight) write when they reject a request: a plain-text
 * body, not a Status (k8s.io/apiserver/pkg/server/filters/maxinflight.go `tooManyRequests`).
 */
export function tooManyRequestsApf(retryAfterSeconds: number): ApiError {
  return new ApiError(
    { status: "Failure", code: 429, reason: "TooManyRequests", message: "Too many requests" },
    {
      "Retry-After": String(retryAfterSeconds),
      "Content-Type": "text/plain; charset=utf-8",
      "X-Content-Type-Options": "nosniff",
    },
    "Too many requests, please try again later.\n",
  );
}

/**
 * NewGenericServerResponse(code, "", GroupResource{}, "", msg, 0, false), which the PATCH handler
 * uses for a json-patch that does not apply: the cause text is dropped, `details` stays `{}`.
 */
export function genericServerResponse(code: number): ApiError {
  const known: Record<number, [string, string]> = {
    422: ["Invalid", "the server rejected our request due to an error in our request"],
    409: ["Conflict", "the server reported a conflict"],
    400: ["BadRequest", "the server rejected our request for an unknown reason"],
  };
  const [reason, message] = known[code] ?? ["", `the server responded with the status code ${code}`];
  return failure(code, reason, message, {});
}

export function successStatus(details: StatusDetails): string {
  return statusJson({ status: "Success", details });
}
