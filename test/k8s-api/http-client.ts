// A minimal HTTP(S) client on node:http / node:https for talking to the double from tests and the
// harness: plain requests (with a CA for the test PKI) and streaming watch responses.
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export interface HttpResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  // biome-ignore lint/suspicious/noExplicitAny: test convenience, like response.json()
  json(): any;
}

export interface RequestInit {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | object;
  /** PEM of the CA that signed the server certificate. */
  readonly ca?: string;
  readonly timeoutMs?: number;
}

function open(url: string, init: RequestInit): Promise<IncomingMessage> {
  const u = new URL(url);
  const body =
    init.body === undefined
      ? undefined
      : typeof init.body === "string"
        ? init.body
        : JSON.stringify(init.body);
  const headers: Record<string, string> = { ...init.headers };
  if (body !== undefined) {
    headers["Content-Type"] ??= "application/json";
    headers["Content-Length"] = String(Buffer.byteLength(body));
  }
  const options = { method: init.method ?? "GET", headers, ...(init.ca ? { ca: init.ca } : {}) };
  return new Promise((resolve, reject) => {
    const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(u, options, resolve);
    req.on("error", reject);
    if (init.timeoutMs)
      req.setTimeout(init.timeoutMs, () => req.destroy(new Error(`timeout after ${init.timeoutMs} ms`)));
    req.end(body);
  });
}

export async function request(url: string, init: RequestInit = {}): Promise<HttpResult> {
  const res = await open(url, init);
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks).toString("utf8");
  return { status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) };
}

export interface WatchEvent {
  readonly type: string;
  // biome-ignore lint/suspicious/noExplicitAny: decoded JSON
  readonly object: any;
}

export interface WatchStream {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The next event, or undefined when the stream ended or `timeoutMs` passed first. */
  next(timeoutMs?: number): Promise<WatchEvent | undefined>;
  /** Events until the stream ends (or `timeoutMs`). */
  rest(timeoutMs?: number): Promise<WatchEvent[]>;
  readonly ended: boolean;
  close(): void;
}

/** Opens a watch (the URL should carry watch=1) and decodes its newline-delimited JSON events. */
export async function watch(url: string, init: RequestInit = {}): Promise<WatchStream> {
  const res = await open(url, init);
  const queue: WatchEvent[] = [];
  const waiters: (() => void)[] = [];
  let buffer = "";
  let ended = false;
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  res.setEncoding("utf8");
  res.on("data", (chunk: string) => {
    buffer += chunk;
    let nl = buffer.indexOf("\n");
    while (nl >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim() !== "") queue.push(JSON.parse(line) as WatchEvent);
      nl = buffer.indexOf("\n");
    }
    wake();
  });
  const finish = () => {
    ended = true;
    wake();
  };
  res.on("end", finish);
  res.on("close", finish);
  res.on("error", finish);
  const next = async (timeoutMs = 2_000): Promise<WatchEvent | undefined> => {
    const deadline = Date.now() + timeoutMs;
    while (queue.length === 0 && !ended && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, deadline - Date.now());
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return queue.shift();
  };
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    next,
    async rest(timeoutMs = 2_000) {
      const out: WatchEvent[] = [];
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const e = await next(Math.max(0, deadline - Date.now()));
        if (!e) return out;
        out.push(e);
      }
    },
    get ended() {
      return ended && queue.length === 0;
    },
    close() {
      res.destroy();
    },
  };
}
