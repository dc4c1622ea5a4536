// The CNI verbs wired to configuration, store and IPAM logic. Everything that can be rejected
// (config, CNI_ARGS, pod identity) is checked before the store is opened, so a failed ADD writes
// nothing.
import { parseCniArgs } from "../config/cni-args.ts";
import { jsonType, lookup } from "../config/decode.ts";
import type { ReadFile } from "../config/flat-file.ts";
import { isJsonObject, type JsonObject } from "../config/json-parse.ts";
import { loadIpamDocument } from "../config/load.ts";
import type { IpamConfig, LogFormat } from "../config/types.ts";
import {
  CNI_CODES,
  CniError,
  ConfigError,
  describe,
  StoreError,
  StoreUnavailableError,
} from "../errors/errors.ts";
import { readOptionalFile } from "../files/config-file.ts";
import { cidrOf, contains, formatIP, ipOf, parseCidr } from "../ip/index.ts";
import { type AddOutcome, addAttachment } from "../ipam/add.ts";
import { checkAttachment } from "../ipam/check.ts";
import { deleteAttachment } from "../ipam/del.ts";
import { collectGarbage } from "../ipam/gc.ts";
import type { RetryObserver } from "../ipam/observer.ts";
import { poolOf } from "../ipam/pool-ref.ts";
import { deadlineIn } from "../ipam/retry.ts";
import { jsonLine } from "../log/line.ts";
import { createLogger, type LogFields, type Logger } from "../log/logger.ts";
import { openStore } from "../store/open.ts";
import type { Store } from "../store/store.ts";
import { nodeNameOf } from "./node-name.ts";
import { lookUpPod, podClaim, readsPod } from "./pod-lookup.ts";
import { type Request, validAttachments } from "./request.ts";
import type { IpamResult } from "./result.ts";
import { failureMessage, type Handlers, type PluginIO } from "./skel.ts";

export const ADD_TIMEOUT_MS = 60_000;
export const DEL_TIMEOUT_MS = 30_000;

/**
 * How a call reads the files its configuration names (the flat file), and a last look at the
 * decoded configuration before any file or store it names is opened. The node agent sets both
 * when it shares only part of the host's filesystem (agent --host-paths); a plugin reads freely.
 * The agent also hears of the races its calls' commits lose (`retries`, for its metrics).
 */
export interface ConfigHooks {
  readonly readFile: ReadFile;
  /**
   * The node's name, when the process serving the call knows it (the node agent); else a
   * node-slice network's call finds it from NODENAME, nodename, /etc/hostname (node-name.ts).
   */
  readonly nodeName?: string;
  readonly admit?: (config: IpamConfig) => void;
  readonly retries?: (config: IpamConfig) => RetryObserver;
}

const OWN_FILES: ConfigHooks = { readFile: readOptionalFile };

/** What every log line of a call names (json): its pod, container and interface, where known. */
function callFields(req: Request, config: IpamConfig): LogFields {
  return {
    pod: config.pod.name === "" ? undefined : config.pod.ref,
    container: req.containerId || undefined,
    interface: req.ifName || undefined,
  };
}

/** How a verb gets its store: opened per call here, kept warm by the node agent. */
export type StoreAccess = <T>(config: IpamConfig, work: (store: Store) => Promise<T>) => Promise<T>;

