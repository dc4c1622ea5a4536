// Bearer-token authentication the way kube-apiserver's authenticator chain behaves, without RBAC:
// the right token is authorised for everything; a wrong bearer token is 401 "Unauthorized"; a
// request with no bearer token is `system:anonymous` (anonymous auth is on by default), which
// RBAC lets read /version, /healthz, /livez and /readyz only, and forbids everything else (403).
import type { IncomingMessage } from "node:http";
import { forbidden, unauthorized } from "./status.ts";

export interface AuthSettings {
  readonly token: string | undefined;
  readonly anonymousAuth: boolean;
}

export interface AuthTarget {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource: string;
  readonly namespace: string;
  readonly name: string;
  /** Set for non-resource requests (discovery, /version). */
  readonly path: string | undefined;
}

const PUBLIC_PATHS = /^\/(version|healthz|livez|readyz)(\/.*)?$/;

export function authenticate(settings: AuthSettings, req: IncomingMessage, target: AuthTarget): void {
  if (settings.token === undefined) return;
  const header = req.headers.authorization ?? "";
  const parts = header.split(" ");
  const bearer =
    parts.length >= 2 && parts[0]!.toLowerCase() === "bearer" ? parts.slice(1).join(" ").trim() : "";
  if (bearer !== "") {
    if (bearer === settings.token) return;
    throw unauthorized();
  }
  if (!settings.anonymousAuth) throw unauthorized();
  if (target.path !== undefined) {
    if (PUBLIC_PATHS.test(target.path)) return;
    throw forbidden(undefined, "", `User "system:anonymous" cannot ${target.verb} path "${target.path}"`);
  }
  const resource = target.subresource ? `${target.resource}/${target.subresource}` : target.resource;
  const scope = target.namespace ? `in the namespace "${target.namespace}"` : "at the cluster scope";
  throw forbidden(
    { group: target.group, resource: target.resource },
    target.name,
    `User "system:anonymous" cannot ${target.verb} resource "${resource}" in API group "${target.group}" ${scope}`,
  );
}
