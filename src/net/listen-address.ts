// The `host:port` of an HTTP listener given on the command line (controller --listen, agent
// --metrics-listen).

/** `host:port`, `:port` (all IPv4 addresses) or `[v6]:port`; port 0 picks a free one. */
export function parseListen(text: string, flag = "--listen"): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (match === null || !(port >= 0 && port <= 65535))
    throw new Error(`invalid ${flag} "${text}": expected host:port, :port or [v6]:port`);
  return { host: match[1] ?? (match[2] || "0.0.0.0"), port };
}
