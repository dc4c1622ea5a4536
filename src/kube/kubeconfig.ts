// A kubeconfig file (the plugin's `kubernetes.kubeconfig`, the controller's --kubeconfig): what
// client-go's clientcmd takes from it for one connection — the current context's cluster (server, CA, insecure-skip-tls-verify), user (token,
// tokenFile, client certificate, basic auth) and namespace (as Whereabouts: the context's
// namespace, else kube-system). Read anew by every plugin process, so a rotated token
// (projected ServiceAccount tokens) is picked up at the next invocation. Relative file paths are
// relative to the kubeconfig's directory, as clientcmd resolves them. exec and auth-provider users
// are refused (a plugin process must not run credential helpers). Errors are StoreSettingsErrors
// (StoreRefusedError for a regular file that cannot be read) with the facts a caller's advice
// needs: the plugin and the controller name different ways to fix the same kubeconfig.
import { dirname, isAbsolute, join } from "node:path";
import { type StoreError, type StoreErrorFacts, StoreSettingsError } from "../errors/errors.ts";
import { clip, quote, withoutCredentials } from "../errors/message.ts";
import { fileReason, readConfigFile, settingsFileError } from "../files/config-file.ts";
import type { TlsMaterial } from "../net/http-transport.ts";

export const DEFAULT_NAMESPACE = "kube-system";

export interface KubeConnection {
  /** The kubeconfig the connection came from (for messages). */
  readonly kubeconfig: string;
  /** API server URL without a trailing slash (may carry a path prefix, e.g. behind a proxy). */
  readonly server: string;
  readonly namespace: string;
  /** undefined: plain http, or https verified against the system's CAs. */
  readonly tls: TlsMaterial | undefined;
  /** The Authorization header value, undefined for anonymous requests. */
  readonly authorization: string | undefined;
}

export type ReadText = (path: string) => string;

/**
 * js-yaml, loaded on first use. Measured in the compiled binary (docs/kubernetes-store.md): a
 * static import adds ~2 ms to every start (VERSION, the local and etcd stores too); loaded here,
 * only Kubernetes calls pay, about the same.
 */
let yaml: Promise<typeof import("js-yaml")> | undefined;

/** Only regular files of bounded size (a kubeconfig path may name a FIFO or /dev/zero). */
const readText: ReadText = readConfigFile;

/**
 * The error for a file that could not be read: Go's os text (`open <path>: no such file or
 * directory`), which users search for; its kind by settingsFileError's rule.
 */
function openError(
  path: string,
  error: unknown,
  options: { details?: string; facts?: StoreErrorFacts },
): StoreError {
  return settingsFileError(error, `open ${path}: ${fileReason(error)}`, options);
}

/**
 * A YAML syntax error without the text around it: js-yaml's message quotes the offending lines,
 * and the path may name a file that is not a kubeconfig at all. The reason is kept when it is
 * plain words (not a tag, alias or key taken from the text).
 */
function yamlError(error: unknown): string {
  const { reason, mark } = error as { reason?: unknown; mark?: { line?: unknown; column?: unknown } };
  const plain = typeof reason === "string" && /^[a-z ,()-]+$/i.test(reason) ? `${reason} ` : "";
  const line = typeof mark?.line === "number" ? mark.line + 1 : undefined;
  const column = typeof mark?.column === "number" ? mark.column + 1 : undefined;
  return line === undefined
    ? "not valid YAML"
    : `${plain || "YAML syntax error "}at line ${line}, column ${column ?? 1}`.trim();
}

type Dict = Readonly<Record<string, unknown>>;

