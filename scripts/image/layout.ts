// What the image is: its name, its labels and its files. The build script and the tests read
// the image's definition from here, so they cannot disagree about it.
import { realpathSync } from "node:fs";
import { programOnPath } from "../../src/agent/netns-programs.ts";
import { NETNS_PROGRAMS } from "../../src/multus/netns.ts";

export interface PackageFacts {
  readonly name: string;
  readonly version: string;
  readonly description: string;
  readonly license: string;
  readonly repository?: string | { url: string };
}

/**
 * Podman keeps an unqualified name under `localhost/`; containerd and Docker read the same name
 * from the archive. A cluster's manifests must say `localhost/thereabouts:<version>`: a bare
 * `thereabouts:<version>` means `docker.io/library/thereabouts` to the kubelet, another image.
 */
export function imageName(version: string): string {
  return `localhost/thereabouts:${version}`;
}

/** The executable at the root under both names: the same file (a hard link), never a symlink. */
export const EXECUTABLE_PATHS = ["/thereabouts", "/whereabouts"] as const;

/**
 * The image's PATH (its only `ENV`): where the programs below are. Set in the image rather than
 * left to the runtime, whose default PATH differs from one runtime to the next.
 */
export const IMAGE_PATH = "/usr/bin";

/** Where the build machine's programs are looked for (sbin too: iproute2 installs `ip` there on some systems). */
const BUILD_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

export interface ImageProgram {
  /** Its path in the image, on IMAGE_PATH. */
  readonly path: string;
  /** The build machine's file (symbolic links resolved): what is copied. */
  readonly source: string;
}

/**
 * The programs of the build machine's packages the image carries: `nsenter` (util-linux) and `ip`
 * (iproute2), which a meta-plugin call served by the agent runs in the pod's namespace
 * (src/multus/netns.ts). An agent without them declines such calls; with them, the agent in the
 * DaemonSet can serve them (thick mode). Missing on the build machine: the build fails, naming the
 * package to install.
 */
export function imagePrograms(): ImageProgram[] {
  return NETNS_PROGRAMS.map(({ name, pkg }) => {
    const found = programOnPath(name, BUILD_PATH);
    if (found === undefined) throw new Error(`image: ${name} not found on ${BUILD_PATH}: install ${pkg}`);
    return { path: `${IMAGE_PATH}/${name}`, source: realpathSync(found) };
  });
}

/**
 * Every regular file in the image: the executable's two names, the programs, then the shared
 * libraries (those of the executable and of the programs).
 */
export function imageFiles(programs: readonly ImageProgram[], libraries: readonly string[]): string[] {
  return [...EXECUTABLE_PATHS, ...programs.map((p) => p.path), ...libraries];
}

export function imageLabels(pkg: PackageFacts): Record<string, string> {
  const labels: Record<string, string> = {
    "org.opencontainers.image.title": pkg.name,
    "org.opencontainers.image.description": pkg.description,
    "org.opencontainers.image.version": pkg.version,
    "org.opencontainers.image.licenses": pkg.license,
  };
  // Only a source the package names: a guessed URL would mislead.
  const source = typeof pkg.repository === "string" ? pkg.repository : pkg.repository?.url;
  if (source !== undefined) labels["org.opencontainers.image.source"] = source;
  return labels;
}
