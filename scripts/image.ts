// `npm run image [-- --save FILE]`: the OCI image localhost/thereabouts:<version>, built offline
// with podman FROM scratch: the executable under its two names, nsenter and ip (what the agent
// runs for meta-plugin calls), and exactly the shared libraries ldd lists for them (docs/install.md). The image is reproducible: its timestamp is the executable's, so
// rebuilding from the same executable gives the same image ID. A replaced image left without a
// name is removed (a dangling copy per build would fill the disk).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { saveArchive } from "./image/archive.ts";
import { writeContext } from "./image/context.ts";
import {
  EXECUTABLE_PATHS,
  imageLabels,
  imageName,
  imagePrograms,
  type PackageFacts,
} from "./image/layout.ts";
import { sharedLibrariesOf } from "./image/ldd.ts";
import { imageId, podman } from "./image/podman.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const executable = join(root, "bin", "thereabouts");
const USAGE = "usage: npm run image [-- --save FILE]";

function saveTarget(args: string[]): string | undefined {
  if (args.length === 0) return undefined;
  if (args.length === 2 && args[0] === "--save" && args[1] !== "") {
    // npm runs scripts in the package directory; a relative FILE means the caller's directory.
    return resolve(process.env["INIT_CWD"] ?? process.cwd(), args[1]!);
  }
  throw new Error(USAGE);
}

function build(pkg: PackageFacts, name: string): string {
  const context = mkdtempSync(join(tmpdir(), "thereabouts-image-"));
  try {
    const programs = imagePrograms();
    const libraries = sharedLibrariesOf([executable, ...programs.map((p) => p.source)]);
    writeContext(context, executable, programs, libraries);
    const previous = imageId(name);
    const labels = Object.entries(imageLabels(pkg)).flatMap(([k, v]) => ["--label", `${k}=${v}`]);
    podman([
      "build",
      "--quiet",
      "--pull=never",
      "--format=oci",
      "--layers=false",
      `--timestamp=${Math.floor(statSync(executable).mtimeMs / 1000)}`,
      ...labels,
      "--tag",
      name,
      context,
    ]);
    const id = imageId(name)!;
    if (previous !== undefined && previous !== id) removeIfNameless(previous);
    const size = Number(podman(["image", "inspect", "--format", "{{.Size}}", name]));
    const paths = [...EXECUTABLE_PATHS, ...programs.map((p) => p.path)].join(", ");
    return `${name} (${id.slice(0, 12)}, ${megabytes(size)}): ${paths}, ${libraries.length} shared libraries`;
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

function removeIfNameless(id: string): void {
  const names = podman(["image", "inspect", "--format", "{{len .RepoTags}}", id]).trim();
  // A container still using it keeps it: rmi then fails, and that is fine.
  if (names === "0") spawnSync("podman", ["rmi", id], { stdio: "ignore" });
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

try {
  const save = saveTarget(process.argv.slice(2));
  const built = spawnSync(process.execPath, [join(root, "scripts", "build.ts"), "--if-stale"], {
    stdio: "inherit",
  });
  if (built.status !== 0) throw new Error("image: building bin/thereabouts failed");
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as PackageFacts;
  const name = imageName(pkg.version);
  process.stdout.write(`image ${build(pkg, name)}\n`);
  if (save !== undefined) {
    saveArchive(name, save);
    process.stdout.write(`saved ${save} (${megabytes(statSync(save).size)}, OCI archive)\n`);
  }
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(e instanceof Error && e.message === USAGE ? 2 : 1);
}
