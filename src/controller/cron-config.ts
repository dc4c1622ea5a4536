// Keeps the reconciler's cron expression current: resolves the sources of cron.ts at start, when
// anything changes in the mounted file's directory (kubelet swaps a ConfigMap volume's contents
// by replacing the `..data` symlink, so the directory is watched, not the file) and every poll
// interval (the ConfigMap read through the API, the flat file, a file mounted later). A new valid
// expression replaces the schedule; an invalid one is reported once (log and, through
// `onInvalid`, an Event) and the schedule in force is kept.
import { type FSWatcher, watch } from "node:fs";
import { dirname } from "node:path";
import { loadFlatFile } from "../config/flat-file.ts";
import { readOptionalFile } from "../files/config-file.ts";
import { errorFields } from "./advice.ts";
import {
  CONFIGMAP_NAME,
  type CronSetting,
  type CronSources,
  DEFAULT_CRON,
  parseCron,
  resolveCron,
} from "./cron.ts";
import type { Kube } from "./kube.ts";

export const DEFAULT_CRON_FILE = "/cron-schedule/config";

export interface CronConfigOptions {
  readonly file: string;
  /** Searched after the flat file's default paths. */
  readonly flatFilePaths: readonly string[];
  readonly pollMs: number;
  readonly kube: Kube;
  readonly namespace: string;
  /** The expression in the environment (WHEREABOUTS_RECONCILER_CRON), read once at start-up. */
  readonly envExpression: string | undefined;
}

export interface CronConfigCallbacks {
  onChange(setting: CronSetting, pattern: string): void;
  onInvalid(setting: CronSetting, error: string): void;
  log(level: "info" | "error", message: string, fields?: Record<string, unknown>): void;
}

export class CronConfig {
  readonly #options: CronConfigOptions;
  readonly #callbacks: CronConfigCallbacks;
  #inForce: { setting: CronSetting; pattern: string };
  /** The last expression looked at (valid or not), so one invalid value is reported once. */
  #lastSeen = "";
  #configMap: Record<string, string> | undefined;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> = Promise.resolve();

  constructor(options: CronConfigOptions, callbacks: CronConfigCallbacks) {
    this.#options = options;
    this.#callbacks = callbacks;
    const fallback = parseCron(DEFAULT_CRON);
    this.#inForce = {
      setting: { expression: DEFAULT_CRON, source: "default", where: "built-in default" },
      pattern: fallback.ok ? fallback.pattern : DEFAULT_CRON,
    };
  }

  get inForce(): { setting: CronSetting; pattern: string } {
    return this.#inForce;
  }

  /** Resolves the sources once (the schedule in force is then known), then keeps watching. */
  async start(): Promise<void> {
    this.#watchDirectory(); // first, so that no change after the first read goes unseen
    await this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.#options.pollMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#watcher?.close();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#debounce !== undefined) clearTimeout(this.#debounce);
  }

  refresh(): Promise<void> {
    this.#refreshing = this.#refreshing.then(() => this.#refresh());
    return this.#refreshing;
  }

  #watchDirectory(): void {
    const dir = dirname(this.#options.file);
    try {
      this.#watcher = watch(dir, () => {
        if (this.#debounce !== undefined) clearTimeout(this.#debounce);
        this.#debounce = setTimeout(() => void this.refresh(), 100);
      });
      this.#watcher.on("error", () => {
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch {
      // No such directory (nothing mounted): the poll notices a file mounted later.
    }
  }

  async #sources(): Promise<CronSources> {
    const { file, flatFilePaths, kube, namespace, envExpression } = this.#options;
    let text: string | undefined;
    try {
      text = readOptionalFile(file);
    } catch (error) {
      this.#callbacks.log("error", "cannot read the cron file", { file, error: String(error) });
    }
    if (text === undefined) {
      try {
        const reply = await readReconcilerConfigMap(kube, namespace);
        const body = reply.body as { data?: Record<string, string> } | undefined;
        this.#configMap = reply.status === 200 ? (body?.data ?? {}) : undefined;
      } catch (error) {
        // Keep what was read last: a passing API error must not switch to a lower source.
        this.#callbacks.log("error", "cannot read the reconciler's ConfigMap", errorFields(error));
      }
    }
    let flat: { path: string; expression: string | undefined } | undefined;
    try {
      const found = loadFlatFile(readOptionalFile, undefined, flatFilePaths);
      if (found !== undefined) flat = { path: found.path, expression: found.ipam.reconcilerCronExpression };
    } catch (error) {
      this.#callbacks.log("error", "cannot read the flat file", { error: String(error) });
    }
    return {
      file: { path: file, text },
      configMap: { where: `${namespace}/${CONFIGMAP_NAME}`, data: this.#configMap },
      ...(flat === undefined ? {} : { flatFile: flat }),
      env: envExpression,
    };
  }

  async #refresh(): Promise<void> {
    const setting = resolveCron(await this.#sources());
    const seen = `${setting.source}\0${setting.where}\0${setting.expression}`;
    if (seen === this.#lastSeen) return;
    this.#lastSeen = seen;
    const parsed = parseCron(setting.expression);
    if (!parsed.ok) {
      this.#callbacks.onInvalid(setting, parsed.error);
      return;
    }
    const changed = parsed.pattern !== this.#inForce.pattern;
    this.#inForce = { setting, pattern: parsed.pattern };
    if (changed || setting.source !== "default") this.#callbacks.onChange(setting, parsed.pattern);
  }
}

/** The reconciler's ConfigMap (`whereabouts-config`); 404 and 403 come back as statuses, not errors. */
export function readReconcilerConfigMap(kube: Kube, namespace: string) {
  return kube.send(
    {
      method: "GET",
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${CONFIGMAP_NAME}`,
      expect: [404, 403],
    },
    "read the reconciler's ConfigMap at",
    5_000,
  );
}
