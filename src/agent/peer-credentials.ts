// Who is calling: the uid and gid of the process at the other end of a unix socket connection, as
// the kernel recorded them at connect() (SO_PEERCRED), and group names resolved the way the system
// does (getgrnam, so NSS groups count). Node has neither; the shipped binary reaches libc through
// bun:ffi. Under plain Node the agent must not run at all: serving without the peer check would
// open the socket's trust boundary to any user who can reach it.
import type { Pointer } from "bun:ffi";

export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

export interface Libc {
  /** The peer of a connected unix socket, or undefined when the kernel does not say. */
  peerOf(fd: number): PeerCredentials | undefined;
  /** The id of a group name, or undefined when there is no such group. */
  groupId(name: string): number | undefined;
}

// Linux generic values (x86_64, arm64): <asm-generic/socket.h>.
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
/** Offset of gr_gid in struct group on LP64 Linux: after the gr_name and gr_passwd pointers. */
const GR_GID_OFFSET = 16;

export async function loadLibc(): Promise<Libc> {
  let ffi: typeof import("bun:ffi");
  try {
    ffi = await import("bun:ffi");
  } catch {
    throw new Error(
      "the node agent runs only as the thereabouts executable: it needs bun:ffi to check who connects to its socket",
    );
  }
  const { dlopen, FFIType, ptr, read } = ffi;
  const libc = dlopen("libc.so.6", {
    getsockopt: {
      args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr],
      returns: FFIType.i32,
    },
    getgrnam: { args: [FFIType.ptr], returns: FFIType.ptr },
  });
  return {
    peerOf(fd) {
      const cred = new Int32Array(3);
      const length = new Uint32Array([cred.byteLength]);
      const rc = libc.symbols.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ptr(cred), ptr(length));
      if (rc !== 0 || length[0] !== cred.byteLength) return undefined;
      return { pid: cred[0]!, uid: cred[1]! >>> 0, gid: cred[2]! >>> 0 };
    },
    groupId(name) {
      const entry = libc.symbols.getgrnam(Buffer.from(`${name}\0`, "utf8")) as Pointer | null;
      return entry === null || entry === 0 ? undefined : read.u32(entry, GR_GID_OFFSET);
    },
  };
}
