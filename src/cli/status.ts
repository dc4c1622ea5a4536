// `thereabouts status --config FILE`: is the datastore of this network reachable, how full is each
// of its pools, and does a node agent serve this node's plugins.
import { agentHealth } from "../agent/client.ts";
import { untrustedSocket } from "../agent/forward.ts";
import { agentSocket } from "../agent/protocol.ts";
import { formatCidr, sizeOf } from "../ip/index.ts";
import { poolOf } from "../ipam/pool-ref.ts";
import { storedEntries } from "../ipam/release.ts";
import { openStore } from "../store/open.ts";
import { loadNetworkConfig } from "../tools/target.ts";

export async function runStatus(options: { config?: string | undefined }): Promise<number> {
  if (options.config === undefined)
    throw new Error("--config FILE is required (a CNI network config or conflist)");
  const config = loadNetworkConfig(options.config);
  const store = await openStore(config);
  try {
    await store.ping();
    process.stdout.write(`network ${config.name}: datastore ${config.datastore} reachable\n`);
    for (const rule of config.ranges) {
      const pool = poolOf(config, rule);
      const used = storedEntries(await store.getPool(pool.name), pool).length;
      const usable = sizeOf(pool.range) - 2n;
      process.stdout.write(
        `  pool ${pool.name} (${formatCidr(pool.range)}): ${used} used of ${usable} usable addresses\n`,
      );
    }
    process.stdout.write(`${await agentLine()}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

async function agentLine(): Promise<string> {
  const socket = agentSocket(process.env);
  if (socket === "") return "node agent: disabled (THEREABOUTS_AGENT_SOCKET is empty)";
  // The plugin's own checks, so this line says what a plugin run by this user would do.
  const trouble = untrustedSocket(socket);
  if (trouble === "absent") return `node agent: none at ${socket} (plugins work alone)`;
  if (trouble !== undefined) return `node agent: not trusted: ${socket} ${trouble} (plugins work alone)`;
  switch (await agentHealth(socket)) {
    case "ok":
      return `node agent: serving at ${socket}`;
    case "forbidden":
      return `node agent: at ${socket}, but it does not serve this user (plugins run by this user work alone)`;
    case "no answer":
      return `node agent: not answering at ${socket} (plugins work alone)`;
  }
}
