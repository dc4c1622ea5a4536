// The on-disk state that lets DEL work with the API server down and the NAD deleted: the delegate
// scratch cache `<cniDir>/<containerID>` (Multus' JSON: one object per delegate in ADD order, the
// exact configuration in base64 `Bytes`), written before any delegate runs; and the libcni result
// cache `<cniDir>/results/<network>-<containerID>-<ifname>`, the prevResult of DEL and CHECK.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isJsonObject, type JsonObject, parseJson } from "../config/json-parse.ts";
import type { Attachment } from "./attachments.ts";
import { parseDelegate } from "./delegate.ts";

export interface CachedDelegate {
  readonly attachment: Attachment;
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

export function scratchPath(cniDir: string, containerId: string): string {
  return join(cniDir, containerId);
}

export function writeScratch(cniDir: string, containerId: string, attachments: readonly Attachment[]): void {
  mkdirSync(cniDir, { recursive: true, mode: 0o700 });
  const entries = attachments.map((a) => {
    const s = a.selection;
    const entry: Record<string, unknown> = a.delegate.isConfList
      ? {
          ConfList: {
            cniVersion: a.delegate.cniVersion,
            name: a.delegate.confName,
            plugins: a.delegate.config["plugins"],
          },
        }
      : { Conf: a.delegate.config };
    Object.assign(entry, {
      Name: a.displayName,
      ifnameRequest: a.ifName,
      macRequest: s?.mac ?? "",
      infinibandGUIDRequest: s?.infinibandGuid ?? "",
      ipRequest: s?.ips ?? null,
      "default-route": s?.defaultRoute ?? null,
      IsFilterV4Gateway: a.filterV4Gateway,
      IsFilterV6Gateway: a.filterV6Gateway,
      deviceID: s?.deviceId ?? "",
      resourceName: "",
      Bytes: Buffer.from(JSON.stringify(a.delegate.config)).toString("base64"),
    });
    return entry;
  });
  writeAtomic(scratchPath(cniDir, containerId), JSON.stringify(entries));
}

/** The attachments of an earlier ADD, or undefined when there is no (readable) cache. */
export function readScratch(cniDir: string, containerId: string): Attachment[] | undefined {
  let value: ReturnType<typeof parseJson>;
  try {
    value = parseJson(readFileSync(scratchPath(cniDir, containerId), "utf8"));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  try {
    return value.filter(isJsonObject).map((e, idx): Attachment => {
      const delegate = parseDelegate(
        parseJson(Buffer.from(String(e["Bytes"] ?? ""), "base64").toString("utf8")),
      );
      const ips = Array.isArray(e["ipRequest"]) ? (e["ipRequest"] as string[]) : undefined;
      const mac = typeof e["macRequest"] === "string" && e["macRequest"] !== "" ? e["macRequest"] : undefined;
      const guid =
        typeof e["infinibandGUIDRequest"] === "string" && e["infinibandGUIDRequest"] !== ""
          ? e["infinibandGUIDRequest"]
          : undefined;
      const name = typeof e["Name"] === "string" && e["Name"] !== "" ? e["Name"] : delegate.confName;
      const ifName =
        typeof e["ifnameRequest"] === "string" && e["ifnameRequest"] !== "" ? e["ifnameRequest"] : "";
      return {
        delegate,
        displayName: name,
        master: idx === 0,
        ifName,
        selection: {
          name,
          namespace: "",
          ...(ips === undefined ? {} : { ips }),
          ...(mac === undefined ? {} : { mac }),
          ...(guid === undefined ? {} : { infinibandGuid: guid }),
        },
        filterV4Gateway: e["IsFilterV4Gateway"] === true,
        filterV6Gateway: e["IsFilterV6Gateway"] === true,
      };
    });
  } catch {
    return undefined;
  }
}

export function removeScratch(cniDir: string, containerId: string): void {
  rmSync(scratchPath(cniDir, containerId), { force: true });
}

function resultPath(cniDir: string, network: string, containerId: string, ifName: string): string {
  return join(cniDir, "results", `${network}-${containerId}-${ifName}`);
}

export interface ResultCacheEntry {
  readonly network: string;
  readonly containerId: string;
  readonly ifName: string;
  readonly netns: string;
  readonly cniArgs: string;
  readonly config: JsonObject;
  readonly capabilityArgs: JsonObject;
  readonly result: JsonObject;
}

/** libcni's cniCacheV1 record. */
export function writeResultCache(cniDir: string, e: ResultCacheEntry): void {
  mkdirSync(join(cniDir, "results"), { recursive: true, mode: 0o700 });
  writeAtomic(
    resultPath(cniDir, e.network, e.containerId, e.ifName),
    JSON.stringify({
      kind: "cniCacheV1",
      containerId: e.containerId,
      config: Buffer.from(JSON.stringify(e.config)).toString("base64"),
      ifName: e.ifName,
      networkName: e.network,
      netns: e.netns,
      cniArgs: e.cniArgs.split(";").map((p) => p.split("=")),
      capabilityArgs: e.capabilityArgs,
      result: e.result,
    }),
  );
}

export function readResultCache(
  cniDir: string,
  network: string,
  containerId: string,
  ifName: string,
): JsonObject | undefined {
  try {
    const value = parseJson(readFileSync(resultPath(cniDir, network, containerId, ifName), "utf8"));
    const result = isJsonObject(value) ? value["result"] : undefined;
    return isJsonObject(result ?? null) ? (result as JsonObject) : undefined;
  } catch {
    return undefined;
  }
}

export function removeResultCache(
  cniDir: string,
  network: string,
  containerId: string,
  ifName: string,
): void {
  rmSync(resultPath(cniDir, network, containerId, ifName), { force: true });
}

/** Replaces the result of a libcni cache record (default-route handling), the rest kept. */
export function rewriteResultCache(
  cniDir: string,
  network: string,
  containerId: string,
  ifName: string,
  update: (result: JsonObject) => JsonObject,
): void {
  const path = resultPath(cniDir, network, containerId, ifName);
  const record = parseJson(readFileSync(path, "utf8"));
  if (!isJsonObject(record) || !isJsonObject(record["result"] ?? null))
    throw new Error(`${path}: not a libcni cache record`);
  writeAtomic(path, JSON.stringify({ ...record, result: update(record["result"] as JsonObject) }));
}

/** Every attachment the result cache holds (containerId and ifName of each record): what GC keeps. */
export function cachedAttachments(cniDir: string): { containerID: string; ifname: string }[] {
  let names: string[];
  try {
    names = readdirSync(join(cniDir, "results"));
  } catch {
    return [];
  }
  const out: { containerID: string; ifname: string }[] = [];
  for (const name of names) {
    try {
      const record = parseJson(readFileSync(join(cniDir, "results", name), "utf8"));
      if (
        isJsonObject(record) &&
        typeof record["containerId"] === "string" &&
        typeof record["ifName"] === "string"
      )
        out.push({ containerID: record["containerId"], ifname: record["ifName"] });
    } catch {
      // not a cache record
    }
  }
  return out;
}
