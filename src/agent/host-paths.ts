// What an agent running in a container can see of the host's filesystem (`agent --host-paths`).
// A plugin working alone reads the files and the store its configuration names on the host; the
// agent serving the same call reads them in its own mount namespace. Where the two differ, the
// agent would answer differently from the plugin, and worse: a local store path it cannot see
// would be created afresh inside the container, a second store handing out the same addresses.
// So when the agent is told which host directories it shares (mounted at the same paths), it
// serves only calls whose every path lies inside them and declines the others, which the plugin
// then runs alone. Without --host-paths the agent runs on the host and sees everything.
import { lstatSync, realpathSync } from "node:fs";
import { normalize } from "node:path";
import { readsPod } from "../cni/pod-lookup.ts";
import type { IpamConfig } from "../config/types.ts";
import { loadKubeconfig, type ReadText } from "../kube/kubeconfig.ts";

/** The error a checked read throws for a path the agent does not share: never shown to anyone. */
class NotShared extends Error {}

export class HostPaths {
  readonly prefixes: readonly string[];

  /** `prefixes`: absolute directories mounted in the agent's container at their host paths. */
  constructor(prefixes: readonly string[]) {
    this.prefixes = prefixes.map((p) => (p === "/" ? p : normalize(p).replace(/\/+$/, "")));
  }

  /** Whether `path` lies inside one of the shared directories. */
  sees(path: string): boolean {
    if (!path.startsWith("/") || path.includes("\0")) return false;
    return this.#prefixOf(normalize(path)) !== undefined;
  }

  /**
   * Why reading `path` here might not give the host's answer, or undefined when it gives the
   * same: the path is outside the shared directories, or a component of it below the shared
   * directory (the file itself, or a directory on the way) is a symbolic link that does not
   * resolve here or resolves outside what is shared — its target may exist on the host, and a
   * missing file here would be read as "no file" although the host has one.
   */
  unseenFile(path: string): string | undefined {
    if (!path.startsWith("/") || path.includes("\0")) return `${path} is outside --host-paths`;
    const p = normalize(path);
    const prefix = this.#prefixOf(p);
    if (prefix === undefined) return `${path} is outside --host-paths`;
    let current = prefix === "/" ? "" : prefix;
    for (const part of p
      .slice(current.length)
      .split("/")
      .filter((c) => c !== "")) {
      current = `${current}/${part}`;
      const st = lstatSync(current, { throwIfNoEntry: false });
      // Missing here, with every directory above it shared: missing on the host too.
      if (st === undefined) return undefined;
      if (!st.isSymbolicLink()) continue;
      let target: string;
      try {
        target = realpathSync(current);
      } catch {
        return `${path} goes through a symbolic link this agent cannot follow (${current})`;
      }
      if (!this.sees(target)) return `${path} goes through a symbolic link out of --host-paths (${current})`;
    }
    return undefined;
  }

  /** The shared directory `p` (normalised) lies in, the longest if several. */
  #prefixOf(p: string): string | undefined {
    let best: string | undefined;
    for (const prefix of this.prefixes)
      if (prefix === "/" || p === prefix || p.startsWith(`${prefix}/`))
        if (best === undefined || prefix.length > best.length) best = prefix;
    return best;
  }

  /**
   * Why the configuration names a path this agent does not see as the host does, or undefined
   * when it may serve the call: the log file, and the store's file or the files its connection
   * names. The files a kubeconfig names are checked by `unseenInKubeconfig`.
   */
  unseenIn(config: IpamConfig): string | undefined {
    const paths: string[] = [];
    if (config.logFile !== "") paths.push(config.logFile);
    if (config.datastore === "local") paths.push(config.local.path);
    // The kubeconfig serves the Kubernetes store, and an ADD's pod lookup on any store.
    if (config.datastore === "kubernetes" || readsPod(config)) paths.push(config.kubernetes.kubeconfig);
    if (config.datastore === "etcd") {
      const { caCertFile, certFile, keyFile } = config.etcd;
      for (const file of [caCertFile, certFile, keyFile])
        if (file !== undefined && file !== "") paths.push(file);
    }
    for (const path of paths) {
      const why = this.unseenFile(path);
      if (why !== undefined) return why;
    }
    return undefined;
  }

  /**
   * The same for the files a kubeconfig names (CA, client certificate and key, token file): the
   * kubeconfig is parsed by the store's own reader, each read checked first.
   */
  async unseenInKubeconfig(kubeconfig: string, read: ReadText): Promise<string | undefined> {
    let why: string | undefined;
    const checked: ReadText = (path) => {
      why ??= this.unseenFile(path);
      if (why !== undefined) throw new NotShared(path);
      return read(path);
    };
    try {
      await loadKubeconfig(kubeconfig, checked);
    } catch {
      // A kubeconfig that cannot be used is the store's to report, as for a plugin working alone.
    }
    return why;
  }

  /**
   * A flat-file reader for the configuration's loader that records, instead of reading, a
   * candidate path outside the shared directories: its absence here says nothing about the host.
   */
  checkedReader(
    read: (path: string) => string | undefined,
    unseen: (why: string) => void,
  ): (path: string) => string | undefined {
    return (path) => {
      const why = this.unseenFile(path);
      if (why === undefined) return read(path);
      unseen(why);
      throw new NotShared(path);
    };
  }
}
