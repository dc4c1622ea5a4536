// A minimal etcd v3 client over the JSON gateway: one POST per call, bounded by a deadline, failing
// over between members, authenticating once per process when a user is configured. It counts
// every HTTP request it sends (authentication and retries included) so benchmarks can report
// etcd calls per operation. Failures that retrying cannot fix (credentials, permissions, TLS, a
// request etcd refuses) are StoreRefusedError (as the Kubernetes client reports 401/403), the
// others StoreUnavailableError (try again later). Their messages name the etcd_* settings to
// check: the etcd store is reached only through a network configuration.
import { StoreRefusedError, StoreUnavailableError } from "../../errors/errors.ts";
import {
  isTimeout,
  isTlsRefusal,
  networkErrorReason,
  type TlsMaterial,
  type Transport,
} from "../../net/http-transport.ts";
import { type Backoff, backoffDelay } from "../../retry/backoff.ts";
import {
  type AuthenticateResponse,
  encode,
  type GatewayError,
  GRPC,
  type KeyValue,
  prefixEnd,
  type RangeRequest,
  type RangeResponse,
} from "./etcd-api.ts";

export interface EtcdClientOptions {
  readonly endpoints: readonly string[];
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** Budget of one call, retries and fail-over included. */
  readonly timeoutMs: number;
  /** Budget of one request to one member, so a member that hangs (no leader) is left in time. */
  readonly attemptTimeoutMs: number;
  readonly transport: Transport;
  readonly tls?: TlsMaterial | undefined;
}

/** The subset of a client the store uses; a test may put a fake behind it. */
export interface EtcdKv {
  /** `deadline` (epoch ms): the caller's, when it comes before the client's own budget. */
  call<T>(path: string, body: unknown, action: string, deadline?: number): Promise<T>;
  readonly requests: number;
  close(): void;
}

type Outcome =
  | { readonly kind: "ok"; readonly body: string }
  /** Worth trying again, here or at another member (connection refused, no leader, timeout). */
  | { readonly kind: "retry"; readonly reason: string; readonly truncated?: boolean }
  /** The token expired or the member restarted: authenticate again, then retry. */
  | { readonly kind: "reauth"; readonly reason: string }
  /** Will not get better by retrying (credentials, permissions, TLS, a malformed request). */
  | { readonly kind: "fatal"; readonly reason: string };

const NO_ATTEMPT = "no attempt made";
/** Less time than this left in a call is not worth another request. */
const MIN_ATTEMPT_MS = 20;
/** Between rounds over the members: 25 ms doubling, capped at 400 ms. */
const ROUND_BACKOFF: Backoff = { baseMs: 25, capMs: 400 };

export class EtcdClient implements EtcdKv {
  readonly #options: EtcdClientOptions;
  /** The member that answered last; calls start there (keeps one connection warm). */
  #current: number;
  #token: string | undefined;
  #requests = 0;

  constructor(options: EtcdClientOptions) {
    if (options.endpoints.length === 0) throw new StoreUnavailableError("etcd: no endpoints configured");
    // "http://host:2379/" and "http://host:2379" name the same member; paths are appended.
    const endpoints = options.endpoints.map((e) => withoutUserinfo(e).replace(/\/+$/, ""));
    this.#options = { ...options, endpoints };
    // Start at a random member so many short-lived plugin processes spread over the cluster.
    this.#current = Math.floor(Math.random() * options.endpoints.length);
  }

  get requests(): number {
    return this.#requests;
  }

