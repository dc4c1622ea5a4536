// A thin JSON REST client for the Kubernetes API (no client library: @kubernetes/client-node adds
// ~40 ms to every plugin start). One call = one logical request, retried inside the call's
// deadline on 429 (honouring Retry-After), 5xx, connection errors and timeouts, with jittered
// backoff. A write whose attempt failed without a definite answer may have been applied: the reply
// says so (`ambiguous`), and callers make their retries idempotent. Statuses a caller handles are
// returned; credentials refused (401/403) and other answers that retrying will not change are
// StoreRefusedError with the apiserver's Status message and the facts (status, server, request,
// kubeconfig, topic), never advice: the store (for the plugin) and the controller share this
// client, and each says its own way what to fix. Running out of time is StoreUnavailableError
// naming the server. Every HTTP request sent is counted (for benchmarks and request budgets).
import {
  type StoreErrorFacts,
  type StoreErrorTopic,
  StoreRefusedError,
  StoreUnavailableError,
} from "../errors/errors.ts";
import { isTimeout, isTlsRefusal, networkErrorReason, type Transport } from "../net/http-transport.ts";
import { type Backoff, backoffDelay } from "../retry/backoff.ts";
import type { KubeConnection } from "./kubeconfig.ts";

export const JSON_PATCH = "application/json-patch+json";
export const MERGE_PATCH = "application/merge-patch+json";

export interface KubeReply {
  readonly status: number;
  /** The parsed JSON body (undefined when it is not JSON). */
  readonly body: unknown;
  /** An earlier attempt of this write failed without a definite answer: it may have been applied. */
  readonly ambiguous: boolean;
}

export interface KubeRequest {
  readonly method: "GET" | "POST" | "PATCH" | "DELETE";
  /** Path and query under the server URL, e.g. `/apis/.../namespaces/ns/ippools/x`. */
  readonly path: string;
  readonly body?: unknown;
  readonly contentType?: string;
  /** Statuses besides 2xx that the caller handles (404, 409, 422, 403...). */
  readonly expect?: readonly number[];
}

/** StoreUnavailableError from a write that may or may not have been applied. */
export class KubeUnavailableError extends StoreUnavailableError {
  readonly mayHaveApplied: boolean;
  constructor(msg: string, mayHaveApplied: boolean, facts: StoreErrorFacts) {
    super(msg, { facts });
    this.mayHaveApplied = mayHaveApplied;
  }
}

export interface KubeClientOptions {
  readonly connection: KubeConnection;
  readonly transport: Transport;
  /** Budget of one HTTP request (one attempt). */
  readonly attemptTimeoutMs: number;
}

/** Less time than this left in a call is not worth another request. */
const MIN_ATTEMPT_MS = 20;
/** Between attempts: 50 ms doubling, capped at 1 s (unless the server says when, with Retry-After). */
const RETRY_BACKOFF: Backoff = { baseMs: 50, capMs: 1_000 };

type Failure =
  | { readonly kind: "retry"; readonly reason: string; readonly reached: boolean; readonly waitMs?: number }
  | { readonly kind: "fatal"; readonly error: StoreRefusedError };

/** What a refusal is about, by its status, where callers have advice for it. */
const TOPICS: Readonly<Record<number, StoreErrorTopic>> = {
  401: "credentials",
  403: "permissions",
  404: "missing",
};

export class KubeClient {
  readonly #options: KubeClientOptions;
  #requests = 0;

  constructor(options: KubeClientOptions) {
    this.#options = options;
  }

  get requests(): number {
    return this.#requests;
  }

  get server(): string {
    return this.#options.connection.server;
  }

  /** Where and as whom the requests go (for a watch opened beside them). */
  get connection(): KubeConnection {
    return this.#options.connection;
  }

