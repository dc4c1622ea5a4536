// Builds the shipped executable: one self-contained Bun binary (no Node.js needed on nodes).
// Bun was chosen by measurement: its compiled binary starts in ~13 ms, bare Node 24 in ~27 ms;
// precompiled bytecode halves our own start-up again (VERSION p50 20 → 11 ms), and code splitting
// keeps what a plugin call handed to the node agent evaluates small (~2 ms less CPU per call than
// one bundle of everything). A plugin must not pick up .env or bunfig.toml from the runtime's
// working directory, hence no autoload (docs/benchmarks.md). `--if-stale` skips the build when
// the binary is newer than every source.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync, symlinkSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "bin", "thereabouts");
const alias = join(root, "bin", "whereabouts");
const multus = join(root, "bin", "multus");
const bun = join(root, "node_modules", "@oven", "bun-linux-x64", "bin", "bun");

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts"))
      newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

if (process.argv.includes("--if-stale") && existsSync(out)) {
  const built = statSync(out).mtimeMs;
  if (built > newestSource(join(root, "src")) && built > statSync(join(root, "package.json")).mtimeMs)
    process.exit(0);
}

const result = spawnSync(
  bun,
  [
    "build",
    "--compile",
    "--minify",
    "--bytecode",
    "--format=esm",
    "--splitting",
    "--no-compile-autoload-dotenv",
    "--no-compile-autoload-bunfig",
    join(root, "src", "main.ts"),
    "--outfile",
    out,
  ],
  { stdio: ["ignore", "ignore", "inherit"] },
);
if (result.status !== 0) {
  console.error(`build: bun build failed (${result.error?.message ?? `exit ${result.status}`})`);
  process.exit(1);
}
// The same executable under the names it answers to: Whereabouts' IPAM type, Multus' meta-plugin.
for (const link of [alias, multus]) {
  if (existsSync(link)) unlinkSync(link);
  symlinkSync("thereabouts", link);
}
