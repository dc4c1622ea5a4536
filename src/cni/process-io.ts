// PluginIO bound to the real process. Output is written synchronously to fds 1 and 2 so it is all
// out before the process exits (an asynchronous process.stdout write to a pipe may still be
// queued when the exit code is set).
import { readSync, writeSync } from "node:fs";
import type { PluginIO } from "./skel.ts";

/** The process's environment, stdin, stdout and stderr. */
export function processIO(): PluginIO {
  return {
    env: process.env,
    readStdin,
    stdout: (text) => writeAll(1, text),
    // Logs are best effort: a closed stderr must not turn a success into a failure.
    stderr: (text) => {
      try {
        writeAll(2, text);
      } catch {
        // ignored
      }
    },
  };
}

/**
 * Reads stdin to its end as UTF-8. Only touched on demand, so VERSION never opens it. Read
 * synchronously from fd 0: setting up process.stdin as a stream costs several milliseconds of
 * start-up, and the config is small.
 */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  const buffer = Buffer.allocUnsafe(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buffer, 0, buffer.length, null);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") {
        Atomics.wait(pause, 0, 0, 2);
        continue;
      }
      if (code === "EOF") break;
      throw error;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buffer.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString("utf8");
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** writeSync until every byte is out; a non-blocking pipe that is full (EAGAIN) is waited on. */
function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text, "utf8");
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset, bytes.length - offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
      Atomics.wait(pause, 0, 0, 5);
    }
  }
}
