// The agent's HTTP server on a unix socket. Under Bun (the shipped binary) it is Bun.serve, whose
// native HTTP parsing costs a fraction of node:http's compatibility layer per call; under Node
// (tests that run the sources) it is node:http. Both hand the same (method, path, body) to one
// handler.

export interface HttpAnswer {
  readonly status: number;
  readonly type: string;
  readonly body: string;
}

export type HttpHandler = (
  method: string,
  path: string,
  body: () => Promise<string | undefined>,
) => Promise<HttpAnswer>;

export interface Listener {
  close(): Promise<void>;
}

/** A call body larger than this is refused (a network config is a few KiB). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

interface BunServer {
  stop(closeActiveConnections?: boolean): Promise<void> | void;
  pendingRequests: number;
}
interface BunServe {
  serve(options: {
    unix: string;
    maxRequestBodySize: number;
    fetch(request: Request): Promise<Response>;
    error(error: Error): Response;
  }): BunServer;
}

export async function listenOn(socket: string, handler: HttpHandler): Promise<Listener> {
  const bun = (globalThis as { Bun?: BunServe }).Bun;
  return bun === undefined ? listenWithNodeHttp(socket, handler) : listenWithBun(bun, socket, handler);
}

function listenWithBun(bun: BunServe, socket: string, handler: HttpHandler): Listener {
  const server = bun.serve({
    unix: socket,
    maxRequestBodySize: MAX_BODY_BYTES,
    async fetch(request) {
      const answer = await handler(request.method, new URL(request.url).pathname, () => request.text());
      return new Response(answer.body, { status: answer.status, headers: { "content-type": answer.type } });
    },
    error: () => new Response("internal error\n", { status: 500 }),
  });
  return {
    async close() {
      // Stop accepting, let the calls in flight finish.
      await server.stop(false);
      while (server.pendingRequests > 0) await new Promise((r) => setTimeout(r, 10));
    },
  };
}

async function listenWithNodeHttp(socket: string, handler: HttpHandler): Promise<Listener> {
  const { createServer } = process.getBuiltinModule("node:http") as typeof import("node:http");
  const server = createServer((req, res) => {
    const body = () =>
      new Promise<string | undefined>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        req.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_BODY_BYTES) chunks.push(chunk);
        });
        req.on("end", () =>
          resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString("utf8")),
        );
        req.on("error", reject);
      });
    const send = (a: HttpAnswer) => {
      res.writeHead(a.status, { "content-type": a.type, "content-length": Buffer.byteLength(a.body) });
      res.end(a.body);
    };
    handler(req.method ?? "GET", new URL(req.url ?? "/", "http://agent").pathname, body).then(send, () =>
      send({ status: 500, type: "text/plain", body: "internal error\n" }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socket, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return { close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
