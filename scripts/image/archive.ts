// `--save FILE`: an OCI image layout in one tar (oci-layout, index.json, blobs/sha256/…), as
// `podman save --format oci-archive` writes it, plus the `manifest.json` of Docker's archive
// format naming the same blobs. containerd (`ctr image import`) and podman read the OCI layout;
// Docker's classic image store reads only manifest.json, and modern `docker save` writes both.
import { spawnSync } from "node:child_process";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { podman } from "./podman.ts";

interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Record<string, string>;
}

export interface OciIndex {
  readonly manifests: readonly Descriptor[];
}

export interface OciManifest {
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

/** Where a blob lives in an OCI layout. */
export function blobPath(digest: string): string {
  const [algorithm, encoded] = digest.split(":");
  return `blobs/${algorithm}/${encoded}`;
}

/** One member of a tar archive, read with the system tar. */
export function tarMember(archive: string, member: string): Buffer {
  const r = spawnSync("tar", ["-xOf", archive, member], { maxBuffer: 1024 * 2 ** 20 });
  if (r.status !== 0) throw new Error(`tar: cannot read ${member} from ${archive}: ${r.stderr}`);
  return r.stdout;
}

/** Docker's manifest.json for the image `manifest` describes, under `name`. */
export function dockerManifest(manifest: OciManifest, name: string): string {
  return JSON.stringify([
    {
      Config: blobPath(manifest.config.digest),
      RepoTags: [name],
      Layers: manifest.layers.map((l) => blobPath(l.digest)),
    },
  ]);
}

/** Writes the image `name` to `file` (replacing it only once complete). */
export function saveArchive(name: string, file: string): void {
  const partial = join(dirname(file), `.${Date.now()}-${process.pid}.tar.partial`);
  const scratch = mkdtempSync(join(tmpdir(), "thereabouts-save-"));
  try {
    podman(["save", "--quiet", "--format", "oci-archive", "--output", partial, name]);
    const index = JSON.parse(tarMember(partial, "index.json").toString()) as OciIndex;
    if (index.manifests.length !== 1) throw new Error(`podman saved ${index.manifests.length} images, not 1`);
    const manifest = JSON.parse(
      tarMember(partial, blobPath(index.manifests[0]!.digest)).toString(),
    ) as OciManifest;
    writeFileSync(join(scratch, "manifest.json"), dockerManifest(manifest, name));
    const r = spawnSync(
      "tar",
      ["--append", "--owner=0", "--group=0", "--file", partial, "-C", scratch, "manifest.json"],
      {
        encoding: "utf8",
      },
    );
    if (r.status !== 0) throw new Error(`tar: cannot add manifest.json to ${partial}: ${r.stderr}`);
    renameSync(partial, file);
  } finally {
    rmSync(partial, { force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
}
