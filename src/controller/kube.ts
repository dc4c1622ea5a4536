// The controller's access to the Kubernetes API: the thin JSON client it shares with the
// Kubernetes datastore (KubeClient, src/kube/client.ts) for requests, plus a streaming watch. The
// connection comes from a kubeconfig (--kubeconfig, else $KUBECONFIG) or, inside a pod, from the
// ServiceAccount (KUBERNETES_SERVICE_HOST/PORT and /var/run/secrets/kubernetes.io/serviceaccount).
// Credentials are re-read every minute, so rotated (projected) ServiceAccount tokens keep working
// in a process that runs for months.
import type { IncomingMessage } from "node:http";
import { readConfigFile } from "../files/config-file.ts";
import { KubeClient, type KubeReply, type KubeRequest } from "../kube/client.ts";
import { DEFAULT_NAMESPACE, type KubeConnection, loadKubeconfig } from "../kube/kubeconfig.ts";
import { SERVICE_ACCOUNT_DIR, serviceUrl } from "../kube/service-account.ts";
import { createTransport } from "../net/http-transport.ts";

const CREDENTIAL_REFRESH_MS = 60_000;

export type ReadText = (path: string) => string;
/** Regular files of bounded size only, as every file a configuration names. */
const readText: ReadText = readConfigFile;

/** The connection of a pod's ServiceAccount (client-go's rest.InClusterConfig). */
export function inClusterConnection(
  env: NodeJS.ProcessEnv,
  read: ReadText = readText,
  dir = SERVICE_ACCOUNT_DIR,
): KubeConnection {
  const host = env["KUBERNETES_SERVICE_HOST"] ?? "";
  const port = env["KUBERNETES_SERVICE_PORT"] ?? "";
  if (host === "" || port === "")
    throw new Error(
      "no kubeconfig given (--kubeconfig or KUBECONFIG) and not running in a pod (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set)",
    );
  const token = read(`${dir}/token`).trim();
  let namespace = DEFAULT_NAMESPACE;
  try {
    namespace = read(`${dir}/namespace`).trim() || DEFAULT_NAMESPACE;
  } catch {
    // kube-system, as for a kubeconfig context without a namespace.
  }
  return {
    kubeconfig: `${dir} (in-cluster)`,
    server: serviceUrl(host, port),
    namespace,
    tls: { ca: read(`${dir}/ca.crt`) },
    authorization: token === "" ? undefined : `Bearer ${token}`,
  };
}

/**
 * A connection whose credentials are re-read about every minute (KubeClient reads `authorization`
 * on every request; a stale value starts a re-read in the background and is used meanwhile).
 * Server, namespace and TLS material are those of the first read.
 */
export async function liveConnection(
  load: () => KubeConnection | Promise<KubeConnection>,
  now: () => number = Date.now,
): Promise<KubeConnection> {
  const first = await load();
  let authorization = first.authorization;
  let readAt = now();
  return {
    kubeconfig: first.kubeconfig,
    server: first.server,
    namespace: first.namespace,
    tls: first.tls,
    get authorization() {
      if (now() - readAt >= CREDENTIAL_REFRESH_MS) {
        readAt = now();
        Promise.resolve()
          .then(load)
          .then(
            (fresh) => {
              authorization = fresh.authorization;
            },
            () => {}, // keep the last credentials; the next refresh tries again
          );
      }
      return authorization;
    },
  };
}

/** From a kubeconfig when one is given (the first of a KUBECONFIG list), else in-cluster. */
export function controllerConnection(
  kubeconfig: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<KubeConnection> {
  if (kubeconfig !== undefined) return liveConnection(() => loadKubeconfig(kubeconfig.split(":")[0]!));
  return liveConnection(() => inClusterConnection(env));
}

export interface WatchEvent {
  readonly type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  readonly object: Record<string, unknown>;
}

/** The API as the controller uses it: JSON requests with retries, and watches. */
export class Kube {
  readonly connection: KubeConnection;
  readonly client: KubeClient;
  readonly #timeoutMs: number;

  constructor(connection: KubeConnection, timeoutMs = 10_000) {
    this.connection = connection;
    this.#timeoutMs = timeoutMs;
    this.client = new KubeClient({
      connection,
      transport: createTransport(connection.tls),
      attemptTimeoutMs: Math.min(timeoutMs, 5_000),
    });
  }

  get namespace(): string {
    return this.connection.namespace;
  }

  send(request: KubeRequest, action: string, timeoutMs = this.#timeoutMs): Promise<KubeReply> {
    return this.client.send(request, Date.now() + timeoutMs, action);
  }

  /**
   * Opens a watch (`path` without the watch parameter) and calls `onEvent` for each event until the
   * stream ends (server timeout, connection loss) or `signal` aborts. Resolves when it ends;
   * rejects when the watch cannot be opened (with the status and message of the refusal).
   * `opened` hears when the server has accepted it (before any event).
   */
  async watch(
    path: string,
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
    idleMs = 330_000,
    opened?: () => void,
  ): Promise<void> {
    const url = new URL(`${this.connection.server}${path}${path.includes("?") ? "&" : "?"}watch=1`);
    const headers: Record<string, string> = { accept: "application/json" };
    const authorization = this.connection.authorization;
    if (authorization !== undefined) headers["authorization"] = authorization;
    const https = url.protocol === "https:";
    const module = https ? await import("node:https") : await import("node:http");
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const request = module.request(
        url,
        { method: "GET", headers, signal, ...(https ? (this.connection.tls ?? {}) : {}) },
        (res) => {
          request.setTimeout(0);
          request.removeAllListeners("timeout");
          resolve(res);
        },
      );
      request.on("error", reject);
      request.setTimeout(30_000, () =>
        request.destroy(new Error("no answer to the watch request within 30 s")),
      );
      request.end();
    });
    if (response.statusCode !== 200) {
      let text = "";
      for await (const chunk of response) text += String(chunk);
      let message = text.trim();
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {}
      throw new WatchError(
        response.statusCode ?? 0,
        `watch ${path}: ${message} (HTTP ${response.statusCode})`,
      );
    }
    opened?.();
    response.setEncoding("utf8");
    // A quiet watch is normal (the server ends it after timeoutSeconds, bookmarks come about once a
    // minute); one silent for longer than `idleMs` is a dead connection.
    response.socket.setTimeout(idleMs, () => response.destroy(new Error(`watch silent for ${idleMs} ms`)));
    let buffer = "";
    try {
      for await (const chunk of response) {
        buffer += chunk as string;
        for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (line !== "") onEvent(JSON.parse(line) as WatchEvent);
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    }
  }

  close(): void {
    this.client.close();
  }
}

export class WatchError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "WatchError";
    this.status = status;
  }
}

/** metav1.MicroTime as the apiserver requires it: exactly six fractional digits, UTC. */
export function microTime(date: Date): string {
  return `${date.toISOString().slice(0, 23)}000Z`;
}

/** metav1.Time: whole seconds, UTC. */
export function wholeSeconds(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