  /**
   * Sends the request until it gets an answer the caller handles or `deadline` (epoch ms) passes.
   * `action` completes "Cannot <action> the Kubernetes API at <server>".
   */
  async send(request: KubeRequest, deadline: number, action: string): Promise<KubeReply> {
    const { connection, transport, attemptTimeoutMs } = this.#options;
    const write = request.method !== "GET";
    const headers: Record<string, string> = { accept: "application/json" };
    if (connection.authorization !== undefined) headers["authorization"] = connection.authorization;
    let payload: string | undefined;
    if (request.body !== undefined) {
      payload = goJson(request.body);
      headers["content-type"] = request.contentType ?? "application/json";
    }
    const url = `${connection.server}${request.path}`;
    let ambiguous = false;
    let reason = "no attempt made";
    for (let attempt = 0; ; attempt++) {
      const left = deadline - Date.now();
      if (left < MIN_ATTEMPT_MS) throw this.#unavailable(action, `${reason}`, ambiguous);
      const budget = Math.min(attemptTimeoutMs, left);
      this.#requests++;
      let failure: Failure;
      try {
        const reply = await transport.request(
          request.method,
          url,
          payload,
          headers,
          AbortSignal.timeout(budget),
        );
        const body = parseJson(reply.body);
        if ((reply.status >= 200 && reply.status < 300) || request.expect?.includes(reply.status))
          return { status: reply.status, body, ambiguous };
        failure = this.#classifyStatus(
          request,
          reply.status,
          body,
          reply.body,
          reply.header?.("retry-after"),
          action,
        );
      } catch (error) {
        failure = classifyNetworkError(error, budget, this.server);
      }
      if (failure.kind === "fatal") throw failure.error;
      reason = failure.reason;
      if (write && failure.reached) ambiguous = true;
      const room = deadline - Date.now() - MIN_ATTEMPT_MS;
      if (room <= 0) throw this.#unavailable(action, reason, ambiguous);
      const wait = failure.waitMs ?? backoffDelay(attempt, Math.random(), RETRY_BACKOFF);
      await new Promise((resolve) => setTimeout(resolve, Math.min(wait, room)));
    }
  }

  close(): void {
    this.#options.transport.close();
  }

  /**
   * Every item of a collection (`path` without a query), page by page (`limit`/`continue`), each
   * page within `deadline()` (read per page). A list whose first page's snapshot was compacted away
   * (410) starts over, at most 3 times.
   */
  async list(path: string, deadline: () => number, action: string, pageSize = 500): Promise<unknown[]> {
    let items: unknown[] = [];
    let token = "";
    for (let restarts = 0; ; ) {
      const query = `limit=${pageSize}${token === "" ? "" : `&continue=${encodeURIComponent(token)}`}`;
      const reply = await this.send(
        { method: "GET", path: `${path}?${query}`, expect: [410] },
        deadline(),
        action,
      );
      if (reply.status === 410) {
        if (++restarts > 3) throw this.unexpected(reply, action);
        items = [];
        token = "";
        continue;
      }
      items.push(...itemsOf(reply));
      token = (reply.body as { metadata?: { continue?: string } } | undefined)?.metadata?.continue ?? "";
      if (token === "") return items;
    }
  }

  /** The error of an answer the caller did not expect (its status is one the caller handles, but not here). */
  unexpected(reply: KubeReply, action: string): StoreRefusedError {
    return new StoreRefusedError(
      `Cannot ${action} the Kubernetes API at ${this.server}: ${statusMessage(reply.status, reply.body, "")}`,
      { facts: { server: this.server, status: reply.status } },
    );
  }

  #classifyStatus(
    request: KubeRequest,
    status: number,
    body: unknown,
    text: string,
    retryAfter: string | undefined,
    action: string,
  ): Failure {
    const message = statusMessage(status, body, text);
    if (status === 429) {
      const seconds = retryAfter === undefined ? Number.NaN : Number(retryAfter);
      return {
        kind: "retry",
        reason: message,
        reached: true,
        ...(Number.isFinite(seconds) && seconds >= 0 ? { waitMs: seconds * 1000 } : {}),
      };
    }
    // "request is too large" (etcd's limit on one object) will not get better by retrying.
    if (status >= 500 && !/too large/i.test(message))
      return { kind: "retry", reason: message, reached: true };
    const { kubeconfig, namespace } = this.#options.connection;
    const topic = TOPICS[status];
    return {
      kind: "fatal",
      error: new StoreRefusedError(`Cannot ${action} the Kubernetes API at ${this.server}: ${message}`, {
        facts: {
          server: this.server,
          status,
          resource: request.path,
          settings: kubeconfig,
          namespace,
          ...(topic === undefined ? {} : { topic }),
        },
      }),
    };
  }

  #unavailable(action: string, reason: string, ambiguous: boolean): KubeUnavailableError {
    return new KubeUnavailableError(
      `Cannot ${action} the Kubernetes API at ${this.server}: ${reason}`,
      ambiguous,
      { server: this.server },
    );
  }
}

/** JSON as Go's encoder writes it (`<`, `>`, `&`, U+2028, U+2029 escaped), so `test` values compare byte-equal. */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** The `items` of a list reply ([] when it has none). */
export function itemsOf(reply: KubeReply): unknown[] {
  const items = (reply.body as { items?: unknown } | undefined)?.items;
  return Array.isArray(items) ? items : [];
}

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The apiserver's Status message ("ippools... \"x\" not found"), else the text, else the code. */
export function statusMessage(status: number, body: unknown, text: string): string {
  const message = (body as { message?: unknown } | undefined)?.message;
  if (typeof message === "string" && message !== "") return `${message} (HTTP ${status})`;
  const plain = text.trim().split("\n")[0] ?? "";
  return plain === "" ? `HTTP ${status}` : `${plain} (HTTP ${status})`;
}

function classifyNetworkError(error: unknown, budget: number, server: string): Failure {
  if (isTimeout(error)) return { kind: "retry", reason: `no answer within ${budget} ms`, reached: true };
  const reason = networkErrorReason(error);
  if (isTlsRefusal(reason))
    return {
      kind: "fatal",
      error: new StoreRefusedError(`TLS with the Kubernetes API failed: ${reason}`, {
        details: "check the cluster's certificate-authority(-data) and server in the kubeconfig",
        facts: { server },
      }),
    };
  // A refused or unresolvable connection never reached the server: nothing can have been applied.
  const reached = !/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ConnectionRefused|Unable to connect/i.test(reason);
  return { kind: "retry", reason, reached };
}
