// The build context of the image: rootfs/ holds exactly the image's files, and the Containerfile
// copies it onto scratch. Symlinks on the build machine (/lib64/ld-linux-x86-64.so.2 points into
// /usr/lib here) are resolved: the image gets the real file at the path the loader opens.
import { copyFileSync, linkSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { EXECUTABLE_PATHS, IMAGE_PATH, type ImageProgram } from "./layout.ts";

const CONTAINERFILE = `FROM scratch
COPY rootfs/ /
ENV PATH=${IMAGE_PATH}
ENTRYPOINT ["/thereabouts"]
`;

export function writeContext(
  dir: string,
  executable: string,
  programs: readonly ImageProgram[],
  libraries: readonly string[],
): void {
  const rootfs = join(dir, "rootfs");
  const [first, ...others] = EXECUTABLE_PATHS;
  mkdirSync(rootfs);
  copyFileSync(executable, join(rootfs, first));
  // A hard link: one file in the layer under both names (a copy would double the image).
  for (const name of others) linkSync(join(rootfs, first), join(rootfs, name));
  const files = [
    ...programs.map((p) => [p.source, p.path] as const),
    ...libraries.map((l) => [l, l] as const),
  ];
  for (const [source, path] of files) {
    const target = join(rootfs, path);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(realpathSync(source), target);
  }
  writeFileSync(join(dir, "Containerfile"), CONTAINERFILE);
}
