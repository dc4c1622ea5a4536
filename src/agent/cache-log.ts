// How the agent's watch caches log: their informer's lines under the cache's name, and once per
// resource a refusal to list it (RBAC without list/watch, e.g. an older Role), saying what to grant:
// until then every call asks the API, as a plugin alone does.
import type { InformerHandlers } from "../controller/informer.ts";
import type { DaemonLog } from "../log/line.ts";

export function cacheLog(
  log: DaemonLog,
  cache: string,
  server: string,
): (what: string, hint: string) => InformerHandlers<unknown>["log"] {
  const forbidden = new Set<string>();
  return (what, hint) => (level, message, fields) => {
    log(level, `${cache}: ${message}`, { server, ...fields });
    if (fields?.["status"] === 403 && !forbidden.has(what)) {
      forbidden.add(what);
      log("error", `${cache}: ${what} cannot be listed (HTTP 403): each call GETs them instead`, {
        server,
        hint,
      });
    }
  };
}
