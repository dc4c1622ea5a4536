// The agent's side of HTTP/1.1 on its socket, deliberately narrow: one request per connection, a
// Content-Length body or none, answered with Content-Length and "Connection: close". That is all
// the plugin (client.ts) speaks, and all curl or a Node client sends for /healthz and /metrics.
// Anything else (chunked bodies, folded headers, oversized heads or bodies) is refused with a
// status, never guessed at: every byte here may come from any process that reaches the socket.
// Pure: bytes in, a decision or bytes out.

/** A request head larger than this is refused (ours is ~120 bytes). */
export const MAX_HEAD_BYTES = 8 * 1024;
/** A call body larger than this is refused (a network config is a few KiB). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface HttpRequest {
  readonly method: string;
  /** The target without its query. */
  readonly path: string;
  readonly body: Buffer;
}

export interface HttpAnswer {
  readonly status: number;
  readonly type: string;
  readonly body: string;
}

/** Why a request is refused before it reaches a handler (a bounded set: it becomes a metric label). */
export type Refusal = "malformed" | "too_large";

export type Framed =
  /**
   * `needed`: how many bytes in all the request needs before it is worth reading again; once the
   * head is read, that is the whole request's size, and `path` says where it goes (so a listener
   * can decide before the body arrives whether to hold that many bytes for it).
   */
  | { readonly kind: "incomplete"; readonly needed: number; readonly path?: string }
  | { readonly kind: "request"; readonly request: HttpRequest }
  | { readonly kind: "refused"; readonly reason: Refusal; readonly answer: HttpAnswer };

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const METHOD = /^[A-Z]{1,16}$/;
const TARGET = /^\/[\x21-\x7e]*$/;
/** Field values: visible ASCII, spaces and tabs, and bytes ≥ 0x80 (read as latin1); no controls. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function refuse(reason: Refusal, status: number, text: string): Framed {
  return { kind: "refused", reason, answer: { status, type: "text/plain", body: `${text}\n` } };
}

/**
 * Reads one request from the bytes received so far: "incomplete" until the head and the whole
 * body are there, then the request; "refused" with the answer to send as soon as the bytes cannot
 * become an acceptable request. Bytes after the body are ignored (the connection is closed after
 * the answer, so there is no second request).
 */
export function readRequest(data: Buffer): Framed {
  const end = data.subarray(0, MAX_HEAD_BYTES + 4).indexOf("\r\n\r\n");
  if (end < 0) {
    return data.length > MAX_HEAD_BYTES
      ? refuse("too_large", 431, "request head too large")
      : { kind: "incomplete", needed: data.length + 1 };
  }
  const lines = data.subarray(0, end).toString("latin1").split("\r\n");
  const [method, target, version, extra] = (lines[0] ?? "").split(" ");
  if (
    method === undefined ||
    target === undefined ||
    extra !== undefined ||
    !METHOD.test(method) ||
    !TARGET.test(target) ||
    (version !== "HTTP/1.1" && version !== "HTTP/1.0")
  ) {
    return refuse("malformed", 400, "expected a request line: METHOD /path HTTP/1.1");
  }
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = colon < 0 ? "" : line.slice(0, colon);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    // A line starting with whitespace is an obsolete folded continuation: refused, not joined.
    if (!TOKEN.test(name) || !FIELD_VALUE.test(value))
      return refuse("malformed", 400, "malformed header line");
    const key = name.toLowerCase();
    headers.set(key, [...(headers.get(key) ?? []), value]);
  }
  if (headers.has("transfer-encoding"))
    return refuse("malformed", 501, "only Content-Length bodies are accepted");
  const lengths = new Set(headers.get("content-length") ?? []);
  if (lengths.size > 1) return refuse("malformed", 400, "conflicting Content-Length headers");
  const [declared] = lengths;
  if (declared === undefined && method === "POST")
    return refuse("malformed", 411, "a POST needs a Content-Length");
  const text = declared ?? "0";
  if (!/^\d{1,16}$/.test(text)) return refuse("malformed", 400, "malformed Content-Length");
  const length = Number(text);
  if (length > MAX_BODY_BYTES)
    return refuse("too_large", 413, `bodies are limited to ${MAX_BODY_BYTES} bytes`);
  const start = end + 4;
  const query = target.indexOf("?");
  const path = query < 0 ? target : target.slice(0, query);
  if (data.length < start + length) return { kind: "incomplete", needed: start + length, path };
  return {
    kind: "request",
    request: {
      method,
      path,
      body: data.subarray(start, start + length),
    },
  };
}

const REASONS: Readonly<Record<number, string>> = {
  200: "OK",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  411: "Length Required",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
};

/** The bytes of a complete answer; the connection is closed after it. */
export function formatAnswer(answer: HttpAnswer): Buffer {
  const body = Buffer.from(answer.body, "utf8");
  const head =
    `HTTP/1.1 ${answer.status} ${REASONS[answer.status] ?? "Status"}\r\n` +
    `Content-Type: ${answer.type}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), body]);
}