  /**
   * POSTs `body` to `path` and returns the parsed reply. Retries at the next member on connection
   * errors, timeouts and "no leader"-style answers until the call's deadline (the client's budget,
   * or the caller's `deadline` in epoch ms when that comes first); throws StoreUnavailableError
   * naming the endpoints and the last reason otherwise.
   */
  async call<T>(path: string, body: unknown, action: string, callerDeadline?: number): Promise<T> {
    const { endpoints } = this.#options;
    const started = Date.now();
    const deadline = Math.min(started + this.#options.timeoutMs, callerDeadline ?? Number.POSITIVE_INFINITY);
    const timeoutMs = Math.max(0, deadline - started);
    if (timeoutMs < MIN_ATTEMPT_MS) throw this.#fail(action, "the call's deadline has passed");
    const payload = JSON.stringify(body);
    let reason = NO_ATTEMPT;
    let reauths = 0;
    for (let round = 0; ; round++) {
      for (let tried = 0; tried < endpoints.length; tried++) {
        if (deadline - Date.now() < MIN_ATTEMPT_MS) break;
        const index = (this.#current + tried) % endpoints.length;
        const endpoint = endpoints[index]!;
        let outcome: Outcome = { kind: "ok", body: "" };
        if (this.#token === undefined && this.#options.username !== undefined)
          outcome = await this.#authenticate(endpoint, deadline);
        if (outcome.kind === "ok") outcome = await this.#post(endpoint, path, payload, deadline);
        if (outcome.kind === "ok") {
          this.#current = index;
          return JSON.parse(outcome.body) as T;
        }
        if (outcome.kind === "fatal") throw this.#refused(action, this.#at(endpoint, outcome.reason));
        // An attempt cut short by the call's deadline says less than the error before it.
        if (!(outcome.kind === "retry" && outcome.truncated && reason !== NO_ATTEMPT))
          reason = this.#at(endpoint, outcome.reason);
        if (outcome.kind === "reauth" && this.#options.username !== undefined && reauths++ < 2) {
          this.#token = undefined;
          tried--; // the same member again, with a fresh token
        }
      }
      const left = deadline - Date.now();
      if (left < MIN_ATTEMPT_MS)
        throw this.#fail(action, `gave up after ${timeoutMs} ms; last error: ${reason}${this.#schemeHint()}`);
      const wait = backoffDelay(round, Math.random(), ROUND_BACKOFF);
      await new Promise((resolve) => setTimeout(resolve, Math.min(left, wait)));
    }
  }

  close(): void {
    this.#options.transport.close();
  }

  async #authenticate(endpoint: string, deadline: number): Promise<Outcome> {
    const { username, password } = this.#options;
    const outcome = await this.#post(
      endpoint,
      "/v3/auth/authenticate",
      JSON.stringify({ name: username, password: password ?? "" }),
      deadline,
      true,
    );
    if (outcome.kind !== "ok") {
      // Like etcd's Go client: credentials for a cluster without auth are not an error.
      if (outcome.reason.includes("authentication is not enabled")) {
        this.#token = "";
        return { kind: "ok", body: "{}" };
      }
      if (outcome.kind === "fatal")
        return { kind: "fatal", reason: `authenticating as "${username}": ${outcome.reason}` };
      return outcome;
    }
    this.#token = (JSON.parse(outcome.body) as AuthenticateResponse).token ?? "";
    return outcome;
  }

  async #post(
    endpoint: string,
    path: string,
    payload: string,
    deadline: number,
    anonymous = false,
  ): Promise<Outcome> {
    const budget = Math.max(1, Math.min(this.#options.attemptTimeoutMs, deadline - Date.now()));
    const headers: Record<string, string> = {};
    if (!anonymous && this.#token) headers["authorization"] = this.#token;
    this.#requests++;
    let status: number;
    let text: string;
    try {
      const reply = await this.#options.transport.request(
        "POST",
        `${endpoint}${path}`,
        payload,
        { ...headers, "content-type": "application/json" },
        AbortSignal.timeout(budget),
      );
      status = reply.status;
      text = reply.body;
    } catch (error) {
      return classifyNetworkError(error, budget, budget < this.#options.attemptTimeoutMs);
    }
    if (status === 200) return { kind: "ok", body: text };
    return classifyReply(status, text);
  }

  /** etcd closes plain-http connections to a TLS port without a word: say what is likely wrong. */
  #schemeHint(): string {
    const { tls, endpoints } = this.#options;
    return tls !== undefined && endpoints.some((e) => e.startsWith("http:"))
      ? " (TLS files are configured but an endpoint is http://; write https:// for members that serve TLS)"
      : "";
  }

  /** Names the member in a reason when there is more than one. */
  #at(endpoint: string, reason: string): string {
    return this.#options.endpoints.length > 1 ? `${endpoint}: ${reason}` : reason;
  }

  /** `action` reads on with "etcd": "read pool p from", "reach". */
  #fail(action: string, reason: string): StoreUnavailableError {
    const server = this.#options.endpoints.join(", ");
    return new StoreUnavailableError(`Cannot ${action} etcd at ${server}: ${reason}`, { facts: { server } });
  }

