// Reading files that may legitimately be absent (flat file, cron file).
import { existsSync, readFileSync } from "node:fs";

/**
 * A missing file (or a missing directory on the way) is "not there". The existsSync probe avoids
 * a thrown ENOENT, whose first occurrence costs ~10 ms of start-up in the compiled binary; the
 * catch still covers a file removed in between.
 */
export function readOptionalFile(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw error;
  }
}
