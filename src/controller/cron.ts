// The reconciler's schedule: a standard 5-field cron expression in UTC, as Whereabouts' reconciler
// takes it (robfig/cron without seconds: minute hour day-of-month month day-of-week, names and the
// descriptors @yearly @annually @monthly @weekly @daily @midnight @hourly). Parsed and run by
// croner; robfig's `N/step` (from N to the field's end) is rewritten to croner's `N-max/step`.
// Where the expression comes from (as Whereabouts' reconciler reads it, plus issue #5), first that is set wins:
//   1. the mounted file (ConfigMap whereabouts-config key cron-expression, /cron-schedule/config);
//   2. when no file is mounted, the ConfigMap whereabouts-config read through the API: key
//      cron-expression, else reconciler_cron_expression (as OpenShift users write it);
//   3. the flat file's reconciler_cron_expression (the flat file's default search paths, no configuration_path);
//   4. the environment variable WHEREABOUTS_RECONCILER_CRON;
//   5. the default `30 4 * * *` (04:30 UTC daily).
import { Cron } from "croner";

export const DEFAULT_CRON = "30 4 * * *";
export const CONFIGMAP_NAME = "whereabouts-config";
export const CONFIGMAP_KEYS = ["cron-expression", "reconciler_cron_expression"] as const;
export const CRON_ENV = "WHEREABOUTS_RECONCILER_CRON";

export type CronSourceKind = "file" | "configmap" | "flat file" | "environment" | "default";

export interface CronSetting {
  readonly expression: string;
  readonly source: CronSourceKind;
  /** Where exactly (a path, `ns/name key`, the variable name). */
  readonly where: string;
}

/** What each source holds right now (undefined: not set / not there). */
export interface CronSources {
  readonly file?: { readonly path: string; readonly text: string | undefined };
  readonly configMap?: {
    readonly where: string;
    readonly data: Readonly<Record<string, string>> | undefined;
  };
  readonly flatFile?: { readonly path: string; readonly expression: string | undefined };
  readonly env?: string | undefined;
}

/** The first source that sets an expression (trimmed; blank counts as not set). */
export function resolveCron(sources: CronSources): CronSetting {
  const file = sources.file?.text?.trim();
  if (file) return { expression: file, source: "file", where: sources.file!.path };
  if (sources.file?.text === undefined && sources.configMap?.data !== undefined) {
    for (const key of CONFIGMAP_KEYS) {
      const value = sources.configMap.data[key]?.trim();
      if (value)
        return { expression: value, source: "configmap", where: `${sources.configMap.where} key ${key}` };
    }
  }
  const flat = sources.flatFile?.expression?.trim();
  if (flat) return { expression: flat, source: "flat file", where: sources.flatFile!.path };
  const env = sources.env?.trim();
  if (env) return { expression: env, source: "environment", where: CRON_ENV };
  return { expression: DEFAULT_CRON, source: "default", where: "built-in default" };
}

const DESCRIPTORS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

const FIELD_MAX = [59, 23, 31, 12, 6] as const;

export type ParsedCron =
  | { readonly ok: true; readonly pattern: string }
  | { readonly ok: false; readonly error: string };

/** Validates a 5-field expression and returns the pattern to hand to croner. */
export function parseCron(expression: string): ParsedCron {
  const text = expression.trim();
  if (text.startsWith("@")) {
    const pattern = DESCRIPTORS[text.toLowerCase()];
    if (pattern !== undefined) return { ok: true, pattern };
    return {
      ok: false,
      error: `unsupported descriptor "${text}" (use one of ${Object.keys(DESCRIPTORS).join(", ")} or 5 fields)`,
    };
  }
  const fields = text.split(/\s+/);
  if (fields.length !== 5)
    return {
      ok: false,
      error: `expected exactly 5 fields (minute hour day-of-month month day-of-week), found ${fields.length}: "${text}"`,
    };
  const rewritten = fields.map((field, i) =>
    field
      .split(",")
      .map((part) =>
        part.replace(
          /^(\d+)\/(\d+)$/,
          (_, start: string, step: string) => `${start}-${FIELD_MAX[i]}/${step}`,
        ),
      )
      .join(","),
  );
  const pattern = rewritten.join(" ");
  try {
    new Cron(pattern, { timezone: "UTC", paused: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      error: `invalid cron expression "${text}": ${message.replace(/^CronPattern: /, "")}`,
    };
  }
  return { ok: true, pattern };
}

/** The next run after `from` (UTC), for logs and tests. */
export function nextRun(pattern: string, from: Date = new Date()): Date | undefined {
  return new Cron(pattern, { timezone: "UTC", paused: true }).nextRun(from) ?? undefined;
}

/** A running schedule: calls `fire` at every match until stopped. */
export interface Schedule {
  readonly pattern: string;
  next(): Date | undefined;
  stop(): void;
}

export function schedule(pattern: string, fire: () => void): Schedule {
  const job = new Cron(pattern, { timezone: "UTC", protect: true }, () => fire());
  return { pattern, next: () => job.nextRun() ?? undefined, stop: () => job.stop() };
}