/** A store opened for this call only and closed after it. */
async function withOwnStore<T>(config: IpamConfig, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(config);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** Range addresses first (gateway only for its own family), then static addresses. */
function resultOf(config: IpamConfig, allocated: AddOutcome["addresses"]): IpamResult {
  const gateway = config.gateway;
  return {
    ips: [
      ...allocated.map((a) => ({
        address: cidrOf(a.address, a.prefix),
        gateway: gateway?.family === a.address.family ? gateway : undefined,
      })),
      ...config.addresses,
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
function prevResultAddresses(config: JsonObject): string[] | undefined {
  const prev = lookup(config, "prevResult");
  if (prev === undefined) return undefined;
  if (!isJsonObject(prev))
    throw new ConfigError(`invalid prevResult: expected a result object, got ${jsonType(prev)}`);
  const ips = lookup(prev, "ips");
  if (ips === undefined) return undefined;
  if (!Array.isArray(ips))
    throw new ConfigError(`invalid prevResult.ips: expected an array, got ${jsonType(ips)}`);
  return ips.map((entry, i) => {
    const address = isJsonObject(entry) ? lookup(entry, "address") : undefined;
    const cidr = typeof address === "string" ? parseCidr(address) : undefined;
    if (cidr === undefined)
      throw new ConfigError(
        `invalid prevResult.ips[${i}]: expected an object whose address is a CIDR such as "10.0.0.5/24"`,
      );
    return formatIP(ipOf(cidr));
  });
}

export function pluginHandlers(
  io: PluginIO,
  withStore: StoreAccess = withOwnStore,
  hooks: ConfigHooks = OWN_FILES,
): Handlers {
  /** How this call logs, once its configuration is decoded (a failure line follows it too). */
  let logging: { format: LogFormat; fields: LogFields } | undefined;
  const load = (req: Request): { config: IpamConfig; log: Logger } => {
    const config = loadIpamDocument(req.config, { cniArgs: req.cniArgs, readFile: hooks.readFile });
    hooks.admit?.(config);
    const fields = callFields(req, config);
    logging = { format: config.logFormat, fields };
    const log = createLogger(
      config.logLevel,
      { stderr: io.stderr, file: config.logFile },
      { format: config.logFormat, fields },
    );
    return { config, log };
  };
  /**
   * A node-slice network's node, found before any store is opened (a call that cannot tell its
   * node writes nothing); undefined for other networks.
   */
  const nodeOf = (config: IpamConfig): string | undefined =>
    config.nodeSlices === undefined || config.ranges.length === 0
      ? undefined
      : nodeNameOf(hooks.nodeName ?? io.env["NODENAME"], config.nodeSlices.configurationPath, hooks.readFile);
  return {
    failureLine(command, error) {
      // Text, and failures before the configuration is known, keep the plain line.
      if (logging?.format !== "json") return undefined;
      return jsonLine(new Date(), "error", failureMessage(command, error), {
        ...logging.fields,
        code: error.code,
      });
    },
    async add(req) {
      const { config, log } = load(req);
      if (config.ranges.length > 0 && config.pod.name === "") {
        throw new CniError(
          CNI_CODES.invalidEnvironment,
          "IPAM client initialization error: no pod name",
          "CNI_ARGS must carry K8S_POD_NAME (and K8S_POD_NAMESPACE): the pod identity keys each allocation",
        );
      }
      const claimant = { containerId: req.containerId, podRef: config.pod.ref, ifName: req.ifName };
      const node = nodeOf(config);
      const deadline = deadlineIn(ADD_TIMEOUT_MS);
      const outcome =
        config.ranges.length === 0
          ? { addresses: [] }
          : await withStore(config, async (store) => {
              // Inside the store's access: a node agent serving the call checks the kubeconfig's
              // files there, before anything reads them. Nothing is written before the claim is known.
              const pod = readsPod(config)
                ? await lookUpPod(config, parseCniArgs(req.cniArgs).podUid, deadline)
                : undefined;
              return addAttachment(
                store,
                config,
                { ...claimant, ...podClaim(config, pod) },
                deadline,
                log,
                hooks.retries?.(config),
                node,
              );
            });
      return resultOf(config, outcome.addresses);
    },
    async del(req) {
      const { config, log } = load(req);
      if (config.ranges.length === 0) return;
      const node = nodeOf(config);
      const attachment = { containerId: req.containerId, ifName: req.ifName };
      const released = await withStore(config, (store) =>
        deleteAttachment(
          store,
          config,
          attachment,
          config.pod.name === "" ? undefined : config.pod.ref,
          deadlineIn(DEL_TIMEOUT_MS),
          hooks.retries?.(config),
          node,
        ),
      );
      for (const e of released) {
        const address = formatIP(e.address);
        const rule = config.ranges.find((r) => contains(r.range, e.address));
        const verb = e.allocation.owner === undefined ? "released" : `parked (for ${e.allocation.owner})`;
        log.debug(`${verb} ${address} of ${e.allocation.podRef}`, {
          address,
          // A slice's pool is not named by the range: the address says which it was.
          pool: rule === undefined || config.nodeSlices !== undefined ? undefined : poolOf(config, rule).name,
        });
      }
    },
    async check(req) {
      const { config } = load(req);
      const node = nodeOf(config);
      const attachment = { containerId: req.containerId, ifName: req.ifName };
      const cached = prevResultAddresses(req.config);
      await withStore(config, (store) =>
        checkAttachment(store, config, attachment, cached, deadlineIn(DEL_TIMEOUT_MS), node),
      );
    },
    async gc(req) {
      const { config, log } = load(req);
      const valid = validAttachments(req.config);
      const released = await withStore(config, (store) =>
        collectGarbage(store, config, valid, deadlineIn(DEL_TIMEOUT_MS)),
      );
      log.verbose(
        released === "shared"
          ? `gc: datastore ${config.datastore} is shared by other hosts, so the cluster controller collects its garbage; nothing done here for network ${config.name}`
          : `gc released ${released} allocation(s) of network ${config.name}`,
      );
    },
    async status(req) {
      const { config } = load(req);
      try {
        await withStore(config, (store) => store.ping({ deadline: deadlineIn(DEL_TIMEOUT_MS) }));
      } catch (error) {
        const known = error instanceof CniError || error instanceof StoreError;
        if (known && !(error instanceof StoreUnavailableError)) throw error;
        throw new CniError(
          CNI_CODES.unavailable,
          `datastore ${config.datastore} is unreachable`,
          describe(error),
        );
      }
    },
  };
}
