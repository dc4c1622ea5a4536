// Running a delegate as libcni runs a plugin: the binary found in binDir, then CNI_PATH; the
// process environment with the CNI_* variables of this attachment; the configuration on stdin; the
// result (or the error object) read from stdout.
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { isJsonObject, type JsonObject, parseJson } from "../config/json-parse.ts";
import { CNI_CODES, CniError } from "../errors/errors.ts";

export interface PluginCall {
  readonly command: "ADD" | "DEL" | "CHECK" | "STATUS" | "GC";
  readonly containerId: string;
  readonly netns: string;
  readonly ifName: string;
  readonly cniArgs: string;
  /** binDir first, then CNI_PATH's entries. */
  readonly path: readonly string[];
}

/** The first executable `type` on the path. @throws CniError code 7 Multus' libcni text. */
export function findPlugin(type: string, path: readonly string[]): string {
  for (const dir of path) {
    if (dir === "") continue;
    const file = join(dir, type);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // next directory
    }
  }
  throw new CniError(CNI_CODES.invalidConfig, `failed to find plugin "${type}" in path [${path.join(" ")}]`);
}

/** Runs one plugin; resolves with its stdout parsed (ADD) or undefined. @throws the plugin's CniError. */
export async function execPlugin(
  type: string,
  config: JsonObject,
  call: PluginCall,
): Promise<JsonObject | undefined> {
  const file = findPlugin(type, call.path);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId,
    CNI_NETNS: call.netns,
    CNI_IFNAME: call.ifName,
    CNI_ARGS: call.cniArgs,
    CNI_PATH: call.path.join(":"),
  };
  // STATUS and GC have no container: libcni leaves these out rather than passing them empty.
  for (const key of ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS"] as const)
    if (env[key] === "") delete env[key];
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(file, [], { env, stdio: ["pipe", "pipe", "pipe"] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (b: Buffer) => out.push(b));
      child.stderr.on("data", (b: Buffer) => err.push(b));
      child.on("error", reject);
      child.on("close", (status) =>
        resolve({
          code: status ?? 1,
          stdout: Buffer.concat(out).toString(),
          stderr: Buffer.concat(err).toString(),
        }),
      );
      child.stdin.on("error", () => {});
      child.stdin.end(JSON.stringify(config));
    },
  );
  let parsed: unknown;
  try {
    parsed = stdout.trim() === "" ? undefined : parseJson(stdout);
  } catch {
    parsed = undefined;
  }
  if (code !== 0) {
    if (
      isJsonObject((parsed ?? null) as JsonObject | null) &&
      typeof (parsed as JsonObject)["msg"] === "string"
    ) {
      const e = parsed as JsonObject;
      const details = typeof e["details"] === "string" && e["details"] !== "" ? `; ${e["details"]}` : "";
      throw new CniError(
        typeof e["code"] === "number" ? e["code"] : CNI_CODES.internal,
        `${e["msg"]}${details}`,
      );
    }
    const firstLine = stderr.trim().split("\n")[0] ?? "";
    throw new CniError(
      CNI_CODES.internal,
      `netplugin failed: exit ${code}${firstLine === "" ? "" : `: ${firstLine}`}`,
    );
  }
  if (call.command !== "ADD") return undefined;
  if (!isJsonObject((parsed ?? null) as JsonObject | null)) {
    throw new CniError(CNI_CODES.decodeFailure, `plugin "${type}" printed no result`);
  }
  return parsed as JsonObject;
}
