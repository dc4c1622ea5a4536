// A real Prometheus (the Debian package's /usr/bin/prometheus) for the metrics tests: its
// configuration and TSDB in a temporary directory, listening on a free port of 127.0.0.1, scraping
// the given targets every second. Queried through its HTTP API. stop() ends the process and
// removes the directory; a process "exit" hook does the same if a test never calls it.
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type TempDir, tempDir } from "./plugin.ts";

export const PROMETHEUS = "/usr/bin/prometheus";

const live = new Set<ChildProcess>();
const dirs = new Set<TempDir>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
  for (const dir of dirs) dir.remove();
});

/** A port nothing listens on right now (the kernel's pick, released at once). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** One sample of an instant vector: its labels and its value (a float, NaN and ±Inf included). */
export interface Sample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface QueryAnswer {
  readonly status: string;
  readonly resultType?: string;
  readonly samples: readonly Sample[];
  readonly error?: string;
}

export interface Prometheus {
  readonly url: string;
  /** An instant query (`/api/v1/query`) at `time` (Unix seconds; default now). */
  query(expr: string, time?: number): Promise<QueryAnswer>;
  /** Polls `expr` until `accept` takes its samples; throws after `timeoutMs`. */
  waitFor(
    what: string,
    expr: string,
    accept: (samples: readonly Sample[]) => boolean,
    timeoutMs?: number,
  ): Promise<readonly Sample[]>;
  /** What Prometheus logged (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/** `jobs`: job name → `host:port` targets. */
export async function startPrometheus(
  jobs: Readonly<Record<string, readonly string[]>>,
): Promise<Prometheus> {
  const dir = tempDir("thereabouts-prometheus-");
  dirs.add(dir);
  const port = await freePort();
  const config = join(dir.path, "prometheus.yml");
  const scrapes = Object.entries(jobs)
    .map(
      ([job, targets]) =>
        `  - job_name: ${JSON.stringify(job)}\n    static_configs:\n      - targets: ${JSON.stringify(targets)}\n`,
    )
    .join("");
  writeFileSync(
    config,
    `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n${scrapes}`,
  );
  const child = spawn(
    PROMETHEUS,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir.path, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  live.add(child);
  let log = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    log += chunk;
  });
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      live.delete(child);
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    dir.remove();
    dirs.delete(dir);
  };
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}): ${log}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (i > 200) {
      await stop();
      throw new Error(`prometheus not ready within 10 s: ${log}`);
    }
    await sleep(50);
  }

  const query = async (expr: string, time?: number): Promise<QueryAnswer> => {
    const body = new URLSearchParams({ query: expr, ...(time === undefined ? {} : { time: String(time) }) });
    const res = await fetch(`${url}/api/v1/query`, { method: "POST", body });
    const answer = (await res.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    const result = answer.data?.resultType === "vector" ? answer.data.result : [];
    return {
      status: answer.status,
      ...(answer.data === undefined ? {} : { resultType: answer.data.resultType }),
      ...(answer.error === undefined ? {} : { error: answer.error }),
      samples: result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) })),
    };
  };
  return {
    url,
    query,
    async waitFor(what, expr, accept, timeoutMs = 15_000) {
      const started = Date.now();
      for (;;) {
        const answer = await query(expr);
        if (answer.status === "success" && accept(answer.samples)) return answer.samples;
        if (Date.now() - started > timeoutMs)
          throw new Error(
            `timed out after ${timeoutMs} ms waiting for ${what} (${expr}: ${JSON.stringify(answer)})`,
          );
        await sleep(200);
      }
    },
    log: () => log,
    stop,
  };
}