  #refused(action: string, reason: string): StoreRefusedError {
    const server = this.#options.endpoints.join(", ");
    return new StoreRefusedError(`Cannot ${action} etcd at ${server}: ${reason}`, { facts: { server } });
  }
}

/**
 * An endpoint without the user:password@ it may carry. etcd authenticates with etcd_username and
 * etcd_password, never with URL credentials, so they are dropped before any request is built or
 * any message names the member.
 */
function withoutUserinfo(endpoint: string): string {
  if (!endpoint.includes("@") || !URL.canParse(endpoint)) return endpoint;
  const url = new URL(endpoint);
  if (url.username === "" && url.password === "") return endpoint;
  url.username = "";
  url.password = "";
  return url.href;
}

function classifyReply(status: number, text: string): Outcome {
  let error: GatewayError = {};
  try {
    error = JSON.parse(text) as GatewayError;
  } catch {
    // Not a gateway error body (a proxy, or Go's TLS server answering plain http).
  }
  const message = (error.error ?? error.message ?? text).trim() || `HTTP ${status}`;
  if (message.includes("HTTP request to an HTTPS server"))
    return { kind: "fatal", reason: `${message} (this endpoint serves TLS: write it as https://)` };
  if (message.includes("CommonName of client sending a request against gateway"))
    return {
      kind: "fatal",
      reason: `${message} (etcd refuses a client certificate with a Common Name once auth is enabled; use a certificate without one and authenticate with etcd_username/etcd_password)`,
    };
  if (message.includes("too many operations in txn request"))
    return {
      kind: "fatal",
      reason: `${message} (one change touches more keys than the members' --max-txn-ops allows, 128 by default)`,
    };
  if (error.code === GRPC.unauthenticated || message.includes("invalid auth token"))
    return { kind: "reauth", reason: message };
  if (message.includes("user name is empty"))
    return {
      kind: "fatal",
      reason: `${message} (etcd has auth enabled: set etcd_username and etcd_password)`,
    };
  if (error.code === GRPC.permissionDenied)
    return { kind: "fatal", reason: `${message} (the etcd user needs read-write access to the key prefix)` };
  const code = error.code;
  const transient =
    code === GRPC.unavailable ||
    code === GRPC.deadlineExceeded ||
    code === GRPC.resourceExhausted ||
    (code === undefined && status >= 500) ||
    status === 503 ||
    status === 504;
  return { kind: transient ? "retry" : "fatal", reason: message };
}

function classifyNetworkError(error: unknown, budget: number, truncated: boolean): Outcome {
  if (isTimeout(error)) return { kind: "retry", reason: `no answer within ${budget} ms`, truncated };
  const reason = networkErrorReason(error);
  // Certificates refused either way are configuration problems: retrying will not help. (A
  // connection reset during a handshake is not among them: the member may just have died.)
  if (isTlsRefusal(reason))
    return {
      kind: "fatal",
      reason: `TLS: ${reason} (check etcd_ca_cert_file, etcd_cert_file and etcd_key_file)`,
    };
  return { kind: "retry", reason };
}

/** Keys per page of a listing (a pool entry is ~100 bytes). */
const LIST_PAGE = 1000;

/**
 * Every key under `prefix`, in pages, all at the revision of the first page (one consistent
 * snapshot however many pages it takes). `range` sends one range request.
 */
export async function listUnder(
  range: (request: RangeRequest) => Promise<RangeResponse>,
  prefix: string,
): Promise<{ kvs: KeyValue[]; revision: string | undefined }> {
  const all: KeyValue[] = [];
  const end = prefixEnd(prefix);
  let from = encode(prefix);
  let revision: string | undefined;
  for (;;) {
    const reply = await range({
      key: from,
      range_end: end,
      limit: LIST_PAGE,
      ...(revision ? { revision } : {}),
    });
    revision ??= reply.header?.revision;
    const kvs = reply.kvs ?? [];
    all.push(...kvs);
    if (reply.more !== true || kvs.length === 0) return { kvs: all, revision };
    // Continue just after the last key: append a zero byte.
    from = Buffer.concat([Buffer.from(kvs.at(-1)!.key, "base64"), Buffer.from([0])]).toString("base64");
  }
}
