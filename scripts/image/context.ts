// The build context of the image: rootfs/ holds exactly the image's files, and the Containerfile
// copies it onto scratch. Symlinks on the build machine (/lib64/ld-linux-x86-64.so.2 points into
// /usr/lib here) are resolved: the image gets the real file at the path the loader opens.
import { copyFileSync, linkSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { EXECUTABLE_PATHS } from "./layout.ts";

const CONTAINERFILE = `FROM scratch
COPY rootfs/ /
ENTRYPOINT ["/thereabouts"]
`;

export function writeContext(dir: string, executable: string, libraries: readonly string[]): void {
  const rootfs = join(dir, "rootfs");
  const [first, ...others] = EXECUTABLE_PATHS;
  mkdirSync(rootfs);
  copyFileSync(executable, join(rootfs, first));
  // A hard link: one file in the layer under both names (a copy would double the image).
  for (const name of others) linkSync(join(rootfs, first), join(rootfs, name));
  for (const library of libraries) {
    const target = join(rootfs, library);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(realpathSync(library), target);
  }
  writeFileSync(join(dir, "Containerfile"), CONTAINERFILE);
}
