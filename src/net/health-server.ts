// The one HTTP listener for probes and Prometheus, shared by the controller (--listen) and the node
// agent (--metrics-listen): GET /healthz and /livez (the process answers), /readyz (the caller's
// readiness rule; always ready when it has none), /metrics (the caller's registry). Nothing else is
// served on it: the agent's CNI calls go over its unix socket only.
import { createServer } from "node:http";

export interface Readiness {
  readonly ready: boolean;
  /** One line for humans (kubectl describe shows it on a failed probe). */
  readonly text: string;
}

export interface HealthServerOptions {
  readonly listen: { readonly host: string; readonly port: number };
  readonly metrics: () => Promise<{ readonly contentType: string; readonly body: string }>;
  readonly readiness?: () => Readiness;
}

export interface HealthServer {
  /** Where it listens (the port picked when 0 was asked for). */
  readonly host: string;
  readonly port: number;
  /** `http://host:port`, IPv6 hosts in brackets. */
  readonly url: string;
  close(): Promise<void>;
}

type Answer = { status: number; type: string; body: string };

const text = (status: number, body: string): Answer => ({ status, type: "text/plain", body: `${body}\n` });

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const answer = async (method: string, path: string): Promise<Answer> => {
    if (method !== "GET" && method !== "HEAD") return text(405, "GET only");
    switch (path) {
      case "/healthz":
      case "/livez":
        return text(200, "ok");
      case "/readyz": {
        const { ready, text: line } = options.readiness?.() ?? { ready: true, text: "ok" };
        return text(ready ? 200 : 503, line);
      }
      case "/metrics": {
        const { contentType, body } = await options.metrics();
        return { status: 200, type: contentType, body };
      }
      default:
        return text(404, "not found");
    }
  };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://probe").pathname;
    answer(req.method ?? "GET", path).then(
      (a) =>
        res.writeHead(a.status, { "content-type": a.type }).end(req.method === "HEAD" ? undefined : a.body),
      // A registry that cannot collect: say so without a stack trace.
      () => res.writeHead(500, { "content-type": "text/plain" }).end("metrics unavailable\n"),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.listen.port, options.listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address();
  const host = typeof bound === "object" && bound !== null ? bound.address : options.listen.host;
  const port = typeof bound === "object" && bound !== null ? bound.port : options.listen.port;
  return {
    host,
    port,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
