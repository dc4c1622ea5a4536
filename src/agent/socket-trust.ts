// Who may stand behind the agent's socket, one reading for both ends: the plugin checks it before
// handing over a call (its environment and stdin carry credentials), the agent before it creates or
// reuses the socket's directory. Whoever can write to the directory can rename the socket away and
// listen in its place, so the directory must be writable by its owner only, and that owner (and
// the socket's) must be root or the checking process's own user. The same holds one level up for
// every directory above it (whoever can rename the socket's directory can put another in its
// place), except that a sticky directory such as /tmp protects what others own in it. Pure:
// callers pass what lstat and stat returned, or a stat function.

/** The parts of fs.Stats the rules read. */
export interface Owned {
  readonly uid: number;
  readonly mode: number;
  isSocket(): boolean;
  isDirectory(): boolean;
}

/** Users whose socket or directory can be trusted: root, and the process itself (`euid`). */
function trusted(uid: number, euid: number): boolean {
  return uid === 0 || uid === euid;
}

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, "0");

/** Why this directory cannot hold a trusted agent socket, or undefined when it can. */
export function directoryProblem(st: Owned, euid: number): string | undefined {
  if (!st.isDirectory()) return "is not a directory";
  if (!trusted(st.uid, euid)) return `is owned by uid ${st.uid}, not root`;
  if ((st.mode & 0o022) !== 0) return `is writable by group or others (mode ${octal(st.mode)})`;
  return undefined;
}

/** Why a directory above the socket's cannot be trusted, or undefined when it can. */
function ancestorProblem(st: Owned, euid: number): string | undefined {
  if (!st.isDirectory()) return "is not a directory";
  if (!trusted(st.uid, euid)) return `is owned by uid ${st.uid}, not root`;
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0)
    return `is writable by group or others and not sticky (mode ${octal(st.mode)})`;
  return undefined;
}

/**
 * Why the socket's directory `dir` (absolute) or one above it cannot be trusted, naming the
 * directory at fault; undefined when all can be. `stat` follows symbolic links, as connect() does.
 */
export function placeProblem(dir: string, stat: (path: string) => Owned, euid: number): string | undefined {
  const own = directoryProblem(stat(dir), euid);
  if (own !== undefined) return `is in ${dir}, which ${own}`;
  for (let above = dir; above !== "/"; ) {
    above = parentOf(above);
    const problem = ancestorProblem(stat(above), euid);
    if (problem !== undefined) return `is below ${above}, which ${problem}`;
  }
  return undefined;
}

/** Why this file cannot be a trusted agent socket (from lstat: a symlink is refused), or undefined. */
export function socketProblem(st: Owned, euid: number): string | undefined {
  if (!st.isSocket()) return "is not a socket";
  if (!trusted(st.uid, euid)) return `is owned by uid ${st.uid}, not root`;
  return undefined;
}

/** The directory part of an absolute path (node:path is not loaded on the plugin's hand-off path). */
export function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? "/" : path.slice(0, slash);
}

/** Who the agent serves besides root: its own user, and the members of one group if configured. */
export interface PeerPolicy {
  readonly euid: number;
  readonly group: number | undefined;
}

/** Whether a connecting process (its uid and gid from SO_PEERCRED) may call the agent. */
export function admits(peer: { uid: number; gid: number }, policy: PeerPolicy): boolean {
  return trusted(peer.uid, policy.euid) || (policy.group !== undefined && peer.gid === policy.group);
}
