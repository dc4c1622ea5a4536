// The programs a meta-plugin call runs besides its delegates: `nsenter --net=<netns> ip …` in the
// pod's namespace (src/multus/netns.ts). On a node they are always there (util-linux, iproute2); an
// agent in a container has them only if its image carries them. An agent without them would fail
// every meta-plugin call it took (code 999, "nsenter … must be installed") although the plugin on
// the host could do it: so it looks for them once, at start, and declines meta-plugin calls when
// one is missing (the plugin then runs them alone).
import { accessSync, constants, statSync } from "node:fs";
import { join } from "node:path";
import { NETNS_PROGRAMS } from "../multus/netns.ts";

/** Where a program is looked for when PATH is not set (libuv's default, which the agent's exec uses). */
const DEFAULT_PATH = "/usr/bin:/bin";

/**
 * The file `name` resolves to on `path` (a PATH value) as exec finds it: the first directory
 * holding an executable regular file of that name. Relative entries are skipped: what they name
 * depends on the working directory of whoever runs the program.
 */
export function programOnPath(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? DEFAULT_PATH).split(":")) {
    if (!dir.startsWith("/")) continue;
    const file = join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here (or not executable): the next directory
    }
  }
  return undefined;
}

/**
 * Why this agent cannot run meta-plugin calls with `path` as its PATH (the first program missing,
 * with the package that has it), or undefined when it can.
 */
export function missingNetnsProgram(path: string | undefined): string | undefined {
  for (const { name, pkg } of NETNS_PROGRAMS)
    if (programOnPath(name, path) === undefined)
      return `${name} (${pkg}) is not on this agent's PATH: the plugin runs meta-plugin calls itself`;
  return undefined;
}
