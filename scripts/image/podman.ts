// Podman as the image script and its tests call it: synchronously, output as text, and an error
// naming the subcommand and podman's own message when it fails.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export function podman(args: readonly string[], env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync("podman", args, { encoding: "utf8", env, maxBuffer: 64 * 2 ** 20 });
  if (r.error !== undefined)
    throw new Error(`podman: cannot run it (${r.error.message}); install podman and runc`);
  if (r.status !== 0) throw new Error(`podman ${args[0]} failed (exit ${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** The ID of the local image `ref`, or undefined when there is none. */
export function imageId(ref: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const r = spawnSync("podman", ["image", "exists", ref], { env });
  if (r.error !== undefined) throw new Error(`podman: cannot run it (${r.error.message})`);
  if (r.status !== 0) return undefined;
  return podman(["image", "inspect", "--format", "{{.Id}}", ref], env).trim();
}

/**
 * The environment the tests and benchmarks run containers with: CONTAINERS_CONF as the caller
 * set it, else scripts/podman/containers.conf (what these machines need; docs/install.md).
 * Building and saving the image run nothing, so the image script itself needs no configuration.
 */
export function containerEnv(): NodeJS.ProcessEnv {
  const shipped = join(dirname(fileURLToPath(import.meta.url)), "..", "podman", "containers.conf");
  return { ...process.env, CONTAINERS_CONF: process.env["CONTAINERS_CONF"] ?? shipped };
}
