// The plugin side of the agent protocol: one POST over the unix socket, then relay the answer.
// Under Bun (the shipped binary) it is written on a raw Bun socket: ~0.6 ms of start-up, where
// fetch costs ~1.5 ms and node:http ~5 ms. Under Node (tests that run the sources) node:http is
// loaded only when called. The agent always answers with content-length and closes (HTTP/1.1
// "Connection: close"), so the body is everything after the head.
import {
  type AgentAnswer,
  type AgentCall,
  type AgentDeclined,
  CNI_PATH,
  HEALTH_PATH,
  parseAnswer,
} from "./protocol.ts";

/** How long the plugin waits for the agent before doing the work itself (the agent answers within 65 s). */
export const AGENT_TIMEOUT_MS = 70_000;

/** The agent's answer to a caller its peer check does not admit. */
const FORBIDDEN = 403;

/** The agent's answer; throws when there is none (no agent, refused, died mid-call, garbage). */
export async function callAgent(
  socket: string,
  call: AgentCall,
  timeoutMs = AGENT_TIMEOUT_MS,
  path = CNI_PATH,
): Promise<AgentAnswer | AgentDeclined> {
  const body = Buffer.from(JSON.stringify(call), "utf8");
  const { status, text } = await httpOverSocket(socket, "POST", path, body, timeoutMs);
  if (status === FORBIDDEN) throw new Error("the agent does not serve this user (HTTP 403)");
  const answer = status === 200 ? parseAnswer(text) : undefined;
  if (answer === undefined) throw new Error(`unexpected answer (HTTP ${status})`);
  return answer;
}

/** What the agent's health check on the socket says within a second. */
export async function agentHealth(socket: string): Promise<"ok" | "forbidden" | "no answer"> {
  try {
    const { status } = await httpOverSocket(socket, "GET", HEALTH_PATH, undefined, 1000);
    return status === 200 ? "ok" : status === FORBIDDEN ? "forbidden" : "no answer";
  } catch {
    return "no answer";
  }
}

/** One HTTP request over the socket: where to, what, and how long to wait. */
interface SocketRequest {
  readonly socket: string;
  readonly method: string;
  readonly path: string;
  readonly body: Buffer | undefined;
  readonly timeoutMs: number;
}

function httpOverSocket(
  socket: string,
  method: string,
  path: string,
  body: Buffer | undefined,
  timeoutMs: number,
): Promise<{ status: number; text: string }> {
  const bun = (globalThis as { Bun?: BunSockets }).Bun;
  if (bun === undefined) return withNodeHttp({ socket, method, path, body, timeoutMs });
  return exchange(bun, socket, requestBytes(method, path, body), timeoutMs).then(parseResponse);
}

/** The whole request as the plugin sends it (the agent's framing accepts exactly this). */
export function requestBytes(method: string, path: string, body: Buffer | undefined): Buffer {
  const length = body?.length ?? 0;
  const head = `${method} ${path} HTTP/1.1\r\nHost: agent\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), body ?? Buffer.alloc(0)]);
}

/** Status and body of a complete HTTP/1.1 response with a plain (not chunked) body. */
export function parseResponse(raw: Buffer): { status: number; text: string } {
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0) throw new Error("the agent closed the connection before answering");
  // String operations, not regular expressions: compiling one costs start-up in the binary.
  const head = raw.subarray(0, end).toString("latin1").toLowerCase();
  const status = head.startsWith("http/1.") ? Number(head.slice(9, 12)) : Number.NaN;
  if (!Number.isInteger(status)) throw new Error("the agent answered something other than HTTP");
  if (head.includes("\r\ntransfer-encoding: chunked"))
    throw new Error("the agent answered with a chunked body");
  return { status, text: raw.subarray(end + 4).toString("utf8") };
}

/** The subset of Bun's socket API used here (Bun's own types are not a dependency). */
interface BunSocket {
  write(data: Uint8Array): number;
  end(): void;
}
interface BunSockets {
  connect(options: {
    unix: string;
    socket: {
      open(s: BunSocket): void;
      drain(s: BunSocket): void;
      data(s: BunSocket, data: Uint8Array): void;
      close(s: BunSocket): void;
      error(s: BunSocket, error: Error): void;
      connectError?(s: BunSocket, error: Error): void;
    };
  }): Promise<BunSocket>;
}

/** Writes the request, reads until the agent closes. */
function exchange(bun: BunSockets, socket: string, payload: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let written = 0;
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error === undefined) resolve(Buffer.concat(chunks));
      else reject(error);
    };
    let open: BunSocket | undefined;
    const timer = setTimeout(() => {
      finish(new Error(`no answer within ${timeoutMs} ms`));
      open?.end();
    }, timeoutMs);
    const pump = (s: BunSocket) => {
      while (written < payload.length) {
        const n = s.write(payload.subarray(written));
        if (n <= 0) return; // full: drain() calls again
        written += n;
      }
    };
    bun
      .connect({
        unix: socket,
        socket: {
          open: (s) => {
            open = s;
            pump(s);
          },
          drain: pump,
          data: (_s, data) => {
            chunks.push(Buffer.from(data));
          },
          close: () => finish(),
          error: (_s, error) => finish(error),
          connectError: (_s, error) => finish(error),
        },
      })
      .catch((error: unknown) => finish(error instanceof Error ? error : new Error(String(error))));
  });
}

function withNodeHttp({
  socket,
  method,
  path,
  body,
  timeoutMs,
}: SocketRequest): Promise<{ status: number; text: string }> {
  const { request } = process.getBuiltinModule("node:http") as typeof import("node:http");
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        path,
        method,
        headers: { "content-type": "application/json", "content-length": body?.length ?? 0 },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}
