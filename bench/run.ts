// `npm run bench`: runs every benchmark and rewrites docs/benchmarks.md with date and machine.
// Ratios within one run are what to compare: these machines are noisy.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchLocal } from "./local.ts";
import { machineLine } from "./machine.ts";

const target = join(import.meta.dirname, "..", "docs", "benchmarks.md");
const workdir = mkdtempSync(join(tmpdir(), "thereabouts-bench-"));
try {
  const sections = [await benchLocal(workdir)];
  const intro = readFileSync(join(import.meta.dirname, "intro.md"), "utf8");
  writeFileSync(target, `${intro}\nMeasured ${machineLine()}.\n\n${sections.join("\n")}`);
  process.stdout.write(`wrote ${target}\n`);
} finally {
  rmSync(workdir, { recursive: true, force: true });
}
