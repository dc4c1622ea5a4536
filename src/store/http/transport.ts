// One HTTP POST to an etcd member. Under Bun (the shipped binary) that is `fetch`, which is built in
// and accepts client certificates through its `tls` option; importing node:https there costs
// ~15 ms of start-up. Under Node, whose `fetch` cannot present a client certificate, TLS goes
// through node:https (loaded only then) and plain http through `fetch`.

export interface TlsMaterial {
  /** PEM text; undefined means the system's trusted CAs. */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface HttpReply {
  readonly status: number;
  readonly body: string;
}

export interface Transport {
  /** Rejects on network, TLS and abort errors; any HTTP status resolves. */
  post(
    url: string,
    body: string,
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

  async post(
    url: string,
    body: string,
    headers: Readonly<Record<string, string>>,
    signal: AbortSignal,
  ): Promise<HttpReply> {
    // `tls` is Bun's extension of RequestInit; Node ignores it (and gets no TlsMaterial here).
    const init: RequestInit & { tls?: TlsMaterial } = {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body,
      signal,
    };
    if (this.#tls !== undefined && url.startsWith("https:")) init.tls = this.#tls;
    const response = await fetch(url, init);
    return { status: response.status, body: await response.text() };
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

  async post(
    url: string,
    body: string,
    headers: Readonly<Record<string, string>>,
    signal: AbortSignal,
  ): Promise<HttpReply> {
    if (!url.startsWith("https:")) return this.#plain.post(url, body, headers, signal);
    this.#https ??= import("node:https").then((module) => ({
      module,
      agent: new module.Agent({ keepAlive: true, ...this.#tls }),
    }));
    const { module, agent } = await this.#https;
    return new Promise((resolve, reject) => {
      const request = module.request(
        url,
        { method: "POST", agent, signal, headers: { ...headers, "content-type": "application/json" } },
        (response) => {
          let text = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => {
            text += chunk;
          });
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
          response.on("error", reject);
        },
      );
      request.on("error", reject);
      request.end(body);
    });
  }

  close(): void {
    void this.#https?.then(({ agent }) => agent.destroy());
  }
}
