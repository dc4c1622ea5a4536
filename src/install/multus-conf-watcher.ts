// Keeps multus' network configuration in step with what it is made from. In auto mode that is the
// master, which its own installer may rewrite at any time (a new version of the cluster network,
// a changed MTU, a plugin added to its list): multus hands the master's configuration, embedded in
// 00-multus.conf, to every pod's first interface, so a stale copy would set up pods with the old
// one. So every second the master is chosen again and read, and the file regenerated when what it
// would hold changed, or put back when another writer changed or removed it. With
// --multus-conf-file the given file is copied again when it changes (a ConfigMap update).
//
// When the master disappears, the file stays as it is, as Multus' installer keeps it: it waits for
// that master to come back rather than fall to another one (a network plugin replacing its
// configuration non-atomically would otherwise flip every new pod to whatever file sorts next),
// and the runtime keeps calling multus, whose DELs still reach the old master and every
// attachment. What cannot be read or used now keeps the file too, and is logged once, not every
// second. The clock is passed in, so tests move time themselves.

import { basename, join } from "node:path";
import { describe } from "../errors/errors.ts";
import type { Clock } from "../ipam/retry.ts";
import { WATCH_INTERVAL_MS } from "./credential-watcher.ts";
import { type ConfFile, firstMaster, type GeneratedConf, MASTER, parseNetworkConf } from "./multus-conf.ts";
import { pollUntilStopped } from "./poll.ts";
import type { Outcome } from "./replace-file.ts";

/** What the configuration should be now. */
export type Desired =
  /** Install `conf`, made from the file `from`. */
  | { readonly kind: "install"; readonly conf: GeneratedConf; readonly from: string }
  /** Keep what is on disk, for the reason given (a log line). */
  | { readonly kind: "keep"; readonly why: string };

export interface ConfSource {
  /** What the configuration should be now; throws when its source cannot be used now. */
  next(): Desired;
}

/** The directory the master is chosen from, as the watcher reads it. */
export interface ConfDir {
  readonly path: string;
  /** The names of its entries that are not directories (a runtime reads symlinks to files). */
  list(): readonly string[];
  /** A file's text; throws when it cannot be read. */
  read(name: string): string;
}

/**
 * Multus' auto mode: the master is `fixedName` (--multus-master-cni-file-name) or the first
 * configuration in the directory. Once one has been used, its removal keeps the configuration
 * until it is back; while it is there, a configuration that now sorts before it takes over.
 */
export class MasterSource implements ConfSource {
  readonly #dir: ConfDir;
  readonly #fixedName: string | undefined;
  readonly #generate: (master: ConfFile) => GeneratedConf;
  /** The master the configuration on disk was last made from. */
  #used: string | undefined;

  constructor(dir: ConfDir, fixedName: string | undefined, generate: (master: ConfFile) => GeneratedConf) {
    this.#dir = dir;
    this.#fixedName = fixedName;
    this.#generate = generate;
  }

  next(): Desired {
    const names = this.#dir.list();
    const gone = this.#fixedName ?? this.#used;
    if (gone !== undefined && !names.includes(gone))
      return {
        kind: "keep",
        why: `${MASTER} ${join(this.#dir.path, gone)} is not there: the multus configuration is kept until it is`,
      };
    const name = this.#fixedName ?? firstMaster(names);
    if (name === undefined)
      return {
        kind: "keep",
        why: `no CNI configuration (.conf or .conflist) in ${this.#dir.path} yet to make multus' configuration from`,
      };
    const path = join(this.#dir.path, name);
    const conf = this.#generate({ path, text: this.#dir.read(name) });
    this.#used = name;
    return { kind: "install", conf, from: path };
  }
}

/** --multus-conf-file: the file, checked to be a network configuration, under its own name. */
export class GivenSource implements ConfSource {
  readonly #path: string;
  readonly #read: (path: string) => string;

  constructor(path: string, read: (path: string) => string) {
    this.#path = path;
    this.#read = read;
  }

  next(): Desired {
    const text = this.#read(this.#path);
    parseNetworkConf({ path: this.#path, text }, "--multus-conf-file");
    return { kind: "install", conf: { fileName: basename(this.#path), text }, from: this.#path };
  }
}

export interface ConfWatch {
  readonly clock: Clock;
  readonly intervalMs?: number;
  /** CNI_CONF_DIR, for messages. */
  readonly confDir: string;
  readonly source: ConfSource;
  /** Puts the configuration into CNI_CONF_DIR atomically; "unchanged" when it is there already. */
  install(conf: GeneratedConf): Outcome;
  log(line: string): void;
  /** Resolves when the watch is to end (SIGTERM, SIGINT). */
  readonly stopped: Promise<unknown>;
}

/** Runs until `stopped`; `installed` is what is on disk now (undefined: nothing yet). */
export async function watchMultusConf(installed: Desired | undefined, watch: ConfWatch): Promise<void> {
  const interval = watch.intervalMs ?? WATCH_INTERVAL_MS;
  let current = installed?.kind === "install" ? installed : undefined;
  /** The keep or failure line last logged, so a lasting one is logged once. */
  let said: string | undefined = installed?.kind === "keep" ? installed.why : undefined;
  const say = (line: string) => {
    if (line !== said) watch.log(line);
    said = line;
  };
  await pollUntilStopped({ clock: watch.clock, intervalMs: interval, stopped: watch.stopped }, () => {
    let desired: Desired;
    try {
      desired = watch.source.next();
    } catch (error) {
      say(`multus configuration kept: ${describe(error)}`);
      return;
    }
    if (desired.kind === "keep") {
      say(desired.why);
      return;
    }
    const path = join(watch.confDir, desired.conf.fileName);
    let outcome: Outcome;
    try {
      outcome = watch.install(desired.conf);
    } catch (error) {
      say(`${path} not written: ${describe(error)}`);
      return;
    }
    if (outcome === "written") watch.log(`${path} ${changeOf(current, desired)}`);
    else if (said !== undefined) watch.log(`${path} up to date (from ${desired.from})`);
    said = undefined;
    current = desired;
  });
}

/** Why the configuration was written, as the log line says it. */
function changeOf(before: Desired | undefined, after: Desired & { kind: "install" }): string {
  if (before?.kind !== "install") return `written from ${after.from}`;
  if (before.from !== after.from) return `regenerated: the master is now ${after.from}`;
  if (before.conf.fileName !== after.conf.fileName || before.conf.text !== after.conf.text)
    return `regenerated: ${after.from} changed`;
  return "rewritten: the file changed";
}