function isDict(value: unknown): value is Dict {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A scalar field as text ("" when absent); YAML may have typed it (a number, a boolean). */
function text(dict: Dict, key: string): string {
  const value = dict[key];
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return "";
}

function flag(dict: Dict, key: string): boolean {
  const value = dict[key];
  return value === true || value === "true";
}

/** `clusters`/`users`/`contexts`: a list of `{name, <field>: {...}}`; the entry named `name`. */
function named(config: Dict, list: string, field: string, name: string): Dict | undefined {
  const items = config[list];
  if (!Array.isArray(items)) return undefined;
  for (const item of items) {
    if (isDict(item) && text(item, "name") === name) return isDict(item[field]) ? item[field] : {};
  }
  return undefined;
}

/**
 * Parses the kubeconfig at `path` and reads the files it names. Throws StoreSettingsError with Go's
 * texts where Go has one: `open <path>: no such file or directory`, `k8s config: namespace not
 * present in context` (no current context).
 */
export async function loadKubeconfig(path: string, read: ReadText = readText): Promise<KubeConnection> {
  /** The file as a whole cannot be used: what to do about it is the caller's advice. */
  const unusable: StoreErrorFacts = { settings: path, topic: "settingsFile" };
  let source: string;
  try {
    source = read(path);
  } catch (error) {
    throw openError(path, error, { facts: unusable });
  }
  let doc: unknown = {};
  try {
    if (source.trim() !== "") {
      yaml ??= import("js-yaml");
      const { load, YAML11_SCHEMA } = await yaml;
      doc = load(source, { schema: YAML11_SCHEMA, filename: path });
    }
  } catch (error) {
    throw new StoreSettingsError(`error loading config file "${path}": ${yamlError(error)}`, {
      facts: unusable,
    });
  }
  if (!isDict(doc))
    throw new StoreSettingsError(`error loading config file "${path}": not a kubeconfig mapping`, {
      facts: unusable,
    });

  const contextName = text(doc, "current-context");
  const context = contextName === "" ? undefined : named(doc, "contexts", "context", contextName);
  if (context === undefined) {
    throw new StoreSettingsError("k8s config: namespace not present in context", {
      details:
        contextName === ""
          ? `kubeconfig ${path} has no current-context`
          : `kubeconfig ${path}: current-context "${clip(contextName)}" is not among its contexts`,
    });
  }
  const clusterName = text(context, "cluster");
  const cluster = named(doc, "clusters", "cluster", clusterName);
  if (cluster === undefined)
    throw new StoreSettingsError(
      `invalid configuration: cluster "${clip(clusterName)}" of context "${clip(contextName)}" not found in kubeconfig ${path}`,
    );
  const written = text(cluster, "server").replace(/\/+$/, "");
  if (written === "")
    throw new StoreSettingsError(
      `invalid configuration: no server found for cluster "${clip(clusterName)}" in ${path}`,
    );
  if (!URL.canParse(written) || !/^https?:$/.test(new URL(written).protocol))
    throw new StoreSettingsError(
      `invalid configuration: server ${quote(withoutCredentials(written))} of cluster "${clip(clusterName)}" in ${path} is not an http(s) URL`,
    );
  const { server, basic } = splitCredentials(written);
  const userName = text(context, "user");
  const user = userName === "" ? {} : named(doc, "users", "user", userName);
  if (user === undefined)
    throw new StoreSettingsError(
      `invalid configuration: user "${clip(userName)}" of context "${clip(contextName)}" not found in kubeconfig ${path}`,
    );

  const base = dirname(path);
  const file = (field: string, value: string): string => {
    const resolved = isAbsolute(value) ? value : join(base, value);
    try {
      return read(resolved);
    } catch (error) {
      throw openError(resolved, error, { details: `${field} in kubeconfig ${path}` });
    }
  };
  /** `<field>-data` (base64 PEM) wins over `<field>` (a file), as in clientcmd. */
  const material = (dict: Dict, field: string): string | undefined => {
    const data = text(dict, `${field}-data`);
    if (data !== "") return Buffer.from(data, "base64").toString("utf8");
    const name = text(dict, field);
    return name === "" ? undefined : file(field, name);
  };

  const insecure = flag(cluster, "insecure-skip-tls-verify");
  const ca = material(cluster, "certificate-authority");
  if (insecure && ca !== undefined)
    throw new StoreSettingsError(
      `invalid configuration: specifying a root certificates file with the insecure flag is not allowed (cluster "${clip(clusterName)}" in ${path})`,
    );
  const cert = material(user, "client-certificate");
  const key = material(user, "client-key");
  if ((cert === undefined) !== (key === undefined))
    throw new StoreSettingsError(
      `invalid configuration: user "${clip(userName)}" in ${path} needs both client-certificate and client-key (or their -data forms)`,
    );
  const tls: TlsMaterial = {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    ...(insecure ? { rejectUnauthorized: false } : {}),
  };

  const authorization =
    authorizationOf(user, userName, path, cert !== undefined || basic !== undefined, (f) => {
      const resolved = isAbsolute(f) ? f : join(base, f);
      return read(resolved);
    }) ?? basic;
  return {
    kubeconfig: path,
    server,
    namespace: text(context, "namespace") || DEFAULT_NAMESPACE,
    tls: Object.keys(tls).length === 0 ? undefined : tls,
    authorization,
  };
}

/**
 * A server URL's `user:password@`, as Go's HTTP client uses it (Basic auth when no other
 * Authorization header is set), and the URL without it: every message names the server, and must
 * not show the password.
 */
function splitCredentials(written: string): { server: string; basic: string | undefined } {
  const url = new URL(written);
  if (url.username === "" && url.password === "") return { server: written, basic: undefined };
  const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = "";
  url.password = "";
  return { server: url.href.replace(/\/+$/, ""), basic: `Basic ${Buffer.from(pair).toString("base64")}` };
}

/**
 * The Authorization header of a user: tokenFile (re-read on every start) over token, as client-go
 * does; then basic auth. Static credentials win over exec/auth-provider (as in client-go); a user
 * with only those is refused.
 */
function authorizationOf(
  user: Dict,
  userName: string,
  path: string,
  /** A client certificate or credentials in the server URL: no header needed. */
  otherCredentials: boolean,
  read: ReadText,
): string | undefined {
  const token = text(user, "token");
  const tokenFile = text(user, "tokenFile");
  if (tokenFile !== "") {
    try {
      const fromFile = read(tokenFile).trim();
      if (fromFile !== "") return `Bearer ${fromFile}`;
    } catch (error) {
      if (token === "")
        throw openError(tokenFile, error, {
          details: `tokenFile of user "${clip(userName)}" in ${path}`,
        });
    }
  }
  if (token !== "") return `Bearer ${token}`;
  const username = text(user, "username");
  if (username !== "")
    return `Basic ${Buffer.from(`${username}:${text(user, "password")}`).toString("base64")}`;
  if (otherCredentials) return undefined;
  const exec = user["exec"];
  const provider = user["auth-provider"];
  if (isDict(exec) || isDict(provider)) {
    const how = isDict(exec)
      ? `an exec credential plugin (${clip(text(exec, "command")) || "no command"})`
      : `the auth-provider "${clip(text(provider as Dict, "name"))}"`;
    throw new StoreSettingsError(
      `kubeconfig ${path}: user "${clip(userName)}" authenticates with ${how}, which thereabouts does not run`,
      { facts: { settings: path, topic: "credentialHelper" } },
    );
  }
  return undefined;
}
