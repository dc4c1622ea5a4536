// Where the agent's socket lives, prepared so that only root (or the agent's own user) can replace
// it, and claimed without ever removing what is not a dead agent's socket:
// - the directory is created 0700 (0750 with the group allowed to call) whatever the umask, or, when
//   it exists, must pass the rules of socket-trust.ts; it is never changed;
// - a file at the socket path is removed only if it is a socket whose connect() is refused (its
//   agent died); a socket that accepts (a live agent, even a stalled one) or anything else makes
//   the new agent refuse to start;
// - the socket is bound under a private name with umask 077 and hard-linked to its public name:
//   link() fails if the name is taken, so two agents starting together cannot both claim it.
import { chmodSync, chownSync, linkSync, lstatSync, mkdirSync, statSync, unlinkSync } from "node:fs";
import { connect } from "node:net";
import { parentOf, placeProblem } from "./socket-trust.ts";

export interface SocketModes {
  readonly directory: number;
  readonly socket: number;
  /** The group given access to the socket, if any (it owns the directory and the socket). */
  readonly group: number | undefined;
}

export function socketModes(group: number | undefined): SocketModes {
  return group === undefined
    ? { directory: 0o700, socket: 0o600, group }
    : { directory: 0o750, socket: 0o660, group };
}

/** Identifies one socket file, so the agent removes its own and nobody else's. */
export interface SocketId {
  readonly dev: number;
  readonly ino: number;
}

const euid = () => process.geteuid?.() ?? 0;

/** Creates the socket's directory, or checks an existing one. Throws what to fix. */
export function prepareDirectory(socket: string, modes: SocketModes): void {
  const dir = parentOf(socket);
  const existing = statSync(dir, { throwIfNoEntry: false });
  if (existing === undefined) {
    mkdirSync(dir, { recursive: true, mode: modes.directory });
    // Explicitly: mkdir's mode is filtered through the umask (and ignored for a directory a
    // concurrent process made first, which the check below then judges).
    chmodSync(dir, modes.directory);
    if (modes.group !== undefined) chownSync(dir, euid(), modes.group);
  }
  const problem = placeProblem(dir, (path) => statSync(path), euid());
  if (problem !== undefined) {
    throw new Error(
      `the socket ${socket} ${problem}: another user could replace the agent's socket there; ` +
        "use a directory owned by root and writable only by it (chmod go-w), or name a new one with --socket",
    );
  }
}

/** What connect() says about a socket file: someone accepts, nobody does, or something else. */
function probe(socket: string): Promise<"live" | "refused" | "gone" | string> {
  return new Promise((resolve) => {
    const s = connect(socket);
    s.once("connect", () => {
      s.destroy();
      resolve("live");
    });
    s.once("error", (error: NodeJS.ErrnoException) => {
      s.destroy();
      resolve(
        error.code === "ECONNREFUSED"
          ? "refused"
          : error.code === "ENOENT"
            ? "gone"
            : (error.code ?? "error"),
      );
    });
  });
}

/** Removes a dead agent's socket at the path; refuses (throws) for anything else there. */
export async function clearStaleSocket(socket: string): Promise<void> {
  const before = lstatSync(socket, { throwIfNoEntry: false });
  if (before === undefined) return;
  if (!before.isSocket()) {
    throw new Error(
      `${socket} exists and is not a socket; it is left alone: remove it or choose another --socket`,
    );
  }
  const state = await probe(socket);
  if (state === "gone") return;
  if (state === "live") throw new Error(`another agent is serving ${socket} (it accepts connections)`);
  if (state !== "refused") {
    throw new Error(`${socket} could not be probed (${state}); it is left alone: remove it if no agent runs`);
  }
  // Only the file that was probed: another agent may have replaced it meanwhile.
  const now = lstatSync(socket, { throwIfNoEntry: false });
  if (now !== undefined && now.ino === before.ino && now.dev === before.dev) unlinkSync(socket);
}

/**
 * Binds with `listen` under a private name (umask 077 while binding, then the socket's mode and
 * group), then claims the public name with link(). Returns the socket's identity; on failure
 * nothing is left behind but what `stop` leaves.
 */
export function bindSocket(
  socket: string,
  modes: SocketModes,
  listen: (path: string) => { stop(): void },
): SocketId {
  const privateName = `${socket}.${process.pid}`;
  const umask = process.umask(0o077);
  let server: { stop(): void };
  try {
    server = listen(privateName);
  } finally {
    process.umask(umask);
  }
  try {
    chmodSync(privateName, modes.socket);
    if (modes.group !== undefined) chownSync(privateName, euid(), modes.group);
    linkSync(privateName, socket);
  } catch (error) {
    server.stop();
    unlinkQuietly(privateName);
    if ((error as NodeJS.ErrnoException).code === "EEXIST")
      throw new Error(`another agent claimed ${socket} while this one started`);
    throw error;
  } finally {
    unlinkQuietly(privateName);
  }
  const st = lstatSync(socket);
  return { dev: st.dev, ino: st.ino };
}

/** Removes the socket at the path only if it is still this agent's. */
export function removeOwnSocket(socket: string, id: SocketId): void {
  const st = lstatSync(socket, { throwIfNoEntry: false });
  if (st !== undefined && st.ino === id.ino && st.dev === id.dev) unlinkQuietly(socket);
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
