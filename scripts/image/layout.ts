// What the image is: its name, its labels and its files. The build script and the tests read
// the image's definition from here, so they cannot disagree about it.

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

/** Every regular file in the image: the executable's two names, then the shared libraries. */
export function imageFiles(libraries: readonly string[]): string[] {
  return [...EXECUTABLE_PATHS, ...libraries];
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
