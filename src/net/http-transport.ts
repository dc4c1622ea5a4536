// One HTTP request to a datastore's server (an etcd member, the Kubernetes API). Under Bun (the
// shipped binary) that is `fetch`, which is built in and accepts a CA, client certificates and
// `rejectUnauthorized` through its `tls` option; importing node:https there costs ~15 ms of
// start-up. Under Node, whose `fetch` cannot take TLS material, TLS with material goes through
// node:https (loaded only then) and everything else through `fetch`.
import { describe } from "../errors/errors.ts";

export interface TlsMaterial {
  /** PEM text; undefined means the system's trusted CAs. */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  /** false skips verifying the server's certificate (kubeconfig insecure-skip-tls-verify). */
  readonly rejectUnauthorized?: boolean;
}

export interface HttpReply {
  readonly status: number;
  readonly body: string;
  /** A response header by lower-case name. */
  readonly header?: (name: string) => string | undefined;
}

export interface Transport {
  /** Rejects on network, TLS and abort errors; any HTTP status resolves. `body` undefined sends none. */
  request(
    method: string,
    url: string,
    body: string | undefined,
    headers: Readonly<Record<string, string>>,
    signal: AbortSignal,
  ): Promise<HttpReply>;
  close(): void;
}

const isBun = typeof process.versions["bun"] === "string";

export function createTransport(tls: TlsMaterial | undefined): Transport {
  if (isBun || tls === undefined) return new FetchTransport(tls);
  return new NodeHttpsTransport(tls);
}

class FetchTransport implements Transport {
  readonly #tls: TlsMaterial | undefined;

  constructor(tls: TlsMaterial | undefined) {
    this.#tls = tls;
  }

  async request(
    method: string,
    url: string,
    body: string | undefined,
    headers: Readonly<Record<string, string>>,
    signal: AbortSignal,
  ): Promise<HttpReply> {
    // `tls` is Bun's extension of RequestInit; Node ignores it (and gets no TlsMaterial here).
    const init: RequestInit & { tls?: TlsMaterial } = { method, headers: { ...headers }, signal };
    if (body !== undefined) init.body = body;
    if (this.#tls !== undefined && url.startsWith("https:")) init.tls = this.#tls;
    const response = await fetch(url, init);
    const text = await response.text();
    return {
      status: response.status,
      body: text,
      header: (name) => response.headers.get(name) ?? undefined,
    };
  }

  close(): void {}
}

type HttpsModule = typeof import("node:https");

class NodeHttpsTransport implements Transport {
  readonly #tls: TlsMaterial;
  #https: Promise<{ module: HttpsModule; agent: import("node:https").Agent }> | undefined;
  readonly #plain = new FetchTransport(undefined);

  constructor(tls: TlsMaterial) {
    this.#tls = tls;
  }

  async request(
    method: string,
    url: string,
    body: string | undefined,
    headers: Readonly<Record<string, string>>,
    signal: AbortSignal,
  ): Promise<HttpReply> {
    if (!url.startsWith("https:")) return this.#plain.request(method, url, body, headers, signal);
    this.#https ??= import("node:https").then((module) => ({
      module,
      agent: new module.Agent({ keepAlive: true, ...this.#tls }),
    }));
    const { module, agent } = await this.#https;
    // Node sends a DELETE body neither chunked nor with a length unless told its length.
    const sized =
      body === undefined ? headers : { ...headers, "content-length": String(Buffer.byteLength(body)) };
    return new Promise((resolve, reject) => {
      const request = module.request(url, { method, agent, signal, headers: sized }, (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            body: text,
            header: (name) => {
              const value = response.headers[name];
              return Array.isArray(value) ? value.join(", ") : value;
            },
          }),
        );
        response.on("error", reject);
      });
      request.on("error", reject);
      request.end(body);
    });
  }

  close(): void {
    void this.#https?.then(({ agent }) => agent.destroy());
  }
}

/** A request that got no answer in time (the caller's per-attempt budget ran out). */
export function isTimeout(error: unknown): boolean {
  const name = error instanceof Error ? error.name : "";
  return name === "TimeoutError" || name === "AbortError";
}

/** One readable line for a failed request: the error, its cause and code, OpenSSL noise cut. */
export function networkErrorReason(error: unknown): string {
  const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
  const code = String((cause as { code?: unknown }).code ?? (error as { code?: unknown }).code ?? "");
  // A socket error says all there is in its code; the runtimes' texts around it (Bun: "Unable to
  // connect. Is the computer able to access the url?") only add noise to a CNI error message.
  const plain = SOCKET_ERRORS[code];
  if (plain !== undefined) return `${plain} (${code})`;
  return [describe(error), cause === error ? "" : describe(cause), code]
    .map(opensslReason)
    .filter((part, i, all) => part !== "" && part !== "fetch failed" && all.indexOf(part) === i)
    .join(": ");
}

const SOCKET_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed",
  ETIMEDOUT: "connection timed out",
  EPIPE: "connection closed",
};

/** Certificates refused either way are configuration problems: retrying will not help. */
export function isTlsRefusal(reason: string): boolean {
  return /certificate|CERT_|UNABLE_TO_|self.signed|unknown ca|EPROTO|ALTNAME|handshake failure/i.test(reason);
}

/** OpenSSL's "…:error:0A000412:SSL routines:fn:reason:file:line:…" → "reason". */
function opensslReason(text: string): string {
  const match = /SSL routines:[^:]*:([^:]+):/.exec(text);
  return (match?.[1] ?? text).trim();
}
