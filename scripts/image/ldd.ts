// The shared libraries the executable needs, read from `ldd` at build time: the image ships
// exactly these files, at exactly the paths ldd prints (the paths the dynamic loader opens), so
// that nothing else (no shell, no libc tools) ends up in it.
import { spawnSync } from "node:child_process";

/**
 * The absolute paths in `ldd` output: `name => /path (0x…)` lines and the loader's own
 * `/path (0x…)` line. The vDSO (`linux-vdso.so.1 (0x…)`) has no file: the kernel maps it.
 * A library ldd cannot find makes an image that cannot start, so it is an error.
 */
export function parseLdd(output: string): string[] {
  const paths: string[] = [];
  for (const raw of output.split("\n")) {
    const line = raw.trim();
    if (line === "" || line === "statically linked") continue;
    const arrow = line.split(" => ");
    const target = (arrow.length === 2 ? arrow[1]! : line).replace(/\s*\(0x[0-9a-f]+\)$/, "");
    if (target === "not found") throw new Error(`ldd: shared library ${arrow[0]} not found on this machine`);
    if (target.startsWith("/")) {
      if (!paths.includes(target)) paths.push(target);
    } else if (arrow.length === 2 || !/^[\w.+-]+\.so(\.\d+)*$/.test(target)) {
      throw new Error(`ldd: cannot read the line "${line}"`);
    }
  }
  return paths;
}

/** The shared libraries `executable` loads, loader included, as ldd lists them on this machine. */
export function sharedLibraries(executable: string): string[] {
  const r = spawnSync("ldd", [executable], { encoding: "utf8" });
  if (r.error !== undefined) throw new Error(`ldd: cannot run it (${r.error.message}); install libc-bin`);
  // A static executable needs no library: ldd says so and exits 1.
  if (r.status === 1 && /not a dynamic executable/.test(r.stderr)) return [];
  if (r.status !== 0) throw new Error(`ldd ${executable} failed: ${r.stderr.trim() || r.stdout.trim()}`);
  return parseLdd(r.stdout);
}

/** The shared libraries of all of `executables`, each listed once, in the order first met. */
export function sharedLibrariesOf(executables: readonly string[]): string[] {
  const all: string[] = [];
  for (const executable of executables)
    for (const library of sharedLibraries(executable)) if (!all.includes(library)) all.push(library);
  return all;
}
