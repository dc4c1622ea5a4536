// The CNI verbs wired to configuration, store and IPAM logic. Everything that can be rejected
// (config, CNI_ARGS, pod identity) is checked before the store is opened, so a failed ADD writes
// nothing.
import { readOptionalFile } from "../config/config-file.ts";
import { loadIpamConfig } from "../config/load.ts";
import type { IpamConfig } from "../config/types.ts";
import { CNI_CODES, CniError, ConfigError, describe, StoreUnavailableError } from "../errors/errors.ts";
import { type Family, formatCidr, formatIP, parseCidr } from "../ip/index.ts";
import { addAttachment } from "../ipam/add.ts";
import { checkAttachment } from "../ipam/check.ts";
import { deleteAttachment } from "../ipam/del.ts";
import { collectGarbage } from "../ipam/gc.ts";
import { deadlineIn } from "../ipam/retry.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import { openStore } from "../store/open.ts";
import type { Store } from "../store/store.ts";
import { jsonField, jsonTypeOf } from "./json-field.ts";
import { type Request, validAttachments } from "./request.ts";
import type { IpamResult } from "./result.ts";
import type { Handlers, PluginIO } from "./skel.ts";

export const ADD_TIMEOUT_MS = 60_000;
export const DEL_TIMEOUT_MS = 30_000;

function load(req: Request, io: PluginIO): { config: IpamConfig; log: Logger } {
  const config = loadIpamConfig({ stdin: req.stdin, cniArgs: req.cniArgs, readFile: readOptionalFile });
  const log = createLogger(config.logLevel, { stderr: io.stderr, file: config.logFile });
  return { config, log };
}

/** How a verb gets its store: opened per call here, kept warm by the node agent. */
export type StoreAccess = <T>(config: IpamConfig, work: (store: Store) => Promise<T>) => Promise<T>;

/** A store opened for this call only and closed after it. */
export async function withOwnStore<T>(config: IpamConfig, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(config);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** Range addresses first (gateway only for its own family), then static addresses. */
function resultOf(config: IpamConfig, allocated: readonly { text: string; family: Family }[]): IpamResult {
  const gatewayFor = (family: Family) =>
    config.gateway?.family === family ? { gateway: formatIP(config.gateway) } : {};
  return {
    ips: [
      ...allocated.map((a) => ({ address: a.text, ...gatewayFor(a.family) })),
      ...config.addresses.map((s) => ({
        address: formatCidr(s.address),
        ...(s.gateway === undefined ? {} : { gateway: formatIP(s.gateway) }),
      })),
    ],
    routes: config.routes,
    dns: config.dns,
  };
}

/**
 * Addresses the runtime cached from our ADD (CHECK's prevResult), as canonical IP text; undefined
 * when there is no prevResult, or it lists no `ips`. A prevResult that is not a result (not an
 * object, `ips` not a list of `{address: CIDR}`) is a configuration error: CHECK must not pass on
 * something it cannot compare with.
 */
function prevResultAddresses(config: Readonly<Record<string, unknown>>): string[] | undefined {
  const prev = jsonField(config, "prevResult");
  if (prev === undefined || prev === null) return undefined;
  if (!isObject(prev))
    throw new ConfigError(`invalid prevResult: expected a result object, got ${jsonTypeOf(prev)}`);
  const ips = jsonField(prev, "ips");
  if (ips === undefined || ips === null) return undefined;
  if (!Array.isArray(ips))
    throw new ConfigError(`invalid prevResult.ips: expected an array, got ${jsonTypeOf(ips)}`);
  return ips.map((entry: unknown, i) => {
    const address = isObject(entry) ? jsonField(entry, "address") : undefined;
    const cidr = typeof address === "string" ? parseCidr(address) : undefined;
    if (cidr === undefined)
      throw new ConfigError(
        `invalid prevResult.ips[${i}]: expected an object whose address is a CIDR such as "10.0.0.5/24"`,
      );
    return formatIP({ family: cidr.family, value: cidr.address });
  });
}

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function pluginHandlers(io: PluginIO, withStore: StoreAccess = withOwnStore): Handlers {
  return {
    async add(req) {
      const { config, log } = load(req, io);
      if (config.ranges.length > 0 && config.pod.name === "") {
        throw new CniError(
          CNI_CODES.invalidEnvironment,
          "IPAM client initialization error: no pod name",
          "CNI_ARGS must carry K8S_POD_NAME (and K8S_POD_NAMESPACE): the pod identity keys each allocation",
        );
      }
      const claimant = { containerId: req.containerId, podRef: config.pod.ref, ifName: req.ifName };
      const outcome =
        config.ranges.length === 0
          ? { addresses: [] }
          : await withStore(config, (store) =>
              addAttachment(store, config, claimant, deadlineIn(ADD_TIMEOUT_MS), log),
            );
      return resultOf(
        config,
        outcome.addresses.map((a) => ({
          text: `${formatIP(a.address)}/${a.prefix}`,
          family: a.address.family,
        })),
      );
    },
    async del(req) {
      const { config, log } = load(req, io);
      if (config.ranges.length === 0) return;
      const attachment = { containerId: req.containerId, ifName: req.ifName };
      const released = await withStore(config, (store) =>
        deleteAttachment(
          store,
          config,
          attachment,
          config.pod.name === "" ? undefined : config.pod.ref,
          deadlineIn(DEL_TIMEOUT_MS),
        ),
      );
      for (const e of released) log.debug(`released ${formatIP(e.address)} of ${e.allocation.podRef}`);
    },
    async check(req) {
      const { config } = load(req, io);
      const attachment = { containerId: req.containerId, ifName: req.ifName };
      const cached = prevResultAddresses(req.config);
      await withStore(config, (store) =>
        checkAttachment(store, config, attachment, cached, deadlineIn(DEL_TIMEOUT_MS)),
      );
    },
    async gc(req) {
      const { config, log } = load(req, io);
      const valid = validAttachments(req.config);
      const released = await withStore(config, (store) =>
        collectGarbage(store, config, valid, deadlineIn(DEL_TIMEOUT_MS)),
      );
      log.verbose(`gc released ${released} allocation(s) of network ${config.name}`);
    },
    async status(req) {
      const { config } = load(req, io);
      try {
        await withStore(config, (store) => store.ping({ deadline: deadlineIn(DEL_TIMEOUT_MS) }));
      } catch (error) {
        if (error instanceof CniError && !(error instanceof StoreUnavailableError)) throw error;
        throw new CniError(
          CNI_CODES.unavailable,
          `datastore ${config.datastore} is unreachable`,
          describe(error),
        );
      }
    },
  };
}
