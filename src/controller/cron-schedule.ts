// The reconciler's sweep schedule: the cron expression in force (CronConfig follows its sources)
// turned into a running schedule that asks for a "cron" sweep, and an invalid expression reported
// as a Warning Event — by the leader only, on the reconciler's ConfigMap when it exists, else on
// the controller's own pod.
import { CONFIGMAP_NAME, type CronSetting, type Schedule, schedule } from "./cron.ts";
import { CronConfig, readReconcilerConfigMap } from "./cron-config.ts";
import type { EventRecorder, InvolvedObject } from "./events.ts";
import type { Log } from "./gc-run.ts";
import type { Kube } from "./kube.ts";

export const INVALID_CRON_REASON = "InvalidCronExpression";

export interface CronScheduleOptions {
  readonly kube: Kube;
  readonly namespace: string;
  readonly file: string;
  readonly flatFilePaths: readonly string[];
  readonly pollMs: number;
  /** WHEREABOUTS_RECONCILER_CRON as the process was started with. */
  readonly envExpression: string | undefined;
  /** The controller's own pod (POD_NAMESPACE/POD_NAME), if known: where Events go without a ConfigMap. */
  readonly pod: { readonly namespace: string; readonly name: string } | undefined;
  readonly events: EventRecorder;
  readonly leading: () => boolean;
  /** Called at every scheduled time. */
  readonly fire: () => void;
  readonly log: Log;
}

export class CronSchedule {
  readonly #options: CronScheduleOptions;
  readonly #config: CronConfig;
  #job: Schedule | undefined;
  #invalid: { setting: CronSetting; error: string } | undefined;

  constructor(options: CronScheduleOptions) {
    this.#options = options;
    this.#config = new CronConfig(
      {
        file: options.file,
        flatFilePaths: options.flatFilePaths,
        pollMs: options.pollMs,
        kube: options.kube,
        namespace: options.namespace,
        envExpression: options.envExpression,
      },
      {
        onChange: (setting, pattern) => {
          this.#invalid = undefined;
          if (this.#job?.pattern === pattern) return;
          this.#job?.stop();
          this.#start(setting, pattern);
        },
        onInvalid: (setting, error) => {
          this.#invalid = { setting, error };
          options.log("error", "invalid cron expression: keeping the schedule in force", {
            expression: setting.expression,
            source: setting.source,
            where: setting.where,
            error,
            keeping: this.#config.inForce.setting.expression,
          });
          void this.reportInvalid();
        },
        log: options.log,
      },
    );
  }

  async start(): Promise<void> {
    await this.#config.start();
    if (this.#job === undefined) this.#start(this.#config.inForce.setting, this.#config.inForce.pattern);
  }

  stop(): void {
    this.#job?.stop();
    this.#config.stop();
  }

  /** Records the Warning for an invalid expression still in view (called again on becoming leader). */
  async reportInvalid(): Promise<void> {
    if (this.#invalid === undefined || !this.#options.leading()) return;
    const { setting, error } = this.#invalid;
    const object = await this.#eventObject();
    if (object !== undefined)
      await this.#options.events.record(
        object,
        "Warning",
        INVALID_CRON_REASON,
        `${error} (from the ${setting.source} ${setting.where}); keeping the schedule "${this.#config.inForce.setting.expression}"`,
      );
  }

  #start(setting: CronSetting, pattern: string): void {
    this.#job = schedule(pattern, this.#options.fire);
    this.#options.log("info", "reconciler schedule", {
      expression: setting.expression,
      source: setting.source,
      where: setting.where,
      next: this.#job.next()?.toISOString(),
    });
  }

  async #eventObject(): Promise<InvolvedObject | undefined> {
    const { kube, namespace, pod } = this.#options;
    try {
      const reply = await readReconcilerConfigMap(kube, namespace);
      const uid = (reply.body as { metadata?: { uid?: string } } | undefined)?.metadata?.uid;
      if (reply.status === 200)
        return {
          apiVersion: "v1",
          kind: "ConfigMap",
          namespace,
          name: CONFIGMAP_NAME,
          ...(uid ? { uid } : {}),
        };
    } catch {
      // The pod is the next best place.
    }
    return pod === undefined ? undefined : { apiVersion: "v1", kind: "Pod", ...pod };
  }
}
